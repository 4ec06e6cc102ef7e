"""Unpacking archives safely: every archive portable unpacks goes through here.

:func:`extract`, :func:`members` (``model.tar.gz``) and :func:`extract_zip` (``lambda.zip``)
refuse, with :class:`~portable.errors.UnsafeArchiveError` naming the member:

* names with a ``..`` component, absolute names, backslashes or control characters, and
  names that would land outside the destination (through a link already in it);
* anything but regular files and folders: symbolic and hard links, devices, FIFOs, sparse
  files; a name that is both a file and a folder, or a file listed twice;
* more than ``max_bytes`` of file content (default 2 GiB, or ``$PORTABLE_MAX_UNPACK_BYTES``)
  or more than 100,000 members: the declared sizes are checked before any content is read
  (a tar header is checked before the stream moves past it, a zip's whole directory before
  the first member), and the bytes actually read are counted against the same limit.

Nothing is written on refusal: members are unpacked into a fresh sibling folder that is
renamed into place (or merged into an existing destination, after every target was checked)
only when the whole archive passed. A leading ``./`` is accepted and dropped. Member modes,
owners and times are ignored (files get the umask's mode; 0755 when they start with ``#!``).
"""

from __future__ import annotations

import gzip
import io
import os
import secrets
import shutil
import stat
import tarfile
import zipfile
import zlib
from pathlib import Path

from ..errors import ArtifactError, UnsafeArchiveError

DEFAULT_MAX_BYTES = 2 << 30  # 2 GiB of unpacked file content
MAX_BYTES_ENV = "PORTABLE_MAX_UNPACK_BYTES"
MAX_MEMBERS = 100_000
_CHUNK = 1 << 20


def unpack_limit(max_bytes=None) -> int:
    """Bytes of file content an archive may unpack to: ``max_bytes`` if given, else
    ``$PORTABLE_MAX_UNPACK_BYTES``, else 2 GiB."""
    from ..settings import positive_setting

    return positive_setting(max_bytes, MAX_BYTES_ENV, DEFAULT_MAX_BYTES, integer=True,
                            name="max_bytes", what="unpacking limit",
                            unit="bytes", error=ArtifactError)


class _Checker:
    """Admits archive members one by one: safe names, files and folders only, no clashes,
    sizes within the limit. Raises UnsafeArchiveError naming the member otherwise."""

    def __init__(self, what: str, max_bytes: int, max_members: int):
        self.what, self.max_bytes, self.max_members = what, max_bytes, max_members
        self.kinds: dict[str, str] = {}  # normalised name -> "file" | "dir"
        self.raw: dict[str, str] = {}  # normalised name -> the member that brought it
        self.members = self.declared = self.read = 0

    def refuse(self, raw, why: str):
        raise UnsafeArchiveError(f"Refusing to unpack {self.what}: member {raw!r} {why}. "
                                 f"Nothing was written.")

    def name(self, raw: str) -> str | None:
        """The normalised relative name of ``raw`` (None: the archive's root folder)."""
        name = raw.rstrip("/")
        if "\\" in name or any(ord(c) < 32 or ord(c) == 127 for c in name):
            self.refuse(raw, "has a backslash or a control character in its name")
        if name.startswith("/"):
            self.refuse(raw, "is an absolute path")
        parts = name.split("/")
        if ".." in parts:
            self.refuse(raw, "has a '..' component")
        parts = [p for p in parts if p not in ("", ".")]
        return "/".join(parts) if parts else None

    def admit(self, raw: str, kind: str, size: int = 0) -> str | None:
        """Check one member (``kind``: "file", "dir", or what else it is, which is refused);
        returns its normalised name, or None for the root folder entry (skip it)."""
        self.members += 1
        if self.members > self.max_members:
            self.refuse(raw, f"is one member too many (the limit is {self.max_members:,})")
        if kind not in ("file", "dir"):
            self.refuse(raw, f"is {kind}; only regular files and folders are unpacked")
        name = self.name(raw)
        if name is None:
            if kind == "dir":
                return None
            self.refuse(raw, "is a file without a name")
        parts = name.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            if self.kinds.setdefault(parent, "dir") != "dir":
                self.refuse(raw, f"lies under {parent!r}, which is a file in this archive")
            self.raw.setdefault(parent, raw)
        seen = self.kinds.get(name)
        if seen == "file" or (seen == "dir" and kind == "file"):
            self.refuse(raw, "appears twice in the archive" if seen == kind
                        else "is both a file and a folder in the archive")
        if kind == "file":
            if size < 0 or self.declared + size > self.max_bytes:
                self.refuse(raw, f"declares {size:,} bytes, which takes the archive's files "
                                 f"beyond the {self.max_bytes:,}-byte limit (set "
                                 f"{MAX_BYTES_ENV} to raise it)")
            self.declared += size
        self.kinds[name] = kind
        self.raw.setdefault(name, raw)
        return name

    def copy(self, raw: str, src, size: int, out) -> None:
        """Stream a member's content from ``src`` to ``out`` (a binary file, or a list that
        collects chunks), counting the bytes actually read against the declared size and
        the limit."""
        got = 0
        while True:
            chunk = src.read(_CHUNK)
            if not chunk:
                break
            got += len(chunk)
            self.read += len(chunk)
            if got > size or self.read > self.max_bytes:
                self.refuse(raw, f"holds more bytes than it declares ({size:,}) or than the "
                                 f"{self.max_bytes:,}-byte limit allows")
            if isinstance(out, list):
                out.append(chunk)
                continue
            try:
                out.write(chunk)
            except OSError as e:
                raise ArtifactError(f"Cannot write member {raw!r} of {self.what}: {e}.") from None
        if got != size:
            raise ArtifactError(f"{self.what} is truncated: member {raw!r} declares {size:,} "
                                f"bytes and holds {got:,}.")


