"""Scale: a 2,000-tree depth-10 ensemble of a trained XGBoost model's size generates without
recursion in < 10 s per language and splits into many sources; with every tree complete
(4.1 M nodes, the worst case of that shape) the C build takes < 2 min within 4 GiB on
2 cores."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import time

import numpy as np
import pytest

import portable
from portable import ir

N_TREES, DEPTH, N_FEATURES = 2000, 10, 30


def ensemble(*, full: bool, seed=0) -> ir.Model:
    """XGBoost-style (float32, x < t, mixed missing directions) trees of depth DEPTH.

    ``full``: every tree complete (2,047 nodes, 4.1 M in all: the worst case). Otherwise
    each node below DEPTH splits with probability 0.9 and the leftmost path always does,
    ~900 nodes per tree, the size of a trained XGBRegressor(2000, max_depth=10) on 20k rows
    (1.7 M nodes, measured)."""
    rng = np.random.default_rng(seed)
    trees = []
    for _ in range(N_TREES):
        depth_of, feature, thr, left, right, dleft = [0], [], [], [], [], []
        i = 0
        while i < len(depth_of):
            split = depth_of[i] < DEPTH and (full or rng.random() < 0.9 or
                                             i == 0 or left and i == left[-1] and depth_of[i] == len(left))
            if split:
                left.append(len(depth_of))
                right.append(len(depth_of) + 1)
                depth_of += [depth_of[i] + 1, depth_of[i] + 1]
            else:
                left.append(-1)
                right.append(-1)
            i += 1
        n = len(depth_of)
        leaf = np.array(left) == -1
        feature = np.where(leaf, -1, rng.integers(0, N_FEATURES, n)).astype(np.int32)
        thr = np.where(leaf, 0, rng.normal(size=n)).astype(np.float32)
        value = np.where(leaf, rng.normal(scale=0.01, size=n), 0).astype(np.float32)[:, None]
        trees.append(ir.Tree(feature, thr, np.array(left, np.int32), np.array(right, np.int32),
                             rng.random(n) < 0.5, value))
    ens = ir.TreeEnsemble(tuple(trees), N_FEATURES, 1, np.array([0.5], np.float32), split_op="<",
                          input_dtype="float32", threshold_dtype="float32",
                          accumulate_dtype="float32")
    names = tuple(f"f{i}" for i in range(N_FEATURES))
    sig = ir.Signature(names, ("float32",) * N_FEATURES, "regression", ("prediction",), "value")
    return ir.check_model(ir.Model(sig, (ens,), ir.Source("xgboost", "3.2.0", "XGBRegressor")))


@pytest.fixture(scope="module")
def big():
    return ensemble(full=True)


@pytest.fixture(scope="module")
def realistic():
    m = ensemble(full=False)
    assert m.estimator.max_depth() == DEPTH
    return m


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["c", "python", "java", "javascript"])
def test_2000_trees_of_depth_10_generate_in_under_10_seconds_in_chunks(realistic, lang):
    from portable.converters import CONVERTERS
    # CPU seconds: the machine is shared, and other jobs' load must not fail the test.
    t = time.process_time()
    files = CONVERTERS.get(lang)().convert(realistic)
    took = time.process_time() - t
    assert took < 10, f"{lang}: {took:.1f} s"
    sources = [k for k in files if k.endswith((".c", ".py", ".java", ".js"))]
    assert len(sources) > 10  # split into chunks, none of them huge
    assert max(len(files[k]) for k in sources) < 40_000_000


@pytest.mark.slow
def test_c_build_of_2000_depth_10_trees_takes_under_2_minutes_within_4_gib(big, tmp_path):
    if shutil.which("make") is None or shutil.which("gcc") is None:
        pytest.skip("make/gcc not installed")
    from portable.converters.code.c import CConverter
    for path, data in CConverter().convert(big).items():
        (tmp_path / path).write_bytes(data)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    r = subprocess.run(["make", "-j2", "libmodel.so"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=600)
    took = time.perf_counter() - t
    assert r.returncode == 0, r.stderr[-2000:]
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert took < 120, f"{took:.0f} s"
    # -j2: at most two compilers at once, each at most peak_kib.
    assert 2 * max(peak_kib, before) < 4 * 1024 * 1024, f"{peak_kib / 1024:.0f} MiB per compiler"
    # The library it built predicts like the reference, bit for bit.
    import ctypes
    lib = ctypes.CDLL(os.path.join(tmp_path, "libmodel.so"))
    X = np.random.default_rng(1).normal(size=(50, N_FEATURES))
    out = np.empty(50)
    lib.portable_predict(ctypes.c_void_p(X.ctypes.data), None, 50, 0,
                         ctypes.c_void_p(out.ctypes.data), None)
    assert np.array_equal(out.astype(np.float32), portable.evaluate(big, X, output="margin")[:, 0])
