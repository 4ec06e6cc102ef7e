"""The benchmark suite: parity (``portable.verify``) and performance (``portable.bench.bench``)
of every route on the seed's workloads and the peer models M1-M3, one report.

Public API only. ``make bench`` runs it::

    .venv/bin/python benchmarks/run_all.py [--quick] [--models house,M1] [--out DIR]

Workloads (all data generated from fixed seeds, features cast to float32 like the peers'):

=========== ==================================================================================
house       XGBRegressor(300 trees, depth 6) on ``portable.datasets.house_prices`` (5% NaN)
sentiment   TfidfVectorizer + LogisticRegression on generated reviews, when the IR can hold
            it and some route can express it; otherwise recorded as skipped with the reason
multiclass  XGBClassifier(200 trees, depth 5), 5 classes, make_classification 20 features
M1          XGBRegressor(500 trees, depth 6, lr 0.1, hist), make_regression 50 features
M2          XGBClassifier(300 trees, depth 8, lr 0.1, hist), binary, 100 features, 5% NaN
M3          RandomForestClassifier(100 trees, depth 12), make_classification 30 features
=========== ==================================================================================

M1-M3 follow ``/work/shared/reference/peer-benchmarks.md`` (20,000 training rows, 10,000
held-out rows). ``--quick`` shrinks everything (10x fewer trees, 2,000 rows) for tests.
Trained models are cached (``--cache``, default ``~/.cache/portable/bench-models``) keyed by
the spec and the library versions, so that a rerun measures rather than trains.

Writes ``DIR/suite.json`` (``suite-quick.json`` with ``--quick``), ``DIR/report.html`` and
``DIR/report.md`` (default DIR: ``benchmarks/results``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

import portable
from portable.bench import bench
from portable.report import dumps, write_report

HERE = Path(__file__).resolve().parent
SPECS = {
    "house": {"task": "house", "trees": 300, "depth": 6},
    "sentiment": {"task": "sentiment"},
    "multiclass": {"task": "multiclass", "trees": 200, "depth": 5},
    "M1": {"task": "M1", "trees": 500, "depth": 6},
    "M2": {"task": "M2", "trees": 300, "depth": 8},
    "M3": {"task": "M3", "trees": 100, "depth": 12},
}
WORDS = {1: "great excellent love wonderful superb enjoyable delightful recommend".split(),
         0: "awful terrible boring hate dull waste poor disappointing".split(),
         None: "the a movie film plot actors story it was and very this really".split()}


# ----------------------------------------------------------------------------- data
def _data(task: str, n_train: int, n_test: int):
    from sklearn.datasets import make_classification, make_regression

    n = n_train + n_test
    if task == "house":
        from portable.datasets import house_prices
        X, y, _ = house_prices(n, seed=0, missing=0.05)
    elif task == "multiclass":
        X, y = make_classification(n_samples=n, n_features=20, n_informative=12, n_classes=5,
                                   random_state=5)
    elif task == "M1":
        X, y = make_regression(n_samples=n, n_features=50, n_informative=30, noise=10,
                               random_state=1)
    elif task == "M2":
        X, y = make_classification(n_samples=n, n_features=100, random_state=2)
        X = X.copy()
        X[np.random.default_rng(2).random(X.shape) < 0.05] = np.nan
    elif task == "M3":
        X, y = make_classification(n_samples=n, n_features=30, random_state=3)
    elif task == "sentiment":
        rng = np.random.default_rng(6)
        y = rng.integers(0, 2, n)
        X = np.array([[" ".join(rng.choice(WORDS[c] * 2 + WORDS[None], size=rng.integers(4, 12)))]
                      for c in y], dtype=object)
        return X[:n_train], y[:n_train], X[n_train:], y[n_train:]
    else:
        raise ValueError(task)
    X = np.asarray(X, dtype=np.float32).astype(np.float64)  # every runtime sees float32 values
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


def _estimator(name: str, spec: dict, quick: bool):
    import xgboost as xgb
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    trees = max(5, spec.get("trees", 0) // (10 if quick else 1))
    depth = spec.get("depth")
    jobs = os.cpu_count() or 1
    task = spec["task"]
    if task in ("house", "M1"):
        return xgb.XGBRegressor(n_estimators=trees, max_depth=depth, learning_rate=0.1,
                                tree_method="hist", n_jobs=jobs, random_state=0)
    if task in ("multiclass", "M2"):
        return xgb.XGBClassifier(n_estimators=trees, max_depth=depth, learning_rate=0.1,
                                 tree_method="hist", n_jobs=jobs, random_state=0)
    if task == "M3":
        return RandomForestClassifier(n_estimators=trees, max_depth=depth, n_jobs=jobs,
                                      random_state=0)
    return make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=1000))


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for dist in ("numpy", "scikit-learn", "xgboost-cpu", "xgboost"):
        try:
            out.append(f"{dist}={version(dist)}")
        except PackageNotFoundError:
            pass
    return ",".join(out)


def _trained(name: str, spec: dict, quick: bool, cache: Path | None):
    """(estimator, X_test, train seconds, cached?) for one workload."""
    import joblib

    n_train, n_test = (2000, 1000) if quick else (20_000, 10_000)
    if spec["task"] in ("house", "sentiment", "multiclass"):
        n_train, n_test = (2000, 1000) if quick else (8000, 10_000)
    Xtr, ytr, Xte, _ = _data(spec["task"], n_train, n_test)
    key = hashlib.sha256(json.dumps([name, spec, quick, n_train, _versions()],
                                    sort_keys=True).encode()).hexdigest()[:16]
    path = cache / f"{name}-{key}.joblib" if cache else None
    cached = path is not None and path.exists()
    took = 0.0
    if cached:
        est = joblib.load(path)
    else:
        est = _estimator(name, spec, quick)
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(Xtr if spec["task"] != "sentiment" else Xtr[:, 0], ytr)
        took = time.perf_counter() - t
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            joblib.dump(est, path)
    if "n_jobs" in est.get_params():
        est.set_params(n_jobs=1)  # measured single-threaded, as the peers were
    return est, Xte, took, cached


# ----------------------------------------------------------------------------- suite
def run(models, *, quick: bool, cache: Path | None, seed: int, progress=None) -> dict:
    say = progress or (lambda msg: None)
    out = []
    t0 = time.perf_counter()
    for name in models:
        spec = SPECS[name]
        entry = {"name": name, "spec": spec}
        say(f"{name}: training")
        try:
            est, Xte, took, cached = _trained(name, spec, quick, cache)
        except ImportError as e:
            entry["note"] = f"skipped: {e}"
            out.append(entry)
            continue
        entry.update(train_seconds=round(took, 2), cached=cached)
        try:
            portable.import_model(est)
        except portable.PortableError as e:
            entry["note"] = f"skipped: not importable into the IR yet ({e})"
            out.append(entry)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            say(f"{name}: verify")
            n_test = len(Xte)
            entry["verify"] = portable.verify(
                est, data=Xte, n_nan=min(1000, n_test), n_probe=500 if quick else 2000,
                budget=2.0 if quick else 4.0, seed=seed)
            runnable = [r for r in entry["verify"]["routes"].values() if r["status"] != "skipped"]
            if not runnable:
                entry["note"] = "no route can express this model yet: " + "; ".join(
                    f"{rid}: {r.get('reason')}" for rid, r in entry["verify"]["routes"].items())
            say(f"{name}: bench")
            entry["bench"] = bench(est, data=Xte if spec["task"] != "sentiment" else None,
                                   quick=quick, seed=seed, budget=1.5, reps=7, cold_repeats=1)
        out.append(entry)
    return {"kind": "suite", "schema": 1, "quick": quick, "seed": seed,
            "models": out, "seconds": round(time.perf_counter() - t0, 1),
            "environment": {"python": platform.python_version(), "machine": platform.machine(),
                            "cpus": os.cpu_count(), "versions": _versions()}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small models and rows (tests)")
    ap.add_argument("--models", default=",".join(SPECS),
                    help="comma-separated: " + ", ".join(SPECS))
    ap.add_argument("--out", default=str(HERE / "results"), help="output folder")
    ap.add_argument("--cache", default=str(Path.home() / ".cache" / "portable" / "bench-models"),
                    help="trained-model cache ('' for none)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in SPECS]
    if unknown:
        ap.error(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(SPECS)}")
    from rich.console import Console

    con = Console(stderr=True)
    t0 = time.perf_counter()
    with con.status("benchmarks") as status:
        def say(msg: str) -> None:
            status.update(f"benchmarks: {msg}")
            if not con.is_terminal:  # a log line per step when the output is a file
                print(f"[{time.perf_counter() - t0:6.1f} s] {msg}", file=sys.stderr, flush=True)

        res = run(models, quick=args.quick, cache=Path(args.cache) if args.cache else None,
                  seed=args.seed, progress=say)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    js = out / ("suite-quick.json" if args.quick else "suite.json")
    js.write_text(dumps(res) + "\n")
    write_report([res], out / "report.html", out / "report.md")
    con.print(f"wrote {js}, {out / 'report.html'}, {out / 'report.md'} in {res['seconds']} s")
    failed = [m["name"] for m in res["models"] if m.get("verify") and not m["verify"]["passed"]]
    if failed:
        con.print(f"[red]parity failed for {', '.join(failed)}[/red]")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
