"""Plumbing shared by the native-code runtimes (gcc, cpython, jvm, node).

* :func:`read_native` / :func:`rows`: the artifact's ``native.json`` and the caller's rows
  turned into a float64 matrix plus, for string columns, a list of strings (None = missing),
  with the same input rules as ``portable.evaluate``.
* :class:`PipeSession`: a long-lived ``java`` / ``node`` process fed batches over its
  stdin/stdout in a small binary protocol (little-endian)::

      request   b"PRQ1" u32 n_rows u32 out_kind(0 margin, 1 prediction)
                f64[n_rows * n_features]                (string columns: ignored)
                per row, per string column: i32 byte length (-1 = missing) + UTF-8 bytes
      response  b"PRS1" u32 status
                status 0: u32 n_rows u32 width f64[n_rows * width]
                status 1: u32 row u32 column            (unknown category)
                status 2: u32 length + UTF-8 message    (any other error)

  Every read has a timeout; ``close()`` kills the process, and so do a weakref finalizer and
  an ``atexit`` hook, so no engine process outlives its session or the interpreter.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import struct
import subprocess
import tempfile
import threading
import weakref

import numpy as np

from ..errors import ArtifactError, InputError, RuntimeUnavailableError
from ..ir.evaluate import OUTPUTS, prepare_input

MARGIN, PREDICTION = 0, 1


def read_native(artifact, language: str) -> dict:
    """``native.json`` of a code artifact, checked to be of ``language``."""
    path = artifact.file("native.json")
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError):
        raise ArtifactError(f"{str(artifact.path)!r} has no readable native.json; export it "
                            f"with --format {language}.") from None
    if meta.get("language") != language:
        raise ArtifactError(f"{str(artifact.path)!r} holds {meta.get('language')!r} code, "
                            f"not {language}.")
    return meta


def out_kind(output: str) -> int:
    if output not in OUTPUTS:
        raise InputError(f"Unknown output {output!r}; choose one of {', '.join(OUTPUTS)}.")
    return MARGIN if output == "margin" else PREDICTION


def rows(signature, meta: dict, X):
    """``(Xnum, strings)``: float64 C-contiguous (n, n_features) and, when the model has
    string columns, a list of n lists of str/None (numeric cells are None there)."""
    nf = meta["n_features"]
    if (type(X) is np.ndarray and X.dtype == np.float64 and X.ndim == 2 and X.shape[1] == nf
            and not any(meta["string_columns"])):
        return (X if X.flags.c_contiguous else np.ascontiguousarray(X)), None
    Z = prepare_input(signature, X)
    if not any(meta["string_columns"]):
        return np.ascontiguousarray(Z, dtype=np.float64), None
    num = np.zeros(Z.shape, np.float64)
    strings = []
    for i, row in enumerate(Z):
        out = []
        for j, (v, is_str) in enumerate(zip(row, meta["string_columns"])):
            if not is_str:
                num[i, j] = v
                out.append(None)
            elif v is None or (isinstance(v, (float, np.floating)) and v != v):
                out.append(None)
            elif isinstance(v, (str, np.str_)):
                out.append(str(v))
            else:
                raise InputError(f"Column {signature.feature_names[j]!r} holds strings; got "
                                 f"{v!r} (row {i}). Pass text, or None for a missing value.")
        strings.append(out)
    return num, strings


def unknown_category(signature, row: int, column: int) -> InputError:
    name = (signature.feature_names[column] if 0 <= column < signature.n_features
            else "a one-hot input")
    return InputError(f"Unknown category in input column {name!r} (row {row}): the encoder "
                      f"was fitted with handle_unknown='error'.")


# ----------------------------------------------------------------------------- pipes
def encode_request(Xnum: np.ndarray, strings, kind: int) -> bytes:
    parts = [b"PRQ1", struct.pack("<II", Xnum.shape[0], kind),
             np.ascontiguousarray(Xnum, "<f8").tobytes()]
    if strings is not None:
        for row in strings:
            for v in row:
                if v is None:
                    parts.append(b"\xff\xff\xff\xff")
                else:
                    data = v.encode("utf-8", "surrogatepass")
                    parts.append(struct.pack("<i", len(data)) + data)
    return b"".join(parts)


_LIVE: "weakref.WeakSet[PipeSession]" = weakref.WeakSet()


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL does not get ignored
        pass
    for f in (proc.stdin, proc.stdout, proc.stderr):
        try:
            f.close()
        except Exception:
            pass


@atexit.register
def _kill_all() -> None:
    for s in list(_LIVE):
        s.close()


class PipeSession:
    """A model served by a child process over the binary protocol above.

    Parameters
    ----------
    argv : list of str
        The command (``java -cp ... Server`` or ``node server.js``).
    signature, meta :
        The artifact's signature and ``native.json``.
    timeout : float
        Seconds a batch may go without any reply before the process is killed and
        RuntimeUnavailableError is raised.
    """

    def __init__(self, argv, *, cwd, signature, meta: dict, timeout: float = 120.0,
                 engine: str = "process"):
        self.signature, self.meta, self.timeout, self.engine = signature, meta, timeout, engine
        # stderr goes to a file: a chatty child must never block on a full pipe.
        self._err = tempfile.TemporaryFile()
        try:
            self._proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=self._err)
        except OSError as e:
            raise RuntimeUnavailableError(f"Cannot start {argv[0]!r}: {e}.") from None
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, _kill, self._proc)
        _LIVE.add(self)

    @property
    def pid(self) -> int:
        return self._proc.pid

    def predict(self, X, output: str = "prediction") -> np.ndarray:
        """Predict ``X`` (2-D rows, a 1-D row, or a DataFrame); a 2-D float array."""
        kind = out_kind(output)
        Xnum, strings = rows(self.signature, self.meta, X)
        width = self.meta["n_margin"] if kind == MARGIN else self.meta["n_prediction"]
        dtype = np.float32 if self.meta["output_dtype"] == "float32" else np.float64
        if Xnum.shape[0] == 0:
            return np.empty((0, width), dtype)
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                raise RuntimeUnavailableError(f"The {self.engine} process has exited"
                                              f"{self._stderr_tail()}.")
            try:
                self._proc.stdin.write(encode_request(Xnum, strings, kind))
                self._proc.stdin.flush()
                status = self._read_header()
                if status == 0:
                    n, w = struct.unpack("<II", self._read(8))
                    out = np.frombuffer(self._read(8 * n * w), "<f8").reshape(n, w)
                    return out.astype(dtype)
                if status == 1:
                    r, c = struct.unpack("<II", self._read(8))
                    raise unknown_category(self.signature, r, c)
                (length,) = struct.unpack("<I", self._read(4))
                raise InputError(f"The {self.engine} model failed: "
                                 f"{self._read(length).decode('utf-8', 'replace')}")
            except (BrokenPipeError, TimeoutError, EOFError) as e:
                tail = self._stderr_tail(wait=True)
                self.close()
                raise RuntimeUnavailableError(f"The {self.engine} process stopped answering "
                                              f"({type(e).__name__}: {e}){tail}.") from None

    def _read_header(self) -> int:
        magic = self._read(4)
        if magic != b"PRS1":
            raise EOFError(f"unexpected reply {magic!r}")
        return struct.unpack("<I", self._read(4))[0]

    def _read(self, n: int) -> bytes:
        """Exactly ``n`` bytes from the child's stdout, or TimeoutError / EOFError."""
        fd = self._proc.stdout.fileno()
        chunks, got = [], 0
        while got < n:
            ready, _, _ = select.select([fd], [], [], self.timeout)
            if not ready:
                raise TimeoutError(f"no reply within {self.timeout:g} s")
            data = os.read(fd, min(n - got, 1 << 20))
            if not data:
                raise EOFError("the process closed its output")
            chunks.append(data)
            got += len(data)
        return b"".join(chunks)

    def _stderr_tail(self, wait: bool = False) -> str:
        proc = self._proc
        if proc is None:
            return ""
        if wait:
            try:
                proc.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                pass
        try:
            self._err.seek(0)
            tail = self._err.read()[-400:].decode("utf-8", "replace").strip()
        except Exception:
            return ""
        return f": {tail}" if tail else ""

    def close(self) -> None:
        """Kill the process (idempotent)."""
        if getattr(self, "_proc", None) is not None:
            self._finalizer()
            self._proc = None
        _LIVE.discard(self)
