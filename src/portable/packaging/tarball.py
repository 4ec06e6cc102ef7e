"""Deterministic ``model.tar.gz``: the same files give the same bytes, on any machine.

SageMaker extracts ``ModelDataUrl`` into ``/opt/ml/model``, so members sit at the archive
root (no ``./`` or wrapper folder: the XGBoost container would then find no model). Every
header field that could vary is fixed: members sorted, mtime 0, uid/gid 0, empty owner
names, modes 0644 (0755 for executables and folders), USTAR headers (no PAX records with
timestamps), gzip header mtime 0 and no file name. Only regular files and the folders
above them are written; symlinks, absolute paths and ``..`` are refused on the way in.

Unpacking lives in :mod:`portable.packaging.unpack`.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import PurePosixPath

from ..errors import ArtifactError


def _check_name(name: str) -> str:
    p = PurePosixPath(name)
    if not name or p.is_absolute() or ".." in p.parts or name.startswith("./") or "\\" in name:
        raise ArtifactError(f"Refusing archive member {name!r}: members are relative paths "
                            f"without '..', './' or backslashes.")
    return str(p)


def _info(name: str, *, size: int = 0, directory: bool = False, executable: bool = False):
    ti = tarfile.TarInfo(name)
    ti.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    ti.size = 0 if directory else size
    ti.mode = 0o755 if (directory or executable) else 0o644
    ti.mtime = 0
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    return ti


def tar_bytes(files: dict[str, bytes], *, executables=()) -> bytes:
    """A gzip-compressed tar of ``files`` (archive path -> content), byte-for-byte stable.

    Folders named by member paths get their own entries (sorted with the files), so
    extraction never depends on the extractor creating parents.
    """
    names = {_check_name(n): data for n, data in files.items()}
    dirs = {str(p) for n in names for p in PurePosixPath(n).parents if str(p) != "."}
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(set(names) | dirs):
            if name in dirs:
                tar.addfile(_info(name, directory=True))
                continue
            data = names[name]
            tar.addfile(_info(name, size=len(data), executable=name in executables
                              or data.startswith(b"#!")), io.BytesIO(data))
    out = io.BytesIO()
    # filename="" and mtime=0 keep the gzip header free of the path and the clock.
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def checksums(files: dict[str, bytes]) -> dict:
    """``{name: {"sha256", "bytes"}}`` for a manifest, sorted by name."""
    return {n: {"sha256": hashlib.sha256(d).hexdigest(), "bytes": len(d)}
            for n, d in sorted(files.items())}
