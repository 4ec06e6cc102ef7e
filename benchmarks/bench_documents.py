"""Document route benchmark: PMML on JPMML-Evaluator (batch), PFA on titus2 (per row).

Standalone, public API only::

    .venv/bin/python benchmarks/bench_documents.py [--rows 20000] [--pfa-rows 200]

Models: an XGBRegressor with 500 trees of depth 6 and a RandomForestRegressor with 100
trees of depth 8, both on 20 features. Measured:

* export time (``portable.convert``) of each document, no JVM involved (checked);
* load time (JVM start for the first PMML, document parse, JPMML's verify of the golden
  rows; titus engine build);
* JPMML throughput: ``session.predict`` on ``--rows`` rows in one call (best of 3);
* titus throughput: ``session.predict`` on ``--pfa-rows`` rows (records, one at a time);
* parity of those predictions against ``portable.evaluate`` (max ULP, max abs).

Writes ``benchmarks/results/documents.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import portable

RESULTS = Path(__file__).resolve().parent / "results" / "documents.json"


def _models(n_test: int, seed: int = 0):
    import xgboost as xgb
    from sklearn.ensemble import RandomForestRegressor

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(5000, 20)).astype(np.float32).astype(np.float64)
    y = X[:, 0] * 2 + np.sin(X[:, 1] * 3) + X[:, 2] * X[:, 3] + rng.normal(size=5000) * 0.1
    xgb_est = xgb.XGBRegressor(n_estimators=500, max_depth=6, learning_rate=0.05,
                               tree_method="hist", n_jobs=2, random_state=0).fit(X, y)
    rf_est = RandomForestRegressor(n_estimators=100, max_depth=8, n_jobs=2,
                                   random_state=0).fit(X, y)
    Xtest = rng.normal(size=(n_test, 20))  # fresh rows (float64: the float32 cast is tested)
    return {"xgb_500x6": xgb_est, "rf_100x8": rf_est}, Xtest


def _best(fn, k: int = 3) -> float:
    best = float("inf")
    for _ in range(k):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def _parity(model, X, got) -> dict:
    from portable.parity import compare

    c = compare(portable.evaluate(model, X), got)
    return {"max_ulp": c["max_ulp"], "max_abs": c["max_abs"], "ulp_dtype": c["ulp_dtype"]}


def export_all(models: dict) -> dict:
    """Export every model to both formats before any engine starts; time the exports."""
    ir_models = {k: portable.import_model(est) for k, est in models.items()}
    times, bundles = {}, {}
    for name, model in ir_models.items():
        for fmt in ("pmml", "pfa"):
            times[name, fmt] = _best(lambda: portable.convert(model, format=fmt), k=3)
            bundles[name, fmt] = portable.convert(model, format=fmt)
    jvm = sorted(m for m in ("py4j", "jpmml_evaluator", "jpype") if m in sys.modules)
    return {"models": ir_models, "times": times, "bundles": bundles, "jvm_modules": jvm}


def bench_one(name: str, model, ex: dict, X: np.ndarray, rows: int, pfa_rows: int,
              tmp: Path) -> dict:
    out = {"trees": model.estimator.n_trees, "leaves": model.estimator.n_leaves(),
           "max_depth": model.estimator.max_depth()}
    for fmt, n in (("pmml", rows), ("pfa", pfa_rows)):
        bundle = ex["bundles"][name, fmt]
        art = bundle.save(tmp / f"{name}-{fmt}", check=False)
        t = time.perf_counter()
        session = portable.load(art.path)  # the first PMML load starts the JVM
        t_load = time.perf_counter() - t
        Xn = X[:n]
        session.predict(Xn[:10])  # warm-up
        t_pred = _best(lambda: session.predict(Xn), k=3 if fmt == "pmml" else 1)
        got = session.predict(Xn)
        session.close()
        out[fmt] = {"export_s": ex["times"][name, fmt],
                    "document_bytes": sum(len(v) for v in bundle.files.values()),
                    "load_s": t_load, "rows": n, "predict_s": t_pred,
                    "rows_per_s": n / t_pred, "parity": _parity(model, Xn, got)}
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=20000, help="rows per JPMML batch")
    p.add_argument("--pfa-rows", type=int, default=200, help="rows through titus2")
    args = p.parse_args(argv)
    models, X = _models(max(args.rows, args.pfa_rows))
    ex = export_all(models)
    with tempfile.TemporaryDirectory() as tmp:
        res = {k: bench_one(k, m, ex, X, args.rows, args.pfa_rows, Path(tmp))
               for k, m in ex["models"].items()}
    result = {"models": res, "jvm_modules_loaded_by_exports": ex["jvm_modules"],
              "settings": {"jpmml": "one evaluateAll call per predict, py4j backend, "
                                    "best of 3", "titus": "one record at a time, 1 pass"},
              "environment": {"python": platform.python_version(),
                              "machine": platform.machine(), "portable": portable.__version__}}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    _print(result)
    return result


def _print(r: dict) -> None:
    head = (f"{'model':10s} {'fmt':4s} {'export s':>9s} {'bytes':>11s} {'load s':>7s} "
            f"{'rows':>6s} {'rows/s':>10s} {'max ULP':>8s} {'max abs':>9s}")
    print(head)
    print("-" * len(head))
    for name, m in r["models"].items():
        for fmt in ("pmml", "pfa"):
            d = m[fmt]
            print(f"{name:10s} {fmt:4s} {d['export_s']:9.3f} {d['document_bytes']:11,d} "
                  f"{d['load_s']:7.2f} {d['rows']:6d} {d['rows_per_s']:10.1f} "
                  f"{d['parity']['max_ulp']:8.0f} {d['parity']['max_abs']:9.2e}")
    print(f"JVM modules loaded by the exports: {r['jvm_modules_loaded_by_exports'] or 'none'}")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
