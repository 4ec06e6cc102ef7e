"""portable.bench and `portable bench`: single-row latency quantiles, batch throughput, cold
start and memory in a fresh process, interleaved shuffled rounds, ratios vs the source."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from click.testing import CliRunner

from portable.bench import Runner, _batches, _single_row, bench
from portable.commands.harness import bench as bench_cmd

xgb = pytest.importorskip("xgboost")
pytest.importorskip("onnxruntime")
from sklearn.datasets import make_regression  # noqa: E402


# The engines under test warn freely (converter versions, float casts); keep output readable.
pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture(scope="module")
def regressor():
    X, y = make_regression(n_samples=500, n_features=6, random_state=0)
    return xgb.XGBRegressor(n_estimators=20, max_depth=4, n_jobs=1, random_state=0).fit(X, y)


@pytest.fixture(scope="module")
def quick(regressor):
    return bench(regressor, formats=["onnx"], engines=["onnxmltools"], quick=True, seed=3)


def test_quick_bench_times_source_portable_and_peers_with_ratios(quick):
    res, s = quick, quick["settings"]
    runners = res["runners"]
    assert res["reference"] == "xgboost.predict_proba" or res["reference"] == "xgboost.predict"
    expected = {"xgboost.predict", "xgboost.inplace_predict", "onnx/onnxruntime",
                "onnx (InferenceSession.run, no portable wrapper)",
                "onnx[onnxmltools]/onnxruntime",
                "onnx[onnxmltools]/onnxruntime (InferenceSession.run)"}
    assert expected <= {n for n, e in runners.items() if e["status"] == "ok"}
    assert runners["onnx/onnxruntime"]["kind"] == "portable"
    assert runners["xgboost.predict"]["paired_speedup"]["median"] == 1.0
    for name in expected:
        e = runners[name]
        lat = e["latency_us"]
        assert lat["n"] == s["rounds"] * e["calls_per_round"] and lat["n"] >= 9
        assert 0 < lat["p1"] <= lat["p50"] <= lat["p90"] <= lat["p99"]
        assert sum(lat["hist"]["counts"]) == lat["n"]
        ps = e["paired_speedup"]
        assert ps["p10"] <= ps["median"] <= ps["p90"]
        assert set(e["batch"]) == {"1", "100", "1000"}
        for b in e["batch"].values():
            assert b["rows_per_s"] > 0 and b["reps"] >= 3 and b["seconds_median"] > 0
        cs = e["cold_start"]
        assert cs["wall_s"] > cs["load_to_first_prediction_s"] > 0
        assert cs["rss_peak_mb"] >= cs["rss_before_mb"] > 0 and cs["rss_delta_mb"] >= 0
    assert runners["xgboost.predict"]["batch"]["1000"]["speedup"] == 1.0
    # Our graph reproduces XGBoost's float32 predictions bit for bit on the 1,000-row batch.
    assert runners["onnx/onnxruntime"]["max_abs_vs_source"] == 0.0
    for peer in ("m2cgen-Python", "tl2cgen"):  # only where installed
        assert runners[peer]["status"] in ("ok", "skipped", "error")
        if runners[peer]["status"] == "skipped":
            assert "not installed" in runners[peer]["reason"]
    json.dumps(res)


def test_missing_routes_are_listed_not_dropped(quick):
    skipped = {n: e for n, e in quick["runners"].items() if e["status"] != "ok"}
    for e in skipped.values():
        assert e["reason"]


def _fake(name, log, delay=0.0):
    def call(A):
        log.append(name)
        if delay:
            time.sleep(delay * len(A))
        return np.zeros((len(A), 1))
    return Runner(name, "portable", call=call)


def test_rounds_are_interleaved_in_a_seeded_shuffled_order():
    X = np.zeros((50, 2))

    def orders(seed):
        log = []
        runners = [_fake(n, log) for n in "abcd"]
        _single_row(runners, X, rounds=12, calls=5, warmup=1, budget=10.0,
                    rng=np.random.default_rng(seed), step=lambda s: None)
        timed = log[4:]  # after one warm-up call each
        return ["".join(timed[i:i + 20:5]) for i in range(0, len(timed), 20)]

    first, again, other = orders(1), orders(1), orders(2)
    assert len(first) == 12 and all(sorted(o) == list("abcd") for o in first)
    assert first == again  # reproducible from the seed
    assert len(set(first)) > 3 and first != other  # shuffled per round


def test_a_slow_runtime_is_cut_to_its_budget_and_big_batches_are_skipped_with_a_reason():
    X = np.zeros((20_000, 2))
    log = []
    fast, slow = _fake("fast", log), _fake("slow", log, delay=0.002)
    lat, _, n_calls, per_row = _single_row([fast, slow], X, rounds=5, calls=100, warmup=5,
                                           budget=0.25, rng=np.random.default_rng(0),
                                           step=lambda s: None)
    assert n_calls["fast"] == 100 and n_calls["slow"] < 100
    assert lat["slow"]["p50"] > 1500  # µs: the 2 ms sleep
    out, _ = _batches([fast, slow], X, (1, 100, 10_000), reps=5, budget=2.0,
                      rng=np.random.default_rng(0), step=lambda s: None, reference="fast",
                      per_row=per_row)
    assert "budget" in out["slow"]["10000"]["skipped"] and "rows_per_s" in out["fast"]["10000"]
    assert out["slow"]["100"]["reps"] >= 3
    assert out["fast"]["100"]["speedup"] == 1.0 and out["slow"]["100"]["speedup"] < 0.1


def test_cli_bench_json_and_report(regressor, tmp_path):
    import joblib

    path = tmp_path / "m.joblib"
    joblib.dump(regressor, path)
    r = CliRunner().invoke(bench_cmd, [str(path), "--formats", "onnx", "--no-peers", "--quick",
                                       "--json", "--report", str(tmp_path / "b.html")])
    assert r.exit_code == 0, r.output
    res = json.loads(r.output.split("wrote ")[0])
    assert res["kind"] == "bench" and res["settings"]["quick"] and not res["settings"]["peers"]
    assert {n for n, e in res["runners"].items() if e["status"] == "ok"} == {
        "xgboost.predict", "onnx/onnxruntime"}
    assert 'class="plot latency-dist"' in (tmp_path / "b.html").read_text()


def test_benchmark_suite_quick_mode_writes_json_html_and_markdown(tmp_path):
    """benchmarks/run_all.py --quick on the random forest (M3) and the sentiment workload
    (recorded with a note when no route can express it)."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "run_all.py"
    out = subprocess.run([sys.executable, str(script), "--quick", "--models", "M3,sentiment",
                          "--out", str(tmp_path), "--cache", str(tmp_path / "cache")],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    suite = json.loads((tmp_path / "suite-quick.json").read_text())
    assert suite["kind"] == "suite" and suite["quick"]
    m3, sentiment = suite["models"]
    assert m3["name"] == "M3" and m3["verify"]["passed"]
    assert m3["verify"]["rows"]["held_out"] == 1000
    assert m3["bench"]["runners"]["sklearn.predict_proba"]["status"] == "ok"
    assert sentiment.get("note") or sentiment["verify"]["passed"]
    assert (tmp_path / "report.html").read_text().count('class="plot ') >= 3
    assert "| M3 |" in (tmp_path / "report.md").read_text()