def _what(archive) -> str:
    return "the archive" if isinstance(archive, (bytes, bytearray)) else repr(str(archive))


def _source(archive):
    return (io.BytesIO(archive) if isinstance(archive, (bytes, bytearray))
            else open(archive, "rb"))


def _tar_kind(m: tarfile.TarInfo) -> str:
    if m.issparse():
        return "a sparse file"
    if m.isreg():
        return "file"
    if m.isdir():
        return "dir"
    if m.issym():
        return f"a symbolic link (to {m.linkname!r})"
    if m.islnk():
        return f"a hard link (to {m.linkname!r})"
    if m.ischr() or m.isblk():
        return "a device"
    if m.isfifo():
        return "a FIFO"
    return f"of tar type {m.type!r}"


class _Budget(io.RawIOBase):
    """The decompressed tar stream, read on a budget: after each admitted member, tarfile
    may read that member's (block-padded) content plus _HEADER_ALLOWANCE for the next
    header(s). This bounds what tarfile reads by itself (a pax or GNU long-name record is
    read whole into memory before we see the member it describes)."""

    def __init__(self, raw, check: "_Checker"):
        self.raw, self.check, self.left, self.after = raw, check, _HEADER_ALLOWANCE, None

    def readable(self) -> bool:
        return True

    def grant(self, name: str, size: int) -> None:
        self.left, self.after = -(-size // 512) * 512 + _HEADER_ALLOWANCE, name

    def readinto(self, b) -> int:
        data = self.raw.read(min(len(b), self.left + 1))
        self.left -= len(data)
        if self.left < 0:
            where = f"the header after member {self.after!r}" if self.after else "its first header"
            raise UnsafeArchiveError(f"Refusing to unpack {self.check.what}: {where} runs "
                                     f"beyond {_HEADER_ALLOWANCE:,} bytes (an oversized pax or "
                                     f"long-name record, or data no header declares). "
                                     f"Nothing was written.")
        b[:len(data)] = data
        return len(data)


_HEADER_ALLOWANCE = 1 << 20


def _walk_tar(archive, check: _Checker, on_member, stage: Path | None = None) -> None:
    """Call ``on_member(name, kind, member, tar)`` for each member of a tar.gz, in order,
    each admitted before the stream moves past its header: a member declaring terabytes is
    refused before any of its bytes are decompressed, and tarfile itself never reads more
    than the admitted sizes plus a small allowance for headers (see :class:`_Budget`)."""
    try:
        with _source(archive) as f, gzip.GzipFile(fileobj=f, mode="rb") as gz:
            budget = _Budget(gz, check)
            with tarfile.open(fileobj=budget, mode="r|") as tar:
                for m in tar:  # a stream: one header at a time, never seeking back
                    name = check.admit(m.name, _tar_kind(m), m.size)
                    budget.grant(m.name, m.size if m.isreg() else 0)
                    if name is None:
                        continue
                    if stage is not None:  # the standard library's view, as a second opinion
                        try:
                            tarfile.data_filter(m, str(stage))
                        except tarfile.FilterError as e:
                            check.refuse(m.name, f"is refused by tarfile's data filter ({e})")
                    on_member(name, check.kinds[name], m, tar)
    except ArtifactError:
        raise
    except FileNotFoundError:
        raise ArtifactError(f"No such archive: {_what(archive)}.") from None
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise ArtifactError(f"{_what(archive)} is not a readable tar.gz archive: {e}.") from None


def members(data: bytes, *, max_bytes=None, max_members: int = MAX_MEMBERS) -> dict[str, bytes]:
    """The regular files of a tar.gz (archive path -> content); refuses unsafe members
    (UnsafeArchiveError) and archives beyond ``max_bytes`` (see :func:`unpack_limit`)."""
    check = _Checker(_what(data), unpack_limit(max_bytes), max_members)
    out = {}

    def keep(name, kind, m, tar):
        if kind == "file":
            chunks: list = []
            check.copy(m.name, tar.extractfile(m), m.size, chunks)
            out[name] = b"".join(chunks)

    _walk_tar(data, check, keep)
    return out


def extract(archive, dest, *, max_bytes=None, max_members: int = MAX_MEMBERS) -> Path:
    """Extract the tar.gz ``archive`` (path or bytes) safely into the folder ``dest``;
    returns ``dest``. UnsafeArchiveError (nothing written) on any unsafe member."""
    check = _Checker(_what(archive), unpack_limit(max_bytes), max_members)

    def fill(stage: Path) -> None:
        def put(name, kind, m, tar):
            if kind == "dir":
                (stage / name).mkdir(parents=True, exist_ok=True)
            else:
                _write(stage / name,
                       lambda out: check.copy(m.name, tar.extractfile(m), m.size, out))

        _walk_tar(archive, check, put, stage)

    return _unpack(dest, check, fill)


def _zip_kind(info: zipfile.ZipInfo) -> str:
    mode = info.external_attr >> 16 if info.create_system == 3 else 0
    fmt = stat.S_IFMT(mode)
    if info.is_dir():
        return "dir" if fmt in (0, stat.S_IFDIR) else "a folder name on a non-folder"
    if fmt in (0, stat.S_IFREG):
        if info.flag_bits & 0x1:
            return "an encrypted file"
        return "file"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISDIR(mode):
        return "a folder without a trailing '/'"
    return "a socket or another special file"


def extract_zip(archive, dest, *, max_bytes=None, max_members: int = MAX_MEMBERS) -> Path:
    """Extract the zip ``archive`` (path or bytes) safely into the folder ``dest``; every
    member's name, kind and declared size is checked before the first byte is inflated.
    UnsafeArchiveError (nothing written) on any unsafe member."""
    check = _Checker(_what(archive), unpack_limit(max_bytes), max_members)

    def fill(stage: Path) -> None:
        try:
            with _source(archive) as f, zipfile.ZipFile(f) as z:
                infos = z.infolist()
                if len(infos) > max_members:
                    check.refuse(infos[max_members].filename,
                                 f"is one member too many (the limit is {max_members:,})")
                plan = [(check.admit(i.filename, _zip_kind(i), i.file_size), i) for i in infos]
                for name, info in plan:
                    if name is None:
                        continue
                    if check.kinds[name] == "dir":
                        (stage / name).mkdir(parents=True, exist_ok=True)
                        continue
                    with z.open(info) as src:
                        _write(stage / name,
                               lambda out: check.copy(info.filename, src, info.file_size, out))
        except ArtifactError:
            raise
        except FileNotFoundError:
            raise ArtifactError(f"No such archive: {_what(archive)}.") from None
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, zlib.error,
                RuntimeError, NotImplementedError, ValueError) as e:
            raise ArtifactError(f"{_what(archive)} is not a readable zip archive: {e}.") from None

    return _unpack(dest, check, fill)


