"""The native runtimes: compile caches, missing toolchains, process lifetimes, timeouts and
input errors."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import portable
from portable.errors import InputError, RuntimeFailedError, RuntimeRestartWarning, RuntimeUnavailableError
from portable.runtimes import RUNTIMES
from portable.runtimes._subprocess import PipeSession

from test_native_models import model, rows

LANGUAGES = {"c": "gcc", "python": "cpython", "java": "jvm", "javascript": "node"}


def _export(tmp_path, name, lang):
    if RUNTIMES.get(LANGUAGES[lang]).available():
        pytest.skip(RUNTIMES.get(LANGUAGES[lang]).available())
    return portable.api.convert(model(name), format=lang).save(tmp_path / lang, check=False)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child that is not yet reaped is a zombie: dead for our purposes.
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().split(")")[-1].split()[0] != "Z"


def test_c_library_is_compiled_once_per_content_hash_in_portable_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTABLE_CACHE_DIR", str(tmp_path / "cache"))
    art = _export(tmp_path, "xgb_reg", "c")
    a = portable.load(art.path)
    lib = a.path
    assert str(lib).startswith(str(tmp_path / "cache" / "c"))
    stamp = lib.stat().st_mtime_ns
    t = time.perf_counter()
    b = portable.load(art.path)
    assert time.perf_counter() - t < 0.5 and b.path == lib and lib.stat().st_mtime_ns == stamp
    other = _export(tmp_path / "o", "xgb_binary", "c")
    assert portable.load(other.path).path != lib


def test_available_says_which_toolchain_is_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no gcc, java, node
    monkeypatch.delenv("CC", raising=False)
    assert "gcc" in RUNTIMES.get("gcc").available()
    assert "javac" in RUNTIMES.get("jvm").available()
    assert "Node.js" in RUNTIMES.get("node").available()
    assert RUNTIMES.get("cpython").available() is None


@pytest.mark.parametrize("lang", ["java", "javascript"])
def test_engine_process_dies_on_close_and_when_the_session_is_dropped(tmp_path, lang):
    art = _export(tmp_path, "xgb_multi", lang)
    s = portable.load(art.path)
    pid = s.pid
    assert s.predict(rows("xgb_multi", "random")).shape == (60, 3) and _alive(pid)
    s.close()
    assert not _alive(pid)
    s = portable.load(art.path)
    pid = s.pid
    del s
    gc.collect()
    assert not _alive(pid)


@pytest.mark.parametrize("lang", ["java", "javascript"])
def test_no_engine_process_outlives_the_interpreter(tmp_path, lang):
    art = _export(tmp_path, "xgb_reg", lang)
    code = ("import portable, sys; s = portable.load(sys.argv[1]); "
            "s.predict([[0.0] * 6]); print(s.pid)")  # exits without close()
    out = subprocess.run([sys.executable, "-c", code, str(art.path)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    pid = int(out.stdout.strip())
    for _ in range(50):
        if not _alive(pid):
            break
        time.sleep(0.1)
    assert not _alive(pid)


def test_a_silent_engine_times_out_and_is_killed():
    meta = {"n_features": 1, "n_margin": 1, "n_prediction": 1, "output_dtype": "float64",
            "string_columns": [0]}
    sig = model("linear").signature.__class__(("x",), ("float64",), "regression",
                                               ("prediction",), "value")
    s = PipeSession([sys.executable, "-c", "import time; time.sleep(60)"], cwd=".",
                    signature=sig, meta=meta, timeout=0.5, engine="sleeper")
    pid = s.pid
    t = time.perf_counter()
    with pytest.warns(RuntimeRestartWarning, match="gave no answer within 0.5 s"), \
            pytest.raises(RuntimeFailedError, match="stopped answering"):
        s.predict(np.zeros((1, 1)))
    assert time.perf_counter() - t < 5 and not _alive(pid) and s.restarts == 1


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_unknown_category_is_an_input_error_naming_row_and_column(tmp_path, lang):
    art = _export(tmp_path, "onehot_error_linear", lang)
    s = portable.load(art.path)
    try:
        X = rows("onehot_error_linear", "random")[:5].copy()
        j = list(model("onehot_error_linear").signature.feature_names).index("size")
        X[3, j] = 7.0  # sizes seen in training: 1, 2, 3
        with pytest.raises(InputError, match=r"'size' \(row 3\)"):
            s.predict(X)
        X[3, j] = 2.0
        assert s.predict(X).shape == (5, 2)  # the session still works afterwards
    finally:
        s.close()


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_large_batches_and_repeated_calls_agree_with_the_reference(tmp_path, lang):
    art = _export(tmp_path, "xgb_binary", lang)
    s = portable.load(art.path)
    try:
        m = model("xgb_binary")
        X = np.random.default_rng(3).normal(size=(3000, 6))
        X[X > 1.5] = np.nan
        ref = portable.evaluate(m, X, output="margin")
        for _ in range(2):
            assert np.array_equal(s.predict(X, output="margin"), ref)
        assert np.array_equal(s.predict(X[5]), portable.evaluate(m, X[5:6]))  # a 1-D row
    finally:
        s.close()


def test_closed_sessions_refuse_to_predict(tmp_path):
    s = portable.load(_export(tmp_path, "xgb_reg", "c").path)
    s.close()
    with pytest.raises(RuntimeUnavailableError, match="closed"):
        s.predict(np.zeros((1, 6)))
