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

  Faults: every read and write has a timeout (``timeout=``, else ``$PORTABLE_RUNTIME_TIMEOUT``,
  else 120 s: the longest the process may stay silent, including its start-up). A crash
  (the process exits or is killed) is seen at once: its stdout closes, or ``poll()`` finds
  it gone before a request. A hang is seen when the timeout runs out. Either way the
  process is killed, a fresh one started (a :class:`~portable.errors.RuntimeRestartWarning`,
  ``session.restarts`` += 1, the fault in ``session.faults``) and the request retried once;
  a second fault kills that process too and raises
  :class:`~portable.errors.RuntimeFailedError` naming both faults. The next request starts
  a fresh process again. ``close()`` kills the process, and so do a weakref finalizer and an
  ``atexit`` hook, so no engine process outlives its session or the interpreter (and the
  generated servers exit when their stdin closes, i.e. when Python dies, even by SIGKILL).
"""

from __future__ import annotations

import atexit
import json
import math
import os
import select
import signal
import struct
import subprocess
import tempfile
import threading
import warnings
import weakref

import numpy as np

from ..errors import (ArtifactError, InputError, RuntimeFailedError, RuntimeRestartWarning,
                      RuntimeUnavailableError)
from ..ir.evaluate import OUTPUTS, prepare_input

MARGIN, PREDICTION = 0, 1
DEFAULT_TIMEOUT = 120.0
TIMEOUT_ENV = "PORTABLE_RUNTIME_TIMEOUT"


def resolve_timeout(timeout=None) -> float:
    """Seconds an engine process may stay silent: ``timeout`` if given, else
    ``$PORTABLE_RUNTIME_TIMEOUT``, else 120. InputError unless a positive finite number."""
    from ..settings import positive_setting

    return positive_setting(timeout, TIMEOUT_ENV, DEFAULT_TIMEOUT, name="timeout",
                            what="engine timeout", unit="seconds")


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


def _kill(proc: subprocess.Popen, err=None) -> None:
    if proc.poll() is None:
        try:
            proc.kill()
        except ProcessLookupError:  # pragma: no cover - exited between poll and kill
            pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL does not get ignored
        pass
    for f in (proc.stdin, proc.stdout, proc.stderr, err):
        try:
            if f is not None:
                f.close()
        except Exception:
            pass


@atexit.register
def _kill_all() -> None:
    for s in list(_LIVE):
        s.close()


def _wait(fd: int, event: int, timeout: float) -> bool:
    """True when ``fd`` is ready for ``event`` (or closed/failed: the next read or write
    says how), False after ``timeout`` seconds. poll(), not select(): no FD_SETSIZE limit
    for long-lived processes with many files open."""
    poller = select.poll()
    poller.register(fd, event)
    return bool(poller.poll(max(0, math.ceil(timeout * 1000))))


class _Fault(Exception):
    """The engine process crashed, hung or broke the protocol; the message says how
    (a phrase such as "was killed by signal 9 (SIGKILL)")."""


def _exit_phrase(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "an unknown signal"
        return f"was killed by signal {-code} ({name})"
    return f"exited with code {code}"


class PipeSession:
    """A model served by a child process over the binary protocol above.

    Parameters
    ----------
    argv : list of str
        The command (``java -cp ... Server`` or ``node server.js``); restarts run it again.
    signature, meta :
        The artifact's signature and ``native.json``.
    timeout : float, optional
        Seconds the process may stay silent (not reading a request, or not answering it)
        before it counts as hung. Default ``$PORTABLE_RUNTIME_TIMEOUT``, else 120.
    engine : str
        Its name in messages ("java", "node").

    Attributes
    ----------
    restarts : int
        How many times a fresh process was started after the first one.
    faults : list of str
        What happened to each process that was replaced ("was killed by signal 9 ...").
    """

    def __init__(self, argv, *, cwd, signature, meta: dict, timeout: float | None = None,
                 engine: str = "process"):
        self.signature, self.meta, self.engine = signature, meta, engine
        self.argv, self.cwd = list(argv), cwd
        self.timeout = resolve_timeout(timeout)
        self.restarts = 0
        self.faults: list[str] = []
        self._lock = threading.Lock()
        self._closed = False
        self._proc = self._err = self._finalizer = None
        try:
            self._start()
        except OSError as e:
            raise RuntimeUnavailableError(f"Cannot start {self.argv[0]!r}: {e}.") from None
        _LIVE.add(self)

    @property
    def pid(self) -> int | None:
        """Process id of the current engine process (None when there is none)."""
        proc = self._proc
        return None if proc is None else proc.pid

    # ------------------------------------------------------------------ process lifetime
    def _start(self) -> None:
        # stderr goes to a file: a chatty child must never block on a full pipe.
        err = tempfile.TemporaryFile()
        try:
            proc = subprocess.Popen(self.argv, cwd=self.cwd, stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=err)
        except BaseException:
            err.close()
            raise
        # Writes must not block on a process that stopped reading: see _write.
        os.set_blocking(proc.stdin.fileno(), False)
        self._proc, self._err = proc, err
        self._finalizer = weakref.finalize(self, _kill, proc, err)

    def _stop(self) -> None:
        """Kill the current process, if any (waits for it: no zombie is left)."""
        if self._finalizer is not None:
            self._finalizer()
        self._proc = self._err = self._finalizer = None

    def _restart(self, fault: str, pid) -> None:
        self._stop()
        if self._closed:  # close() from another thread killed it: no restart
            raise RuntimeUnavailableError(f"The {self.engine} session was closed during the "
                                          f"request.")
        self.faults.append(fault)
        self.restarts += 1
        warnings.warn(f"The {self.engine} process (pid {pid}) {fault}; started a fresh one "
                      f"(restart {self.restarts} of this session) and retried the request.",
                      RuntimeRestartWarning, stacklevel=4)
        try:
            self._start()
        except OSError as e:
            raise RuntimeFailedError(f"The {self.engine} process (pid {pid}) {fault}, and a "
                                     f"fresh one could not be started: {e}.") from None

    # ------------------------------------------------------------------ requests
    def predict(self, X, output: str = "prediction") -> np.ndarray:
        """Predict ``X`` (2-D rows, a 1-D row, or a DataFrame); a 2-D float array.

        A crashed or hung process is replaced and the request retried once (see the
        module docstring); RuntimeFailedError if the fresh process fails as well.
        """
        kind = out_kind(output)
        Xnum, strings = rows(self.signature, self.meta, X)
        width = self.meta["n_margin"] if kind == MARGIN else self.meta["n_prediction"]
        dtype = np.float32 if self.meta["output_dtype"] == "float32" else np.float64
        if Xnum.shape[0] == 0:
            return np.empty((0, width), dtype)
        request = encode_request(Xnum, strings, kind)
        with self._lock:
            if self._closed:
                raise RuntimeUnavailableError(f"The {self.engine} session is closed; load the "
                                              f"artifact again.")
            if self._proc is None:  # the previous request failed twice: start afresh
                self.restarts += 1
                try:
                    self._start()
                except OSError as e:
                    raise RuntimeFailedError(f"Cannot start the {self.engine} process again: "
                                             f"{e}.") from None
            try:
                return self._request(request, dtype)
            finally:
                if self._closed:  # close() ran in another thread meanwhile: finish its job
                    self._stop()

    def _request(self, request: bytes, dtype) -> np.ndarray:
        """One request, with one restart and retry on a fault (the lock is held)."""
        pid = self._proc.pid
        try:
            return self._exchange(request, dtype)
        except _Fault as e:
            first = str(e)
        self._restart(first, pid)
        pid2 = self._proc.pid
        try:
            return self._exchange(request, dtype)
        except _Fault as e:
            self._stop()
            self.faults.append(str(e))
            raise RuntimeFailedError(
                f"The {self.engine} process stopped answering: it (pid {pid}) {first}; it "
                f"was restarted once and the request retried, but the fresh process "
                f"(pid {pid2}) {e}. Gave up on this request; the next one starts a new "
                f"process.") from None

    def _exchange(self, request: bytes, dtype) -> np.ndarray:
        """One request and its reply; _Fault when the process crashed, hung or sent garbage.
        Anything else that interrupts it (KeyboardInterrupt, ...) kills the process, since
        the pipes are then out of step, and the next request starts a fresh one."""
        if self._proc.poll() is not None:  # died since the last request
            raise _Fault(self._why_dead())
        try:
            self._write(request)
            status = self._read_header()
            if status == 0:
                n, w = struct.unpack("<II", self._read(8))
                out = np.frombuffer(self._read(8 * n * w), "<f8").reshape(n, w)
                return out.astype(dtype)
            if status == 1:
                r, c = struct.unpack("<II", self._read(8))
                raise unknown_category(self.signature, r, c)
            if status == 2:
                (length,) = struct.unpack("<I", self._read(4))
                raise InputError(f"The {self.engine} model failed: "
                                 f"{self._read(length).decode('utf-8', 'replace')}")
            raise _Fault(f"sent an unknown reply status {status}")
        except (_Fault, InputError):
            raise
        except BaseException:
            self._stop()
            raise

    def _why_dead(self, wait: float = 0.0) -> str:
        """The fault of a process whose pipes closed: how it ended, and its stderr's tail."""
        proc = self._proc
        try:
            code = proc.wait(timeout=wait) if wait else proc.poll()
        except subprocess.TimeoutExpired:
            code = None
        what = "closed its output" if code is None else _exit_phrase(code)
        return what + self._stderr_tail()

    def _write(self, data: bytes) -> None:
        fd = self._proc.stdin.fileno()
        view, done = memoryview(data), 0
        while done < len(view):
            try:
                done += os.write(fd, view[done:done + (1 << 20)])
                continue
            except BlockingIOError:
                pass
            except BrokenPipeError:
                raise _Fault(self._why_dead(wait=2.0)) from None
            if not _wait(fd, select.POLLOUT, self.timeout):
                raise _Fault(f"did not read its input within {self.timeout:g} s (hung), and "
                             f"was killed{self._stderr_tail()}")

    def _read_header(self) -> int:
        magic = self._read(4)
        if magic != b"PRS1":
            raise _Fault(f"sent an unexpected reply {magic!r}{self._stderr_tail()}")
        return struct.unpack("<I", self._read(4))[0]

    def _read(self, n: int) -> bytes:
        """Exactly ``n`` bytes from the child's stdout, or _Fault."""
        fd = self._proc.stdout.fileno()
        chunks, got = [], 0
        while got < n:
            if not _wait(fd, select.POLLIN, self.timeout):
                raise _Fault(f"gave no answer within {self.timeout:g} s (hung), and was "
                             f"killed{self._stderr_tail()}")
            data = os.read(fd, min(n - got, 1 << 20))
            if not data:
                raise _Fault(self._why_dead(wait=2.0))
            chunks.append(data)
            got += len(data)
        return b"".join(chunks)

    def _stderr_tail(self) -> str:
        """What the process said last on stderr, in short: its error lines (JVM exceptions,
        node's FATAL ERROR) when there are any, else its last lines."""
        try:
            self._err.seek(0, os.SEEK_END)
            size = self._err.tell()
            self._err.seek(max(0, size - 8192))
            text = self._err.read().decode("utf-8", "replace")
        except Exception:
            return ""
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        errors = [ln for ln in lines if "error" in ln.lower() or "exception" in ln.lower()]
        tail = " | ".join(errors[:1] or lines[-3:])
        if len(tail) > 400:
            tail = tail[:397] + "..."
        return f" (stderr: {tail})" if tail else ""

    def close(self) -> None:
        """Kill the process (idempotent); predict then raises RuntimeUnavailableError.

        From another thread while a request waits on the process: the process is killed at
        once (so the request ends now, with RuntimeUnavailableError, and no restart), and
        that request's thread, which owns the pipes, closes them."""
        self._closed = True
        lock = getattr(self, "_lock", None)
        if lock is not None and lock.acquire(blocking=False):
            try:
                self._stop()
            finally:
                lock.release()
        else:
            proc = getattr(self, "_proc", None)
            if proc is not None:
                try:
                    proc.kill()  # Popen.kill: no signal once the process has been reaped
                except OSError:  # pragma: no cover - already gone
                    pass
        _LIVE.discard(self)
