"""Archives portable unpacks (``model.tar.gz`` by ``serve``/``package``, ``lambda.zip`` by
``package --target lambda``): hostile members are refused with UnsafeArchiveError naming
them, nothing is written (not outside the destination, not a partial tree inside it), and
sizes are bounded before anything is decompressed."""

from __future__ import annotations

import gzip
import io
import os
import stat
import struct
import tarfile
import time
import warnings
import zipfile

import pytest

from portable.errors import ArtifactError, UnsafeArchiveError
from portable.packaging.lambda_ import zip_bytes
from portable.packaging.tarball import tar_bytes
from portable.packaging.unpack import extract, extract_zip, members

GOOD = b"a harmless file that a naive extractor writes before the bad member\n"


# ----------------------------------------------------------------------------- builders
def _tar(*entries, fmt=tarfile.USTAR_FORMAT) -> bytes:
    """A tar.gz of ``(TarInfo-or-name, data-or-None)`` entries, in order."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=fmt) as tar:
        for info, data in entries:
            if isinstance(info, str):
                info = tarfile.TarInfo(info)
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return gzip.compress(raw.getvalue(), mtime=0)


def _special(name, kind, linkname=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = 1, 3  # /dev/null's numbers
    return info, None


def _zip(*entries) -> bytes:
    """A zip of ``(name, data, unix_mode_or_None)`` entries."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name": that is the point
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data, mode in entries:
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                if mode is not None:
                    info.create_system, info.external_attr = 3, mode << 16
                z.writestr(info, data)
    return buf.getvalue()


def _zf(name, data=GOOD, mode=None):
    return (name, data, mode)


def _patch_zip(data: bytes, name: bytes, fmt: str, local_at: int, central_at: int,
               value: int) -> bytes:
    """Overwrite one field of member ``name`` in its local header and its central directory
    entry (``local_at``/``central_at``: the field's offsets in those records)."""
    out = bytearray(data)
    for sig, name_len_at, name_at, field_at in ((b"PK\x03\x04", 26, 30, local_at),
                                                (b"PK\x01\x02", 28, 46, central_at)):
        at = out.find(sig)
        while at >= 0:
            n = struct.unpack_from("<H", out, at + name_len_at)[0]
            if out[at + name_at:at + name_at + n] == name:
                struct.pack_into(fmt, out, at + field_at, value)
            at = out.find(sig, at + 4)
    return bytes(out)


def _patch_zip_sizes(data: bytes, name: bytes, size: int) -> bytes:
    """Make ``name`` declare ``size`` uncompressed bytes (its real content stays small)."""
    return _patch_zip(data, name, "<I", 22, 24, size)


def _encrypted_zip() -> bytes:
    """A zip whose second member has the "encrypted" flag set (zipfile cannot write one)."""
    return _patch_zip(_zip(_zf("good.txt"), _zf("secret.bin", b"x")), b"secret.bin", "<H",
                      6, 8, 0x1)


