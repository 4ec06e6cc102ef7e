"""An exported model is a folder: the target's files plus ``portable.json`` (the manifest).

Writing is atomic: files go to a temporary sibling folder which is renamed into place
only when complete, so an interrupted export leaves the previous artifact or none.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ArtifactError

MANIFEST = "portable.json"
SCHEMA = 1


@dataclass
class Artifact:
    """A loaded artifact folder: where it is and what its manifest says."""

    path: Path
    manifest: dict = field(default_factory=dict)

    @property
    def format(self) -> str:
        return self.manifest["format"]

    @property
    def default_runtime(self) -> str:
        return self.manifest["runtime"]

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def signature(self):
        from .ir import Signature
        return Signature.from_dict(self.manifest["signature"])


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_artifact(out_dir, files: dict[str, bytes], manifest: dict, *,
                   overwrite: bool = True, admit=None, manifest_name: str = MANIFEST,
                   checksums: bool = True) -> Artifact:
    """Write ``files`` and ``portable.json`` into ``out_dir`` atomically.

    ``admit(tmp_dir) -> dict``, when given, runs on the complete temporary folder before it
    is moved into place; its dict is merged into the manifest (the parity summary).
    """
    out = Path(out_dir).resolve()
    if out.exists() and not out.is_dir():
        raise ArtifactError(f"{str(out)!r} exists and is not a folder.")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise ArtifactError(f"{str(out)!r} is not empty; pass overwrite=True (--force) to replace it.")
    if out.exists() and any(out.iterdir()) and not (out / manifest_name).exists():
        raise ArtifactError(f"{str(out)!r} is not empty and is not a portable artifact; "
                            f"refusing to replace it. Choose an empty or new folder.")
    manifest = dict(manifest)
    manifest.setdefault("schema", SCHEMA)
    if checksums:
        manifest["files"] = {name: {"sha256": sha256(data), "bytes": len(data)}
                             for name, data in sorted(files.items())}
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.{os.getpid()}.", suffix=".tmp",
                                dir=out.parent))
    try:
        for name, data in sorted(files.items()):
            target = (tmp / name).resolve()
            if tmp not in target.parents:
                raise ArtifactError(f"Refusing to write {name!r} outside the artifact folder.")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            if name.endswith((".sh", "run")) or data.startswith(b"#!"):
                target.chmod(0o755)
        if admit is not None:
            manifest.update(admit(tmp))
        (tmp / manifest_name).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        _fsync_dir(tmp)
        if out.exists():
            old = out.with_name(f".{out.name}.{os.getpid()}.old")
            os.rename(out, old)
            os.rename(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Artifact(out, manifest)


def _remove_stale(out: Path) -> None:
    """Delete what a killed writer of ``out`` left: ``.NAME.PID.*.tmp`` / ``.NAME.PID.old``
    folders whose process is gone. If a kill fell between the two renames, the previous
    artifact (``.old``) is put back first."""
    for p in out.parent.glob(f".{out.name}.*"):
        parts = p.name[len(out.name) + 2:].split(".")
        if not parts or not parts[0].isdigit() or _alive(int(parts[0])):
            continue
        if p.name.endswith(".old") and not out.exists():
            os.rename(p, out)
        else:
            shutil.rmtree(p, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_dir(d: Path) -> None:
    for p in d.rglob("*"):
        if p.is_file():
            with open(p, "rb") as fh:
                os.fsync(fh.fileno())


def read_artifact(path) -> Artifact:
    """Open an artifact folder and check its files against the manifest's checksums."""
    p = Path(path)
    m = p / MANIFEST
    if not p.is_dir():
        raise ArtifactError(f"{str(p)!r} is not an artifact folder (no such folder).")
    if not m.exists():
        raise ArtifactError(f"{str(p)!r} has no {MANIFEST}; export a model into it first.")
    try:
        manifest = json.loads(m.read_text())
    except (OSError, ValueError) as e:
        raise ArtifactError(f"{str(m)!r} is not valid JSON: {e}.") from None
    for name, meta in manifest.get("files", {}).items():
        f = p / name
        if not f.is_file():
            raise ArtifactError(f"The artifact {str(p)!r} lacks {name!r}.")
        if sha256(f.read_bytes()) != meta["sha256"]:
            raise ArtifactError(f"{name!r} in {str(p)!r} does not match its checksum in "
                                f"{MANIFEST}: the artifact was modified after export.")
    return Artifact(p, manifest)


def environment() -> dict:
    """Versions of what took part in an export (recorded in the manifest)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for dist in ("portable", "numpy", "scikit-learn", "xgboost-cpu", "xgboost", "onnx",
                 "onnxruntime", "skl2onnx", "onnxmltools", "jpmml_evaluator", "titus2"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            pass
    return out


@dataclass
class Bundle:
    """A converted model in memory: its files and manifest, not yet on disk."""

    files: dict
    manifest: dict
    model: object = None

    def save(self, out_dir, *, runtime: str | None = None, check: bool = True,
             overwrite: bool = True) -> Artifact:
        """Write the artifact atomically; with ``check``, first run it with ``runtime``
        (default: the format's default runtime) on golden and probe rows and record the
        parity summary. A runtime that is not installed is recorded as not checked."""
        manifest = dict(self.manifest)

        def admit(tmp: Path) -> dict:
            if not check or self.model is None:
                return {"parity": {"checked": False, "reason": "check disabled"}}
            return {"parity": check_parity(self.model, Artifact(tmp, {**manifest,
                                           "files": {}}), runtime)}

        return write_artifact(out_dir, self.files, manifest, overwrite=overwrite, admit=admit)


def check_parity(model, art: Artifact, runtime: str | None) -> dict:
    """Run ``art`` with a runtime on golden + probe rows against ``ir.evaluate``."""
    import numpy as np

    from . import ir
    from .errors import RuntimeUnavailableError
    from .parity import compare
    from .probes import probe_rows
    from .runtimes import RUNTIMES

    name = runtime or art.default_runtime
    rt = RUNTIMES.get(name)
    why = rt.available()
    if why:
        return {"checked": False, "runtime": name, "reason": why}
    X = probe_rows(model, n=300)
    session = rt().load(art)
    try:
        out = {"checked": True, "runtime": name, "rows": int(len(X))}
        cls = model.signature.task == "classification"
        for stage in ("margin", "prediction"):
            ref = ir.evaluate(model, X, output=stage)
            got = session.predict(X, output=stage)
            out[stage] = compare(ref, got, classification=cls)
    except RuntimeUnavailableError as e:
        return {"checked": False, "runtime": name, "reason": str(e)}
    finally:
        close = getattr(session, "close", None)
        if close:
            close()

    return out
