"""``make demo``: train the seed's example model, inspect it, export every available route,
measure parity on held-out and threshold-probe rows, and write a report.

Run as ``python -m portable.demo --out demo-out``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def _log(msg: str) -> None:
    print(f"[demo] {msg}", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="demo-out")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    import xgboost as xgb

    import portable
    from portable.converters import CONVERTERS
    from portable.datasets import house_prices
    from portable.parity import compare
    from portable.summary import describe

    X, y, names = house_prices(6000, seed=7, missing=0.05)
    n_train = 4000
    t0 = time.perf_counter()
    est = xgb.XGBRegressor(n_estimators=200, max_depth=6, learning_rate=0.1, n_jobs=2,
                           random_state=0)
    import pandas as pd
    est.fit(pd.DataFrame(X[:n_train], columns=names), y[:n_train])
    model_path = out / "house-prices.json"
    est.save_model(model_path)
    _log(f"trained XGBRegressor (200 trees) on {n_train} rows in "
         f"{time.perf_counter() - t0:.1f}s -> {model_path}")

    m = portable.import_model(model_path)
    info = describe(m)
    _log(f"inspect: {info['estimator']} {info['task']}, {info['trees']} trees, max depth "
         f"{info['max_depth']}, {info['leaves']} leaves, base_score {info['base_score']}")
    X_test = X[n_train:]
    ref = portable.evaluate(m, X_test)
    r2 = 1 - np.sum((ref[:, 0] - y[n_train:]) ** 2) / np.sum((y[n_train:] - y[n_train:].mean()) ** 2)
    src = est.predict(pd.DataFrame(X_test, columns=names), output_margin=True).reshape(-1, 1)
    vs_source = compare(src, portable.evaluate(m, X_test, output="margin"))
    _log(f"reference evaluator vs xgboost on {len(X_test)} held-out rows: max ULP "
         f"{vs_source['max_ulp']:.0f}; test R^2 {r2:.3f}")
    probes = portable.probe_rows(m, n=2000, background=X_test)
    import xgboost
    probe_src = est.get_booster().predict(xgboost.DMatrix(probes, feature_names=names),
                                          output_margin=True).reshape(-1, 1)
    vs_probes = compare(probe_src, portable.evaluate(m, probes, output="margin"))
    _log(f"reference evaluator vs xgboost on {len(probes)} threshold-probe rows: max ULP "
         f"{vs_probes['max_ulp']:.0f}")

    routes = {}
    for fmt in CONVERTERS.names():
        try:
            CONVERTERS.get(fmt)
        except Exception as e:
            routes[fmt] = {"status": f"not available ({type(e).__name__})"}
            continue
        t0 = time.perf_counter()
        try:
            art = portable.export(m, format=fmt, out_dir=out / "artifacts" / fmt)
        except portable.PortableError as e:
            routes[fmt] = {"status": f"failed: {e}"}
            _log(f"{fmt}: {e}")
            continue
        parity = art.manifest.get("parity", {})
        routes[fmt] = {"status": "exported", "seconds": round(time.perf_counter() - t0, 2),
                       "parity": parity}
        _log(f"{fmt}: exported in {routes[fmt]['seconds']}s; " + _parity_text(parity))

    report = {"model": info, "reference_vs_source": {"held_out": vs_source, "probes": vs_probes},
              "test_r2": r2, "routes": routes}
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str))
    (out / "report.md").write_text(_markdown(report))
    _log(f"report: {(out / 'report.md').resolve()}")
    return 0


def _parity_text(p: dict) -> str:
    if not p.get("checked"):
        return f"parity not checked ({p.get('reason')})"
    pr = p["prediction"]
    return (f"parity on {p['rows']} probe rows: max abs {pr['max_abs']:.3g}, max ULP "
            f"{pr['max_ulp']:.0f}, flips {pr['label_flips']}")


def _markdown(r: dict) -> str:
    lines = ["# portable demo report", "",
             f"Model: {r['model']['estimator']} ({r['model']['trees']} trees), "
             f"test R² {r['test_r2']:.3f}", "",
             "| check | rows | max abs | max ULP | label flips |", "|---|---|---|---|---|"]
    for k, v in r["reference_vs_source"].items():
        lines.append(f"| reference vs xgboost ({k}) | {v['rows']} | {v['max_abs']:.3g} | "
                     f"{v['max_ulp']:.0f} | {v['label_flips']} |")
    for fmt, v in r["routes"].items():
        p = v.get("parity", {})
        if p.get("checked"):
            pr = p["prediction"]
            lines.append(f"| {fmt} ({p['runtime']}) vs reference | {p['rows']} | "
                         f"{pr['max_abs']:.3g} | {pr['max_ulp']:.0f} | {pr['label_flips']} |")
        else:
            lines.append(f"| {fmt} | – | – | – | {v['status']} {p.get('reason', '')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
