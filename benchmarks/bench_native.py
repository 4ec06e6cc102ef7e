"""Native-code route benchmark: C, Python, Java and JavaScript against the source library and
the peers, on the peer models M1-M3 of ``/work/shared/reference/peer-benchmarks.md``.

Standalone, public API only (``portable.convert`` / ``save`` / ``load`` / ``evaluate``)::

    .venv/bin/python benchmarks/bench_native.py [--models M1,M2,M3] [--reps 7] [--quick]

=====  =====================================================================================
M1     XGBRegressor(500 trees, depth 6, lr 0.1, hist), make_regression 50 features (seed 1)
M2     XGBClassifier(300 trees, depth 8, lr 0.1, hist), binary, 100 features, 5% NaN (seed 2)
M3     RandomForestClassifier(100 trees, depth 12, seed 0), make_classification 30 features
=====  =====================================================================================

20,000 training rows, 10,000 held-out rows, features cast to float32 (peers' protocol).
Measured, one thread everywhere (``OMP_NUM_THREADS=1``, xgboost ``nthread=1``, RF
``n_jobs=1``, onnxruntime 1 intra-op thread and default threads):

* **generate / build**: ``convert`` wall time; C build (gcc -O2, parallel chunks, fresh cache
  dir) and javac time inside ``load``.
* **batch**: rows/s of one ``predict`` call on the 10,000 test rows (Python and m2cgen on
  2,000), median of interleaved repetitions in shuffled order, CPU time of this process
  (``process_time``) for in-process engines so that load from other jobs on the shared
  machine does not count; wall time for the Java/Node child processes.
* **single row**: ``session.predict(row)`` from Python, each call timed on its own, blocks of
  100 calls per runner, runners interleaved in shuffled order; median of all calls.
* **exactness**: max ULP of margins vs ``portable.evaluate`` on the 10,000 rows.

m2cgen (0.10.0, if installed) gets the documented base_score workaround
(``/work/shared/reference/dependencies.md`` section E). Writes
``benchmarks/results/native.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import portable  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "native.json"
LANGS = ("c", "python", "java", "javascript")


# ----------------------------------------------------------------------------- models
def build_model(name: str, quick: bool):
    from sklearn.datasets import make_classification, make_regression
    n_train, n_test = (2000, 1000) if quick else (20_000, 10_000)
    scale = 10 if quick else 1
    if name == "M1":
        import xgboost as xgb
        X, y = make_regression(n_train + n_test, 50, n_informative=30, noise=10, random_state=1)
        X = X.astype(np.float32)
        est = xgb.XGBRegressor(n_estimators=500 // scale, max_depth=6, learning_rate=0.1,
                               tree_method="hist", n_jobs=2, random_state=0)
    elif name == "M2":
        import xgboost as xgb
        X, y = make_classification(n_train + n_test, 100, random_state=2)
        X = X.astype(np.float32)
        X[np.random.default_rng(2).random(X.shape) < 0.05] = np.nan
        est = xgb.XGBClassifier(n_estimators=300 // scale, max_depth=8, learning_rate=0.1,
                                tree_method="hist", n_jobs=2, random_state=0)
    elif name == "M3":
        from sklearn.ensemble import RandomForestClassifier
        X, y = make_classification(n_train + n_test, 30, random_state=3)
        X = X.astype(np.float32)
        est = RandomForestClassifier(100 // scale, max_depth=12, random_state=0, n_jobs=2)
    else:
        raise SystemExit(f"unknown model {name!r}; choose M1, M2, M3")
    est.fit(X[:n_train], y[:n_train])
    if hasattr(est, "n_jobs"):
        est.set_params(n_jobs=1)
    if hasattr(est, "get_booster"):
        est.get_booster().set_param({"nthread": 1})
    return est, np.ascontiguousarray(X[n_train:], dtype=np.float64)


def source_runner(est, name):
    if name in ("M1", "M2"):
        booster = est.get_booster()
        return lambda X: booster.inplace_predict(X.astype(np.float32))
    return lambda X: est.predict_proba(X.astype(np.float32))


def m2cgen_runner(est):
    """m2cgen's generated Python (score(list) per row), or None when not installed."""
    try:
        import m2cgen
    except ImportError:
        return None
    est = copy.deepcopy(est)
    if hasattr(est, "get_booster"):  # m2cgen reads base_score from get_params (None in xgb>=2)
        cfg = json.loads(est.get_booster().save_config())
        bs = cfg["learner"]["learner_model_param"]["base_score"]
        est.set_params(base_score=float(bs.strip("[]").split(",")[0]), num_parallel_tree=1)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 100_000))
    ns: dict = {}
    exec(compile(m2cgen.export_to_python(est), "m2cgen_model", "exec"), ns)
    score = ns["score"]
    return lambda rows: [score(r) for r in rows]


