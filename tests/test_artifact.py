"""Artifact folders are written atomically and checked against their manifest."""

import json
import os

import pytest

from portable.artifact import MANIFEST, read_artifact, write_artifact
from portable.errors import ArtifactError


def test_write_then_read_round_trips_with_checksums(tmp_path):
    art = write_artifact(tmp_path / "a", {"model.bin": b"abc", "sub/x.txt": b"x"}, {"format": "t"})
    again = read_artifact(art.path)
    assert again.manifest["files"]["model.bin"]["bytes"] == 3
    assert (art.path / "sub" / "x.txt").read_bytes() == b"x"


def test_a_failure_before_commit_leaves_no_folder_and_no_temporaries(tmp_path):
    def boom(tmp):
        raise RuntimeError("killed half-way")

    with pytest.raises(RuntimeError):
        write_artifact(tmp_path / "a", {"m": b"1"}, {"format": "t"}, admit=boom)
    assert os.listdir(tmp_path) == []


def test_a_failed_re_export_keeps_the_previous_artifact(tmp_path):
    write_artifact(tmp_path / "a", {"m": b"old"}, {"format": "t"})
    with pytest.raises(RuntimeError):
        write_artifact(tmp_path / "a", {"m": b"new"}, {"format": "t"},
                       admit=lambda tmp: (_ for _ in ()).throw(RuntimeError("x")))
    assert (tmp_path / "a" / "m").read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["a"]


def test_tampering_is_detected(tmp_path):
    art = write_artifact(tmp_path / "a", {"m": b"1"}, {"format": "t"})
    (art.path / "m").write_bytes(b"2")
    with pytest.raises(ArtifactError, match="does not match its checksum"):
        read_artifact(art.path)


def test_refuses_to_replace_a_folder_that_is_not_an_artifact(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("precious")
    with pytest.raises(ArtifactError, match="not a portable artifact"):
        write_artifact(tmp_path / "mine", {"m": b"1"}, {"format": "t"})
    assert (tmp_path / "mine" / "notes.txt").read_text() == "precious"


def test_refuses_paths_that_escape_the_folder(tmp_path):
    with pytest.raises(ArtifactError, match="outside the artifact folder"):
        write_artifact(tmp_path / "a", {"../evil": b"1"}, {"format": "t"})
    assert not (tmp_path / "evil").exists()


def test_missing_manifest_and_bad_json_are_artifact_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ArtifactError, match="has no portable.json"):
        read_artifact(tmp_path / "empty")
    (tmp_path / "empty" / MANIFEST).write_text("{not json")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        read_artifact(tmp_path / "empty")
    assert json.loads('{"ok": 1}')
