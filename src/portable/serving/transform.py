"""``portable transform``: SageMaker batch transform, on this machine or as a Dask job.

Semantics (CreateTransformJob, reference doc §2.4):

* every regular file under ``--input`` (recursively, in sorted order; dotfiles skipped)
  gives ``<output>/<relative path>.out``, written only if the whole file succeeded;
* ``SplitType=Line``: records are the file's non-blank lines (``None``: the whole file is
  one request);
* ``BatchStrategy=MultiRecord`` packs consecutive records into requests of at most
  ``MaxPayloadInMB`` MiB (``SingleRecord``: one record per request);
* ``AssembleWith=Line`` ends every response with a newline (one is added if missing);
  ``None`` concatenates responses as they are. Output order is input order.

Requests go through :meth:`Handler.handle`, the code the HTTP server runs, so a file
transformed here and the same file POSTed to ``portable serve`` give the same bytes. A bad
record stops the job with its file and line number.

``engine="dask"`` scores the same mini-batches as a Dask bag (``scheduler`` "processes",
"threads" or "synchronous"): each partition loads the model once, scores its batches in
order, and the driver writes the files exactly as the local engine does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import PortableError
from .codecs import CSV, JSON, CodecError

MIB = 1024 * 1024


class TransformError(PortableError):
    """A batch transform could not complete (names the file and line)."""


@dataclass(frozen=True)
class Batch:
    file: int          # index into the job's file list
    index: int         # position within the file
    first_line: int    # 1-based line number of its first record in the file
    body: bytes


def input_files(input_dir) -> list[Path]:
    root = Path(input_dir)
    if not root.is_dir():
        raise TransformError(f"--input {str(root)!r} is not a folder.")
    files = [p for p in sorted(root.rglob("*")) if p.is_file()
             and not any(part.startswith(".") for part in p.relative_to(root).parts)]
    if not files:
        raise TransformError(f"--input {str(root)!r} holds no files.")
    return files


def split_batches(data: bytes, file_index: int, *, split: str, strategy: str,
                  max_payload: int) -> list[Batch]:
    """Mini-batches of one file, each at most ``max_payload`` bytes."""
    if split == "None":
        if len(data) > max_payload:
            raise TransformError(f"file {file_index}: {len(data):,} bytes exceed MaxPayloadInMB "
                                 f"({max_payload:,} bytes) with SplitType None.")
        return [Batch(file_index, 0, 1, data)] if data.strip() else []
    out, cur, size, first = [], [], 0, 1
    for n, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        rec = line + b"\n"
        if len(rec) > max_payload:
            raise TransformError(f"line {n} has {len(rec):,} bytes, more than MaxPayloadInMB "
                                 f"({max_payload:,} bytes).")
        if cur and (strategy == "SingleRecord" or size + len(rec) > max_payload):
            out.append(Batch(file_index, len(out), first, b"".join(cur)))
            cur, size = [], 0
        if not cur:
            first = n
        cur.append(rec)
        size += len(rec)
    if cur:
        out.append(Batch(file_index, len(out), first, b"".join(cur)))
    return out


def score(handler, batch: Batch, content_type: str, accept: str | None, assemble: str):
    """One mini-batch through the handler: ``(body, None)`` or ``(None, error message)``."""
    try:
        body = handler.handle(batch.body, content_type, accept).body
    except CodecError as e:
        return None, e.describe(row_offset=batch.first_line - 1)
    if assemble == "Line" and not body.endswith(b"\n"):
        body += b"\n"
    return body, None


def _score_partition(batches, model_dir, flavor, content_type, accept, assemble):
    """Dask task: one model load, then every batch of the partition, in order."""
    from .handlers import open_model_dir

    handler = open_model_dir(model_dir, flavor)
    results = [(b.file, b.index, *score(handler, b, content_type, accept, assemble))
               for b in batches]
    return [{"load": os.getpid(), "results": results}]


def transform(source, input_dir, output_dir, *, content_type: str = CSV,
              accept: str | None = None, split: str = "Line", strategy: str = "MultiRecord",
              max_payload_mb: int = 6, assemble: str = "Line", engine: str = "local",
              scheduler: str = "processes", partitions: int | None = None) -> dict:
    """Run a batch transform; returns a report (files, records, requests, seconds, loads).

    Examples
    --------
    >>> transform("dist/sagemaker/onnx", "in/", "out/")                       # doctest: +SKIP
    {'files': 1, 'requests': 3, ...}
    """
    import time

    from .sources import prepare

    if split not in ("Line", "None") or strategy not in ("MultiRecord", "SingleRecord") \
            or assemble not in ("Line", "None") or engine not in ("local", "dask"):
        raise TransformError("SplitType is Line or None, BatchStrategy MultiRecord or "
                             "SingleRecord, AssembleWith Line or None, engine local or dask.")
    if not 0 < max_payload_mb <= 100:
        raise TransformError(f"MaxPayloadInMB is 1-100, not {max_payload_mb}.")
    if content_type.split(";")[0].strip() == JSON and split == "Line" and strategy == "MultiRecord":
        raise TransformError("application/json records cannot be packed line by line into one "
                             "request; use application/jsonlines, or --strategy SingleRecord.")
    t0 = time.perf_counter()
    src = prepare(source)
    try:
        report = _run(src, input_dir, output_dir, content_type, accept, split, strategy,
                      max_payload_mb, assemble, engine, scheduler, partitions)
    finally:
        src.cleanup()
    return {**report, "seconds": round(time.perf_counter() - t0, 3)}


def _run(src, input_dir, output_dir, content_type, accept, split, strategy, max_payload_mb,
         assemble, engine, scheduler, partitions) -> dict:
    files = input_files(input_dir)
    batches = []
    for i, f in enumerate(files):
        try:
            batches.extend(split_batches(f.read_bytes(), i, split=split, strategy=strategy,
                                         max_payload=max_payload_mb * MIB))
        except TransformError as e:
            raise TransformError(f"{f}: {e}") from None
    if engine == "local":
        handler = src.open()
        results = [(b.file, b.index, *score(handler, b, content_type, accept, assemble))
                   for b in batches]
        loads = 1
    else:
        results, loads = _dask(batches, src, content_type, accept, assemble, scheduler, partitions)
    written = _write(files, Path(input_dir), Path(output_dir), batches, results)
    return {"files": len(files), "written": written, "requests": len(batches),
            "engine": engine, "model_loads": loads, "flavor": src.flavor}


def _dask(batches, src, content_type, accept, assemble, scheduler, partitions):
    try:
        import dask.bag as db
    except ImportError:
        from ..errors import RuntimeUnavailableError
        raise RuntimeUnavailableError('--engine dask needs dask: pip install "dask==2026.8.0".') from None
    if not batches:
        return [], 0
    n = partitions or min(len(batches), max(os.cpu_count() or 1, 2))
    bag = db.from_sequence(batches, npartitions=n)
    parts = bag.map_partitions(_score_partition, str(src.model_dir), src.flavor, content_type,
                               accept, assemble).compute(scheduler=scheduler)
    results = [r for p in parts for r in p["results"]]
    return results, len(parts)


def _write(files, in_root: Path, out_root: Path, batches, results) -> int:
    by_file: dict[int, list] = {i: [] for i in range(len(files))}
    for file, index, body, error in results:
        by_file[file].append((index, body, error))
    out_root.mkdir(parents=True, exist_ok=True)
    written, failed = 0, []
    for i, f in enumerate(files):
        parts = sorted(by_file[i], key=lambda r: r[0])
        errors = [e for _, _, e in parts if e]
        if errors:  # like SageMaker: a file is written whole or not at all
            failed.append(f"{f}: {errors[0]}")
            continue
        target = out_root / (f.relative_to(in_root).as_posix() + ".out")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_bytes(b"".join(body for _, body, _ in parts))
        os.replace(tmp, target)
        written += 1
    if failed:
        raise TransformError(f"{len(failed)} of {len(files)} file(s) failed, no .out written "
                             f"for them ({written} written). First: {failed[0]}")
    return written