def onnx_sessions(est, name):
    """onnxruntime sessions (1 thread, default threads) on the peers' upstream graphs."""
    try:
        import onnxruntime as ort
        if name in ("M1", "M2"):
            from onnxmltools import convert_xgboost
            from onnxmltools.convert.common.data_types import FloatTensorType
            proto = convert_xgboost(est, initial_types=[("input", FloatTensorType([None, est.n_features_in_]))])
        else:
            from skl2onnx import convert_sklearn
            from skl2onnx.common.data_types import FloatTensorType
            proto = convert_sklearn(est, initial_types=[("input", FloatTensorType([None, est.n_features_in_]))],
                                    options={id(est): {"zipmap": False}})
    except Exception as e:  # an optional peer: record why it is missing
        return {}, f"{type(e).__name__}: {e}"
    out = {}
    for label, threads in (("ort[1 thread]", 1), ("ort[default]", 0)):
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        sess = ort.InferenceSession(proto.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        oname = sess.get_outputs()[-1].name
        out[label] = (lambda s, o: lambda X: s.run([o], {"input": X.astype(np.float32)}))(sess, oname)
    return out, None


# ----------------------------------------------------------------------------- timing
def batch_rates(runners: dict, Xs: dict, reps: int, seed: int) -> dict:
    """rows/s per runner: median over interleaved, shuffled repetitions."""
    times = {k: [] for k in runners}
    rng = random.Random(seed)
    for k, (fn, clock) in runners.items():
        fn(Xs[k])  # warm-up
    for _ in range(reps):
        order = list(runners)
        rng.shuffle(order)
        for k in order:
            fn, clock = runners[k]
            gc.disable()
            t = clock()
            fn(Xs[k])
            times[k].append(clock() - t)
            gc.enable()
    return {k: {"rows_per_s": len(Xs[k]) / statistics.median(v), "rows": len(Xs[k]),
                "reps": len(v), "clock": runners[k][1].__name__} for k, v in times.items()}


def single_row(runners: dict, rows: list, rounds: int, block: int, seed: int) -> dict:
    """Per-call latency (us): blocks of ``block`` calls per runner, runners shuffled each round."""
    lat = {k: [] for k in runners}
    rng = random.Random(seed)
    for fn in runners.values():
        for r in rows[:50]:
            fn(r)
    for rnd in range(rounds):
        order = list(runners)
        rng.shuffle(order)
        for k in order:
            fn = runners[k]
            gc.disable()
            for r in rows[rnd * block % len(rows):][:block]:
                t = time.perf_counter_ns()
                fn(r)
                lat[k].append(time.perf_counter_ns() - t)
            gc.enable()
    return {k: {"median_us": statistics.median(v) / 1000,
                "p90_us": float(np.percentile(v, 90)) / 1000, "calls": len(v)} for k, v in lat.items()}


def ulp32(a, b) -> int:
    a = np.asarray(a, np.float32).view(np.int32).astype(np.int64)
    b = np.asarray(b, np.float32).view(np.int32).astype(np.int64)
    a = np.where(a < 0, -(2 ** 31) - a, a)
    b = np.where(b < 0, -(2 ** 31) - b, b)
    return int(np.abs(a - b).max())


# ----------------------------------------------------------------------------- one model
def run_model(name: str, args, tmp: Path) -> dict:
    print(f"[{name}] training ...", flush=True)
    est, X = build_model(name, args.quick)
    m = portable.import_model(est)
    res = {"model": name, "estimator": type(est).__name__, "n_features": int(X.shape[1]),
           "trees": m.estimator.n_trees, "generate_s": {}, "load_s": {}, "files_mb": {}}
    sessions = {}
    os.environ["PORTABLE_CACHE_DIR"] = str(tmp / "cache")  # a fresh cache: builds are timed
    for lang in LANGS:
        t = time.perf_counter()
        bundle = portable.convert(m, format=lang)
        res["generate_s"][lang] = round(time.perf_counter() - t, 3)
        res["files_mb"][lang] = round(sum(map(len, bundle.files.values())) / 1e6, 2)
        art = bundle.save(tmp / f"{name}-{lang}", check=False)
        t = time.perf_counter()
        try:
            sessions[lang] = portable.load(art.path)
        except portable.PortableError as e:
            print(f"  {lang}: not available ({e})")
            continue
        res["load_s"][lang] = round(time.perf_counter() - t, 3)
    print(f"[{name}] generate {res['generate_s']} load/build {res['load_s']}", flush=True)
    ref = portable.evaluate(m, X, output="margin")
    res["max_ulp_margin"] = {}
    for lang, s in sessions.items():
        got = s.predict(X, output="margin")
        res["max_ulp_margin"][lang] = (ulp32(ref, got) if ref.dtype == np.float32 else
                                       int(np.max(np.abs(ref.view(np.int64) - got.view(np.int64)))))
    src = source_runner(est, name)
    cpu, wall = time.process_time, time.perf_counter
    small = X[:2000]
    runners = {"source": (src, cpu)}
    Xs = {"source": X}
    for lang, s in sessions.items():
        key = f"portable-{lang}"
        runners[key] = ((lambda s: lambda A: s.predict(A))(s), wall if lang in ("java", "javascript") else cpu)
        Xs[key] = small if lang == "python" else X
    rows_list = small.tolist()
    if "python" in sessions:  # the generated module itself, on lists (as m2cgen is called)
        mod = sessions["python"].module
        runners["python-module"] = (lambda A: mod.predict_batch(rows_list), cpu)
        Xs["python-module"] = small
    m2 = m2cgen_runner(est)
    if m2 is not None:
        runners["m2cgen-python"] = (lambda A: m2(rows_list), cpu)
        Xs["m2cgen-python"] = small
    ort, why = onnx_sessions(est, name)
    res["onnx_missing"] = why
    for k, fn in ort.items():
        runners[k] = (fn, wall)  # default threads use a second core: wall clock
        Xs[k] = X
    print(f"[{name}] batch ...", flush=True)
    res["batch"] = batch_rates(runners, Xs, args.reps, seed=1)
    one = [X[i:i + 1] for i in range(100, 1100)]
    singles = {"source": src}
    for lang in ("c", "python"):
        if lang in sessions:
            singles[f"portable-{lang}"] = (lambda s: lambda r: s.predict(r))(sessions[lang])
    if "python" in sessions:
        singles["python-module"] = (lambda mod: lambda r: mod.predict(r[0].tolist()))(sessions["python"].module)
    singles.update(ort)
    if m2 is not None:
        singles["m2cgen-python"] = (lambda f: lambda r: f([r[0].tolist()]))(m2)
    print(f"[{name}] single row ...", flush=True)
    res["single_row"] = single_row(singles, one, rounds=args.rounds, block=100, seed=2)
    for s in sessions.values():
        s.close()
    return res


def table(results: list) -> str:
    lines = []
    for r in results:
        lines.append(f"\n{r['model']} ({r['estimator']}, {r['trees']} trees, {r['n_features']} features)")
        lines.append(f"  generate s: {r['generate_s']}   load/build s: {r['load_s']}")
        lines.append(f"  max ULP of margins vs portable.evaluate: {r['max_ulp_margin']}")
        src_rate = r["batch"]["source"]["rows_per_s"]
        src_lat = r["single_row"]["source"]["median_us"]
        lines.append(f"  {'runner':<18} {'batch rows/s':>13} {'x source':>9} {'1-row us':>9} {'x source':>9}")
        for k, b in sorted(r["batch"].items(), key=lambda kv: -kv[1]["rows_per_s"]):
            s = r["single_row"].get(k)
            lat = f"{s['median_us']:9.2f} {s['median_us'] / src_lat:9.3f}" if s else f"{'-':>9} {'-':>9}"
            lines.append(f"  {k:<18} {b['rows_per_s']:13,.0f} {b['rows_per_s'] / src_rate:9.2f} {lat}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="M1,M2,M3")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--quick", action="store_true", help="10x smaller models and data")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-native-") as tmp:
        for name in args.models.split(","):
            results.append(run_model(name.strip(), args, Path(tmp)))
    doc = {"benchmark": "native", "quick": args.quick, "python": platform.python_version(),
           "machine": platform.machine(), "cpus": os.cpu_count(),
           "loadavg": os.getloadavg(), "results": results}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1, default=float) + "\n")
    print(table(results))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
