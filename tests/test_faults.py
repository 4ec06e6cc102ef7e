"""Faults: an export killed at any moment leaves the previous artifact or none, never a
partial one, and the next export cleans up after it."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from portable.artifact import read_artifact
from portable.errors import ArtifactError

SCRIPT = """
import sys, numpy as np, xgboost as xgb, portable
from sklearn.datasets import make_regression
X, y = make_regression(2000, 10, random_state=0)
est = xgb.XGBRegressor(n_estimators=int(sys.argv[2]), max_depth=6, n_jobs=1).fit(X, y)
print("ready", flush=True)
portable.export(est, format=sys.argv[3], out_dir=sys.argv[1])
print("done", flush=True)
"""


def _export(out, trees=300, fmt="onnx", kill_after=None):
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(out), str(trees), fmt],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    if kill_after is None:
        assert proc.wait(timeout=300) == 0
        return True
    time.sleep(kill_after)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    return proc.returncode == 0


def _state(out):
    """'none', 'complete' (manifest and checksums hold), or raise on a partial artifact."""
    if not out.exists():
        return "none"
    read_artifact(out)  # raises ArtifactError on anything partial
    return "complete"


@pytest.mark.slow
def test_exports_killed_at_random_moments_never_leave_a_partial_artifact(tmp_path):
    rng = np.random.default_rng(0)
    out = tmp_path / "art"
    seen = {"none": 0, "complete": 0}
    for delay in rng.uniform(0.0, 1.2, size=8):
        _export(out, kill_after=float(delay))
        seen[_state(out)] += 1
    assert sum(seen.values()) == 8
    # The next complete export succeeds and removes whatever the killed ones left behind.
    _export(out)
    assert _state(out) == "complete"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["art"]


@pytest.mark.slow
def test_a_killed_re_export_keeps_the_previous_artifact(tmp_path):
    out = tmp_path / "art"
    _export(out, trees=50)
    before = read_artifact(out).manifest["fingerprint"]
    _export(tmp_path / "full", trees=300)  # what a whole new export writes (seeded training)
    after = read_artifact(tmp_path / "full").manifest["fingerprint"]
    assert before != after
    for delay in (0.05, 0.3, 0.6):
        _export(out, trees=300, kill_after=delay)
        assert _state(out) == "complete"
        assert read_artifact(out).manifest["fingerprint"] in (before, after)


def test_stale_temporaries_of_dead_writers_are_removed(tmp_path):
    from portable.artifact import write_artifact

    dead = 2 ** 22 + 12345  # above the default pid_max: never a live process
    (tmp_path / f".art.{dead}.abc.tmp").mkdir()
    (tmp_path / f".art.{dead}.abc.tmp" / "half").write_text("x")
    write_artifact(tmp_path / "art", {"m": b"1"}, {"format": "t"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["art"]


def test_a_kill_between_the_two_renames_restores_the_previous_artifact(tmp_path):
    from portable.artifact import write_artifact

    write_artifact(tmp_path / "art", {"m": b"old"}, {"format": "t"})
    dead = 2 ** 22 + 12345
    os.rename(tmp_path / "art", tmp_path / f".art.{dead}.old")  # the state after rename one
    write_artifact(tmp_path / "other", {"m": b"x"}, {"format": "t"})  # unrelated: untouched
    assert (tmp_path / f".art.{dead}.old").exists()
    with pytest.raises(ArtifactError):
        read_artifact(tmp_path / "art")
    write_artifact(tmp_path / "art", {"m": b"new"}, {"format": "t"})
    assert (tmp_path / "art" / "m").read_bytes() == b"new"
    assert not (tmp_path / f".art.{dead}.old").exists()