def _write(path: Path, fill) -> None:
    """Create ``path`` (never existing: names are unique and the stage is fresh) and let
    ``fill(file)`` write it; 0755 when it starts with ``#!``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        out = open(path, "xb")
    except OSError as e:
        raise ArtifactError(f"Cannot write {str(path)!r}: {e}.") from None
    with out:
        fill(out)
    with open(path, "rb") as f:
        if f.read(2) == b"#!":
            os.chmod(path, 0o755)


def _unpack(dest, check: _Checker, fill) -> Path:
    """Run ``fill(stage)`` into a fresh folder next to ``dest``, then move it into place;
    on any error remove the stage (and the parent folders this call created)."""
    dest = Path(dest)
    absolute = Path(os.path.abspath(dest))
    created = []
    for p in reversed([p for p in absolute.parents if not p.exists()]):
        try:
            p.mkdir()
            created.append(p)
        except FileExistsError:
            pass
    stage = None
    try:
        stage = _stage_folder(absolute)
        fill(stage)
        _commit(stage, absolute, check)
        stage = None
    except BaseException:
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)
        for p in reversed(created):
            try:
                p.rmdir()
            except OSError:
                pass
        raise
    return dest


def _stage_folder(dest: Path) -> Path:
    """A new empty folder beside ``dest`` (inside it if its parent is not writable)."""
    for home in (dest.parent, dest):
        for _ in range(100):
            stage = home / f".{dest.name}.unpack-{secrets.token_hex(6)}"
            try:
                stage.mkdir()
                return stage
            except FileExistsError:
                continue
            except OSError:
                break
    raise ArtifactError(f"Cannot create a folder to unpack into beside {str(dest)!r}.")


def _commit(stage: Path, dest: Path, check: _Checker) -> None:
    """Move the unpacked tree into ``dest``: a rename when ``dest`` does not exist, else a
    merge, after checking that no target escapes ``dest`` or clashes with what is there."""
    if not os.path.lexists(dest):
        os.rename(stage, dest)
        return
    if not dest.is_dir():
        raise ArtifactError(f"Cannot unpack into {str(dest)!r}: it exists and is not a folder.")
    root = dest.resolve()
    entries = sorted(check.kinds.items())  # parents before children
    for name, kind in entries:
        target, raw = dest / name, check.raw[name]
        for where in ((target.parent, target) if kind == "dir" else (target.parent,)):
            resolved = where.resolve()
            if resolved != root and root not in resolved.parents:
                check.refuse(raw, f"would be written outside {str(dest)!r}: {str(where)!r} is "
                                  f"a link to {str(resolved)!r}")
        if kind == "dir" and os.path.lexists(target) and not target.is_dir():
            check.refuse(raw, f"needs the folder {str(target)!r}, which exists and is not one")
        if kind == "file" and target.is_dir() and not target.is_symlink():
            check.refuse(raw, f"is a file, but {str(target)!r} is a folder")
    placed = []
    try:
        for name, kind in entries:
            target = dest / name
            if kind == "dir":
                if not target.is_dir():
                    target.mkdir()
                    placed.append(target)
            else:
                existed = os.path.lexists(target)
                os.replace(stage / name, target)  # replaces a link itself, never its target
                if not existed:
                    placed.append(target)
    except BaseException:
        for p in reversed(placed):
            try:
                p.rmdir() if p.is_dir() and not p.is_symlink() else p.unlink()
            except OSError:
                pass
        raise
    shutil.rmtree(stage, ignore_errors=True)
