"""ONNX route benchmark: conversion time and single-row onnxruntime latency, ours vs onnxmltools.

Standalone, public API only::

    .venv/bin/python benchmarks/bench_onnx.py [--trees 500] [--depth 6] [--reps 15]

Model: an XGBRegressor with 500 trees of depth 6 on 20 features. Latency: one row per
``InferenceSession.run`` (intra_op_num_threads=1), the two graphs interleaved repetition by
repetition (alternating which goes first) so that machine load hits both alike; the
reported figure is the median over repetitions of each repetition's median. Also timed:
``session.predict`` through portable (input checking included) for our artifact.
Writes ``benchmarks/results/onnx.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

import portable
from portable import api

from _models import xgb_regressor

RESULTS = Path(__file__).resolve().parent / "results" / "onnx.json"


def _model(trees: int, depth: int):
    est, X, _ = xgb_regressor(trees, depth)
    return est, X


def _best_of(fn, k: int = 5) -> float:
    times = []
    for _ in range(k):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def _session(data: bytes):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])


def _latency(sessions: dict, X: np.ndarray, reps: int, calls: int) -> dict:
    """Median (over reps) of per-rep median single-row latency, in microseconds."""
    feeds = {k: (s, s.get_inputs()[0].name, [s.get_outputs()[-1].name if k == "onnxmltools"
                                              else "prediction"]) for k, s in sessions.items()}
    rows = [X[i:i + 1] for i in range(calls)]
    per = {k: [] for k in sessions}
    order = list(sessions)
    for r in range(reps):
        for k in (order if r % 2 == 0 else order[::-1]):
            s, name, outs = feeds[k]
            ts = []
            for row in rows:
                t = time.perf_counter()
                s.run(outs, {name: row})
                ts.append(time.perf_counter() - t)
            per[k].append(statistics.median(ts) * 1e6)
    return {k: {"median_us": statistics.median(v), "min_us": min(v), "max_us": max(v)}
            for k, v in per.items()}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trees", type=int, default=500)
    p.add_argument("--depth", type=int, default=6)
    p.add_argument("--reps", type=int, default=15)
    p.add_argument("--calls", type=int, default=300)
    args = p.parse_args(argv)

    est, X = _model(args.trees, args.depth)
    t_import = _best_of(lambda: portable.import_model(est))
    ir_model = portable.import_model(est)
    t_convert = _best_of(lambda: api.convert(ir_model, format="onnx"))
    t_convert_all = _best_of(lambda: api.convert(est, format="onnx"), k=3)
    with tempfile.TemporaryDirectory() as tmp:
        ours_art = api.export(est, format="onnx", out_dir=Path(tmp) / "ours")
        t_upstream = _best_of(lambda: api.convert(est, format="onnx", engine="onnxmltools"), k=3)
        theirs_art = api.export(est, format="onnx", out_dir=Path(tmp) / "onnxmltools",
                                engine="onnxmltools", sample=X[:200])
        ours = (ours_art.path / "model.onnx").read_bytes()
        theirs = (theirs_art.path / "model.onnx").read_bytes()
        session = api.load(ours_art.path)
        held = X[:args.calls].astype(np.float64)
        lat = _latency({"portable": _session(ours), "onnxmltools": _session(theirs)}, X,
                       args.reps, args.calls)
        ts = []
        for r in range(args.reps):
            t = time.perf_counter()
            for i in range(args.calls):
                session.predict(held[i:i + 1])
            ts.append((time.perf_counter() - t) / args.calls * 1e6)
        session.close()
        parity = ours_art.manifest["parity"]
    result = {
        "model": {"estimator": "XGBRegressor", "trees": args.trees, "max_depth": args.depth,
                  "features": X.shape[1], "leaves": ir_model.estimator.n_leaves()},
        "conversion_s": {"import_model": t_import, "convert_ir_to_onnx": t_convert,
                         "convert_from_estimator": t_convert_all,
                         "onnxmltools_convert": t_upstream},
        "model_bytes": {"portable": len(ours), "onnxmltools": len(theirs)},
        "single_row_latency": lat,
        "latency_ratio_portable_over_onnxmltools": lat["portable"]["median_us"]
        / lat["onnxmltools"]["median_us"],
        "portable_session_predict_us": statistics.median(ts),
        "parity_at_export": {"rows": parity.get("rows"),
                             "margin_max_ulp": parity.get("margin", {}).get("max_ulp"),
                             "prediction_max_ulp": parity.get("prediction", {}).get("max_ulp")},
        "settings": {"threads": 1, "reps": args.reps, "calls_per_rep": args.calls,
                     "interleaved": True},
        "environment": {"python": platform.python_version(), "machine": platform.machine(),
                        "portable": portable.__version__},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    _print(result)
    return result


def _print(r: dict) -> None:
    c, lat = r["conversion_s"], r["single_row_latency"]
    print(f"XGBRegressor {r['model']['trees']} trees, depth {r['model']['max_depth']}, "
          f"{r['model']['leaves']} leaves")
    print(f"{'measure':44s} {'value':>12s}")
    for k, v in c.items():
        print(f"{'conversion ' + k + ' (s)':44s} {v:12.3f}")
    for k, v in lat.items():
        print(f"{'single-row latency ' + k + ' (us, median)':44s} {v['median_us']:12.1f}")
    print(f"{'latency ratio portable / onnxmltools':44s} "
          f"{r['latency_ratio_portable_over_onnxmltools']:12.3f}")
    print(f"{'portable session.predict, 1 row (us)':44s} {r['portable_session_predict_us']:12.1f}")
    print(f"{'model.onnx bytes portable / onnxmltools':44s} "
          f"{r['model_bytes']['portable']:>6d} / {r['model_bytes']['onnxmltools']}")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