def _tree(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


# ----------------------------------------------------------------------------- hostile tars
HOSTILE_TARS = {
    "dotdot": (lambda t: _tar(("good.txt", GOOD), ("../../evil", b"pwned")),
               r"member '\.\./\.\./evil' has a '\.\.' component"),
    "dotdot_inside": (lambda t: _tar(("good.txt", GOOD), ("a/b/../../../../evil", b"pwned")),
                      r"member 'a/b/\.\./\.\./\.\./\.\./evil' has a '\.\.' component"),
    "absolute": (lambda t: _tar(("good.txt", GOOD), (str(t / "abs-evil"), b"pwned")),
                 r"member '/.*/abs-evil' is an absolute path"),
    "backslash": (lambda t: _tar(("good.txt", GOOD), ("..\\..\\evil", b"pwned")),
                  r"has a backslash or a control character"),
    "control_char": (lambda t: _tar(("good.txt", GOOD), ("evil\nname", b"pwned")),
                     r"has a backslash or a control character"),
    "symlink": (lambda t: _tar(("good.txt", GOOD), _special("link", tarfile.SYMTYPE, str(t)),
                               ("link/evil", b"pwned")),
                r"member 'link' is a symbolic link \(to '/.*'\); only regular files"),
    "relative_symlink": (lambda t: _tar(("good.txt", GOOD),
                                        _special("up", tarfile.SYMTYPE, "../.."),
                                        ("up/evil", b"pwned")),
                         r"member 'up' is a symbolic link \(to '\.\./\.\.'\)"),
    "hardlink": (lambda t: _tar(("good.txt", GOOD),
                                _special("hard", tarfile.LNKTYPE, "/etc/passwd")),
                 r"member 'hard' is a hard link \(to '/etc/passwd'\)"),
    "fifo": (lambda t: _tar(("good.txt", GOOD), _special("pipe", tarfile.FIFOTYPE)),
             r"member 'pipe' is a FIFO"),
    "char_device": (lambda t: _tar(("good.txt", GOOD), _special("null", tarfile.CHRTYPE)),
                    r"member 'null' is a device"),
    "block_device": (lambda t: _tar(("good.txt", GOOD), _special("disk", tarfile.BLKTYPE)),
                     r"member 'disk' is a device"),
    "duplicate": (lambda t: _tar(("good.txt", GOOD), ("good.txt", b"replaced")),
                  r"member 'good\.txt' appears twice"),
    "file_then_folder": (lambda t: _tar(("good.txt", GOOD), ("good.txt/x", b"x")),
                         r"member 'good\.txt/x' lies under 'good\.txt', which is a file"),
    "folder_then_file": (lambda t: _tar(("d/good.txt", GOOD), ("d", b"x")),
                         r"member 'd' is both a file and a folder"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_TARS))
def test_hostile_tar_members_are_refused_and_nothing_is_written(tmp_path, case):
    build, said = HOSTILE_TARS[case]
    work = tmp_path / "work"
    work.mkdir()
    data = build(work)
    path = tmp_path / "model.tar.gz"
    path.write_bytes(data)
    dest = work / "new" / "out"  # neither exists: both must be gone again afterwards
    for archive in (path, data):
        with pytest.raises(UnsafeArchiveError, match=said) as e:
            extract(archive, dest)
        assert "Nothing was written" in str(e.value)
        assert _tree(work) == []  # no member, no stage folder, no created parent
    with pytest.raises(UnsafeArchiveError, match=said):
        members(data)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.tar.gz", "work"]


@pytest.mark.parametrize("case", ["dotdot", "symlink", "fifo", "duplicate"])
def test_refusal_leaves_an_existing_destination_as_it_was(tmp_path, case):
    dest = tmp_path / "dest"
    (dest / "keep").mkdir(parents=True)
    (dest / "keep" / "mine.txt").write_bytes(b"mine")
    (dest / "good.txt").write_bytes(b"old")
    before = {p: p.read_bytes() for p in dest.rglob("*") if p.is_file()}
    build, said = HOSTILE_TARS[case]
    with pytest.raises(UnsafeArchiveError, match=said):
        extract(build(tmp_path), dest)
    assert {p: p.read_bytes() for p in dest.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dest"]  # no stage folder left


def test_a_link_already_in_the_destination_cannot_carry_members_outside(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "sub").symlink_to(outside)
    data = _tar(("good.txt", GOOD), ("sub/evil", b"pwned"))
    with pytest.raises(UnsafeArchiveError, match=r"member 'sub/evil' would be written outside"):
        extract(data, dest)
    assert list(outside.iterdir()) == [] and sorted(p.name for p in dest.iterdir()) == ["sub"]
    # A file member whose name is a link in the destination replaces the link, never
    # writes through it.
    (dest / "sub").unlink()
    (dest / "cfg").symlink_to(outside / "target.txt")
    extract(_tar(("cfg", b"new")), dest)
    assert not (dest / "cfg").is_symlink() and (dest / "cfg").read_bytes() == b"new"
    assert list(outside.iterdir()) == []


# ----------------------------------------------------------------------------- sizes
def _huge_member_tar(size: int) -> bytes:
    """A tar.gz whose member declares ``size`` bytes and holds 64 KiB of zeros: what a
    naive reader would decompress and write for minutes."""
    info = tarfile.TarInfo("huge.bin")
    info.size = size
    head = tarfile.TarInfo("good.txt")
    head.size = len(GOOD)
    raw = (head.tobuf(tarfile.USTAR_FORMAT) + GOOD + b"\0" * (512 - len(GOOD))
           + info.tobuf(tarfile.USTAR_FORMAT) + b"\0" * 65536)
    return gzip.compress(raw, mtime=0)


def test_a_member_declaring_more_than_the_default_limit_is_refused_before_reading(tmp_path):
    data = _huge_member_tar(3 << 30)  # 3 GiB against the default 2 GiB
    assert len(data) < 10_000
    t = time.perf_counter()
    with pytest.raises(UnsafeArchiveError, match=r"member 'huge\.bin' declares 3,221,225,472 "
                                                 r"bytes.*2,147,483,648-byte limit"):
        extract(data, tmp_path / "out")
    assert time.perf_counter() - t < 2 and _tree(tmp_path) == []


def test_bomb_like_archives_are_bounded_by_max_bytes_and_the_environment(tmp_path,
                                                                          monkeypatch):
    zeros = [(f"part{i}.bin", b"\0" * 4000) for i in range(5)]  # 20 kB, compresses to ~100 B
    data = _tar(*zeros)
    assert len(data) < 1000
    with pytest.raises(UnsafeArchiveError, match=r"member 'part2\.bin' declares 4,000 bytes.*"
                                                 r"10,000-byte limit"):
        extract(data, tmp_path / "out", max_bytes=10_000)
    monkeypatch.setenv("PORTABLE_MAX_UNPACK_BYTES", "10000")
    with pytest.raises(UnsafeArchiveError, match=r"'part2\.bin'.*10,000-byte limit"):
        members(data)
    with pytest.raises(UnsafeArchiveError, match=r"'part2\.bin'.*10,000-byte limit"):
        extract_zip(zip_bytes(dict(zeros)), tmp_path / "out")
    monkeypatch.setenv("PORTABLE_MAX_UNPACK_BYTES", "lots")
    with pytest.raises(ArtifactError, match="PORTABLE_MAX_UNPACK_BYTES='lots' is not a valid"):
        extract(data, tmp_path / "out")
    monkeypatch.delenv("PORTABLE_MAX_UNPACK_BYTES")
    assert len(members(data, max_bytes=20_000)) == 5  # exactly at the limit is fine
    with pytest.raises(UnsafeArchiveError, match=r"member 'part3\.bin' is one member too many"):
        extract(data, tmp_path / "out", max_members=3)
    assert _tree(tmp_path) == []


def test_an_oversized_pax_record_is_refused_before_tarfile_reads_it_whole(tmp_path):
    info = tarfile.TarInfo("good.txt")
    info.size = len(GOOD)
    info.pax_headers = {"comment": "x" * (3 << 20)}  # 3 MiB of header before the member
    data = _tar((info, GOOD), fmt=tarfile.PAX_FORMAT)
    with pytest.raises(UnsafeArchiveError, match=r"its first header runs beyond 1,048,576 bytes"):
        extract(data, tmp_path / "out")
    assert _tree(tmp_path) == []


def test_truncated_and_non_archives_are_artifact_errors_with_nothing_written(tmp_path):
    data = tar_bytes({"a.bin": os.urandom(200_000), "b.txt": GOOD})
    for bad in (data[: len(data) // 2], b"not an archive at all", b""):
        with pytest.raises(ArtifactError, match="tar.gz") as e:
            extract(bad, tmp_path / "out")
        assert not isinstance(e.value, UnsafeArchiveError)
        with pytest.raises(ArtifactError, match="zip"):
            extract_zip(bad, tmp_path / "out")
    assert _tree(tmp_path) == []
    with pytest.raises(ArtifactError, match="No such archive"):
        extract(tmp_path / "missing.tar.gz", tmp_path / "out")


# ----------------------------------------------------------------------------- hostile zips
S_LINK, S_FIFO, S_CHR = stat.S_IFLNK | 0o777, stat.S_IFIFO | 0o644, stat.S_IFCHR | 0o644
HOSTILE_ZIPS = {
    "dotdot": ([_zf("good.txt"), _zf("../../evil")], r"'\.\./\.\./evil' has a '\.\.' component"),
    "absolute": ([_zf("good.txt"), _zf("/tmp/evil")], r"'/tmp/evil' is an absolute path"),
    "backslash": ([_zf("good.txt"), _zf("..\\..\\evil")], r"has a backslash"),
    "symlink": ([_zf("good.txt"), _zf("link", b"/etc", S_LINK), _zf("link/evil")],
                r"member 'link' is a symbolic link"),
    "fifo": ([_zf("good.txt"), _zf("pipe", b"", S_FIFO)], r"member 'pipe' is a FIFO"),
    "device": ([_zf("good.txt"), _zf("null", b"", S_CHR)], r"member 'null' is a device"),
    "duplicate": ([_zf("good.txt"), _zf("good.txt", b"replaced")], r"appears twice"),
    "encrypted": (None, r"member 'secret\.bin' is an encrypted file"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_ZIPS))
def test_hostile_zip_members_are_refused_and_nothing_is_written(tmp_path, case):
    entries, said = HOSTILE_ZIPS[case]
    data = _encrypted_zip() if entries is None else _zip(*entries)
    path = tmp_path / "lambda.zip"
    path.write_bytes(data)
    work = tmp_path / "work"
    work.mkdir()
    for archive in (path, data):
        with pytest.raises(UnsafeArchiveError, match=said):
            extract_zip(archive, work / "new" / "out")
        assert _tree(work) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lambda.zip", "work"]


def test_a_zip_member_declaring_gigabytes_is_refused_before_inflating(tmp_path):
    data = _patch_zip_sizes(_zip(_zf("good.txt"), _zf("huge.bin", b"\0" * 65536)),
                            b"huge.bin", 3 << 30)
    assert zipfile.ZipFile(io.BytesIO(data)).getinfo("huge.bin").file_size == 3 << 30
    t = time.perf_counter()
    with pytest.raises(UnsafeArchiveError, match=r"member 'huge\.bin' declares 3,221,225,472"):
        extract_zip(data, tmp_path / "out")
    assert time.perf_counter() - t < 2 and _tree(tmp_path) == []
    # Declaring less than it holds is caught too (zipfile's CRC check): nothing written.
    small = _patch_zip_sizes(_zip(_zf("good.txt"), _zf("liar.bin", b"\0" * 65536)),
                             b"liar.bin", 10)
    with pytest.raises(ArtifactError, match="not a readable zip"):
        extract_zip(small, tmp_path / "out")
    assert _tree(tmp_path) == []


# ----------------------------------------------------------------------------- benign
def test_benign_archives_round_trip(tmp_path):
    files = {"model.onnx": os.urandom(100_000), "code/inference.py": b"print('hi')\n",
             "code/run.sh": b"#!/bin/sh\necho hi\n", "portable.json": b"{}\n"}
    out = extract(tar_bytes(files), tmp_path / "a" / "tar")
    assert {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()} \
        == files
    assert os.stat(out / "code" / "run.sh").st_mode & 0o111
    assert not os.stat(out / "model.onnx").st_mode & 0o111
    assert members(tar_bytes(files)) == files
    out = extract_zip(zip_bytes(files), tmp_path / "a" / "zip")
    assert {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()} \
        == files
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["tar", "zip"]  # no stage


def test_archives_made_with_tar_c_dot_are_accepted_and_merge_into_an_existing_folder(
        tmp_path):
    dot = tarfile.TarInfo(".")
    dot.type = tarfile.DIRTYPE
    sub = tarfile.TarInfo("./code")
    sub.type = tarfile.DIRTYPE
    data = _tar((dot, None), (sub, None), ("./code/inference.py", b"x = 1\n"),
                ("./xgboost-model", b"model"))
    dest = tmp_path / "opt-ml-model"
    dest.mkdir()
    (dest / "already-there").write_bytes(b"kept")
    extract(data, dest)
    assert _tree(dest) == ["already-there", "code", "code/inference.py", "xgboost-model"]
    assert (dest / "already-there").read_bytes() == b"kept"
    assert (dest / "xgboost-model").read_bytes() == b"model"
    assert members(data) == {"code/inference.py": b"x = 1\n", "xgboost-model": b"model"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["opt-ml-model"]
