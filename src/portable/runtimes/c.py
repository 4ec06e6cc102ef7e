"""gcc + ctypes: runs ``--format c`` artifacts as a shared library, one call per batch.

The library is compiled once per distinct source (SHA-256 over the sources, the flags and
the compiler's version) into ``$PORTABLE_CACHE_DIR/c/<hash>/libmodel.so`` (default
``~/.cache/portable``); the tree chunks compile in parallel, one gcc per core. A finished
build is renamed into place atomically, so concurrent loaders never see half a library.

Single rows are the latency-sensitive case: a session keeps pre-bound argument types and
small input/output buffers whose addresses are known, so a one-row ``predict`` costs one
numpy copy in, one ctypes call and one copy out (numpy's ``.ctypes.data`` alone costs
~1.3 us, as much as the 500-tree walk it would feed).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..errors import ArtifactError, RuntimeUnavailableError
from ._base import Runtime
from ._subprocess import MARGIN, out_kind, read_native, rows, unknown_category

OPT_FLAGS = ("-O2",)
SMALL = 64  # rows that go through the session's pre-addressed buffers


def cache_dir() -> Path:
    """Where compiled native artifacts are kept (``PORTABLE_CACHE_DIR`` or ~/.cache/portable)."""
    root = os.environ.get("PORTABLE_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "portable")
    return Path(root)


def cached_build(kind: str, seed: str, folder: Path, names, build) -> Path:
    """Build once per content: the cache folder for ``kind`` keyed by ``seed`` (toolchain,
    flags) and the bytes of ``folder/name`` for each name. ``build(tmp)`` fills a temporary
    folder that is renamed into place, so a killed build never leaves a half entry.
    Returns the cache folder."""
    h = hashlib.sha256(seed.encode())
    for name in names:
        data = (folder / name).read_bytes()
        h.update(f"{name}:{len(data)}:".encode())
        h.update(data)
    final = cache_dir() / kind / h.hexdigest()[:32]
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=final.parent))
    try:
        build(tmp)
        try:
            os.rename(tmp, final)
        except OSError:  # another process finished the same build first
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _compiler() -> str | None:
    return os.environ.get("CC") if os.environ.get("CC") and shutil.which(
        os.environ["CC"]) else shutil.which("gcc")


class CRuntime(Runtime):
    """Runtime "gcc" for the "c" format.

    Examples
    --------
    >>> session = portable.load("out/c")             # doctest: +SKIP
    >>> session.predict(X, output="margin")          # doctest: +SKIP
    """

    name = "gcc"
    formats = ("c",)

    @classmethod
    def available(cls) -> str | None:
        if _compiler() is None:
            return ("The gcc runtime needs a C compiler: install gcc (e.g. apt-get install "
                    "gcc) or set CC to one.")
        return None

    def open(self, artifact) -> "CSession":
        meta = read_native(artifact, "c")
        lib = build(Path(artifact.path), meta)
        return CSession(lib, artifact.signature, meta)


def build(folder: Path, meta: dict, *, jobs: int | None = None) -> Path:
    """Compile the artifact's library (cached); returns the path of ``libmodel.so``."""
    cc = _compiler()
    if cc is None:
        raise RuntimeUnavailableError(CRuntime.available())
    sources = list(meta["library_sources"])
    headers = sorted(p.name for p in folder.glob("*.h"))
    flags = list(meta.get("cflags", [])) + list(OPT_FLAGS)
    version = subprocess.run([cc, "--version"], capture_output=True, text=True).stdout

    def compile_all(tmp: Path) -> None:
        for name in sources + headers:
            shutil.copyfile(folder / name, tmp / name)

        def compile_one(name):
            cmd = [cc, *flags, "-c", name, "-o", name[:-2] + ".o"]
            r = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=1800)
            if r.returncode:
                raise ArtifactError(f"gcc failed on {name}: {r.stderr.strip()[-2000:]}")
            return name[:-2] + ".o"
        with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as pool:
            objects = list(pool.map(compile_one, sources))
        r = subprocess.run([cc, "-shared", "-o", "libmodel.so", *objects, "-lm"], cwd=tmp,
                           capture_output=True, text=True, timeout=600)
        if r.returncode:
            raise ArtifactError(f"Linking the model library failed: {r.stderr.strip()[-2000:]}")

    final = cached_build("c", repr((flags, version, cc)), folder, sorted(sources + headers),
                         compile_all)
    return final / "libmodel.so"


class CSession:
    """A compiled model behind ``predict(X, output="prediction"|"margin")``."""

    engine = "gcc"

    def __init__(self, lib_path: Path, signature, meta: dict):
        self.signature, self.meta, self.path = signature, meta, lib_path
        self._lib = ctypes.CDLL(str(lib_path))
        fn = self._lib.portable_predict
        fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                       ctypes.c_void_p, ctypes.c_void_p]
        fn.restype = ctypes.c_int
        self._fn = fn
        nf = meta["n_features"]
        self._width = (meta["n_margin"], meta["n_prediction"])
        self._dtype = np.float32 if meta["output_dtype"] == "float32" else np.float64
        self._strings = any(meta["string_columns"])
        # Pre-addressed buffers for small batches (see the module docstring).
        self._xbuf = np.zeros((SMALL, nf), np.float64)
        self._obuf = np.zeros(SMALL * max(self._width), np.float64)
        self._bad = np.zeros(1, np.int32)
        self._xptr = self._xbuf.ctypes.data
        self._optr = self._obuf.ctypes.data
        self._badptr = self._bad.ctypes.data
        self._busy = threading.Lock()

    def predict(self, X, output: str = "prediction") -> np.ndarray:
        """Predict ``X`` (2-D rows, a 1-D row, or a DataFrame); a 2-D array in the model's
        dtype (float32 for XGBoost-style ensembles, float64 otherwise)."""
        kind = out_kind(output)
        width = self._width[0] if kind == MARGIN else self._width[1]
        if self._fn is None:
            raise RuntimeUnavailableError("This session is closed.")
        Xnum, strings = rows(self.signature, self.meta, X)
        n = Xnum.shape[0]
        sptr, keep = None, None
        if strings is not None:
            # C strings end at NUL: a value holding one can equal no category, so it is
            # passed as invalid UTF-8 (which no category is).
            flat = [None if v is None else b"\xff" if "\0" in v
                    else v.encode("utf-8", "surrogatepass") for row in strings for v in row]
            keep = (ctypes.c_char_p * max(1, len(flat)))()
            keep[:len(flat)] = flat
            sptr = ctypes.addressof(keep)
        bad = self._bad
        if n <= SMALL and self._busy.acquire(blocking=False):
            try:
                self._xbuf[:n] = Xnum
                rc = self._fn(self._xptr, sptr, n, kind, self._optr, self._badptr)
                out = self._obuf[:n * width].reshape(n, width).astype(self._dtype)
            finally:
                self._busy.release()
        else:
            out = np.empty((n, width), np.float64)
            bad = np.zeros(1, np.int32)
            rc = self._fn(Xnum.ctypes.data if n else None, sptr, n, kind,
                          out.ctypes.data if n else None, bad.ctypes.data)
            out = out.astype(self._dtype, copy=False)
        if rc:
            if rc < 0:
                raise MemoryError("The C model could not allocate its row buffers.")
            raise unknown_category(self.signature, rc - 1, int(bad[0]))
        return out

    def close(self) -> None:
        """Release the library handle (the shared object stays in the cache)."""
        self._fn = None
        self._lib = None
