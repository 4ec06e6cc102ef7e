"""``bench``: latency, throughput, cold start and memory of every runtime, next to the source
library and its peers, measured so that ratios hold on a noisy shared machine.

Protocol (the one of ``research/perf``, see ``benchmarks/README.md``):

* **single row** (Python call to result): warm-up calls are discarded, then ``rounds``
  rounds; in each round the runners go in a freshly shuffled (seeded) order and each makes
  up to ``calls`` consecutive one-row calls on the same row indices, each timed on its own
  with ``perf_counter_ns`` and the garbage collector off. Reported: p50 / p90 / p99, a log
  histogram, and the *paired* speedup: per round, the source's block median over the
  runner's, then the median (p10-p90) over rounds.
* **batch** at 1, 100 and 10,000 rows: one call per repetition, repetitions interleaved in
  shuffled order; rows/s from the median.
* **cold start** in a fresh subprocess: interpreter start to first prediction (wall), and
  inside it, load + first prediction; peak memory as the peak-RSS (``VmHWM``) delta over
  loading and predicting a batch, the ``tracemalloc`` peak of load + first prediction, and
  the peak RSS of child processes (the JVM, node).

Slow runtimes get a time budget per measurement (fewer calls, batch sizes skipped with the
reason) instead of stretching the run. Everything random is seeded.
"""

from __future__ import annotations

import copy
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import ir
from .errors import PortableError

BATCH_SIZES = (1, 100, 10_000)
HIST_START, HIST_PER_DECADE, HIST_BINS = -1.0, 10, 80  # log10(µs) bins: 0.1 µs .. 10 s


@dataclass
class Runner:
    """One thing to time: ``call(X) -> outputs`` on rows given as they are to be passed."""

    name: str
    kind: str  # "source", "portable" or "peer"
    call: object = None
    prepare: object = None  # X -> what call takes (built before timing)
    cold: dict | None = None  # spec for the cold-start child
    route: str | None = None
    status: str = "ok"
    reason: str | None = None
    result: dict = field(default_factory=dict)
    close: object = None


# ----------------------------------------------------------------------------- runners
def _source_call(obj, m: ir.Model):
    """The library's own predict, single-threaded (on a copy), and its method name."""
    from .source import _frame

    obj = copy.deepcopy(obj)
    lib = "xgboost" if type(obj).__module__.startswith("xgboost") else "sklearn"
    if type(obj).__name__ == "Booster":
        import xgboost as xgb

        obj.set_param({"nthread": 1})
        return "xgboost.Booster.predict", (lambda X: obj.predict(xgb.DMatrix(X))), obj
    if hasattr(obj, "set_params"):
        for key in ("n_jobs", "nthread"):
            try:
                if key in obj.get_params():
                    obj.set_params(**{key: 1})
            except Exception:  # a pipeline's params are nested; its steps keep theirs
                pass
    if hasattr(obj, "get_booster"):
        obj.get_booster().set_param({"nthread": 1})
    method = ("predict_proba" if m.signature.prediction_kind == "probability"
              else "decision_function" if m.signature.prediction_kind == "decision"
              else "predict")
    fn = getattr(obj, method)
    text = bool(m.transforms) and isinstance(m.transforms[0], ir.TextVectorizer)
    needs_frame = lib == "sklearn" and (text or getattr(obj, "feature_names_in_", None) is not None)
    call = (lambda X: fn(_frame(obj, m, X))) if needs_frame else fn
    return f"{lib}.{method}", call, obj


def _runners(m, obj, routes, tmp: Path, X, *, peers: bool, engines) -> list[Runner]:
    from .peers import other_peers, raw_ort, walk
    from .runtimes import RUNTIMES
    from .verify import _export

    out: list[Runner] = []
    if obj is not None and not isinstance(obj, ir.Model):
        name, call, native = _source_call(obj, m)
        path = tmp / "source.joblib"
        import joblib
        joblib.dump(native, path)
        method = name.rsplit(".", 1)[1]
        imports = sorted({type(e).__module__ for e in walk(native)})
        cold = {"kind": "joblib", "path": str(path), "method": method, "imports": imports,
                "text": bool(m.transforms) and isinstance(m.transforms[0], ir.TextVectorizer)}
        out.append(Runner(name, "source", call=call, cold=cold))
        if peers and (hasattr(native, "get_booster") or type(native).__name__ == "Booster"):
            booster = native.get_booster() if hasattr(native, "get_booster") else native
            out.append(Runner("xgboost.inplace_predict", "peer",
                              call=lambda A, b=booster: b.inplace_predict(A),
                              prepare=lambda A: np.ascontiguousarray(A, dtype=np.float32),
                              cold={**cold, "method": "inplace_predict"}))
    cache: dict = {}
    for r in routes:
        if r["status"] != "pending":
            out.append(Runner(r["id"], "portable" if r["engine"] == "portable" else "peer",
                              route=r["id"], status="skipped", reason=r.get("reason")))
            continue
        try:
            art = _export(r, m, obj, tmp, cache)
            session = RUNTIMES.get(r["runtime"])().load(art)
        except (PortableError, ImportError) as e:
            out.append(Runner(r["id"], "portable", route=r["id"], status="error",
                              reason=f"{type(e).__name__}: {e}"[:500]))
            continue
        kind = "portable" if r["engine"] == "portable" else "peer"
        out.append(Runner(r["id"], kind, route=r["id"], call=session.predict,
                          close=getattr(session, "close", None),
                          cold={"kind": "portable", "path": str(art.path),
                                "runtime": r["runtime"]}))
        if r["format"] == "onnx" and peers:
            raw = raw_ort(art.file("model.onnx"), session)
            if raw is not None:
                name = ("onnx (InferenceSession.run, no portable wrapper)" if kind == "portable"
                        else f"{r['id']} (InferenceSession.run)")
                out.append(Runner(name, "peer", call=raw[0], prepare=raw[1],
                                  cold={"kind": "ort", "path": str(art.file("model.onnx"))}))
    if peers:
        out.extend(other_peers(obj, m, tmp))
    return out


# ----------------------------------------------------------------------------- timing
def _time_call(fn, arg) -> int:
    t = time.perf_counter_ns()
    fn(arg)
    return time.perf_counter_ns() - t


def _quantiles(ns: np.ndarray) -> dict:
    us = ns / 1e3
    q = np.percentile(us, [1, 10, 25, 50, 75, 90, 99])
    logs = np.log10(np.maximum(us, 1e-3))
    bins = np.clip(((logs - HIST_START) * HIST_PER_DECADE).astype(int), 0, HIST_BINS - 1)
    counts = np.bincount(bins, minlength=HIST_BINS)
    nz = np.flatnonzero(counts)
    return {"n": int(us.size), "mean": float(us.mean()), "min": float(us.min()),
            **{f"p{p}": float(v) for p, v in zip((1, 10, 25, 50, 75, 90, 99), q)},
            "hist": {"log10_start": HIST_START, "per_decade": HIST_PER_DECADE,
                     "first_bin": int(nz[0]) if nz.size else 0,
                     "counts": counts[nz[0]:nz[-1] + 1].tolist() if nz.size else []}}


def _single_row(runners, X, *, rounds, calls, warmup, budget, rng, step):
    one, per_call = {}, {}
    for r in [r for r in runners if r.status == "ok"]:  # warm-up, and the cost of one call
        try:
            rows = one[r.name] = [(r.prepare or (lambda a: a))(X[i:i + 1])
                                  for i in range(min(len(X), 4096))]
            t0 = time.perf_counter()
            k = 0
            while k < warmup and (k < 3 or time.perf_counter() - t0 < budget / 10):
                r.call(rows[k % len(rows)])
                k += 1
            per_call[r.name] = (time.perf_counter() - t0) / k
        except Exception as e:  # a runtime that cannot predict is reported, not fatal
            r.status, r.reason = "error", f"{type(e).__name__}: {e}"[:500]
    live = [r for r in runners if r.status == "ok"]
    times = {r.name: [] for r in live}
    blocks = {r.name: [] for r in live}
    n_calls = {r.name: int(max(3, min(calls, budget / rounds / max(per_call[r.name], 1e-9))))
               for r in live}
    for rd in range(rounds):
        step(f"single-row round {rd + 1}/{rounds}")
        order = list(live)
        rng.shuffle(order)
        start = (rd * calls) % max(len(X), 1)
        for r in order:
            rows, k = one[r.name], n_calls[r.name]
            got = np.empty(k, dtype=np.int64)
            gc_was = gc.isenabled()
            gc.disable()
            try:
                for j in range(k):
                    got[j] = _time_call(r.call, rows[(start + j) % len(rows)])
            finally:
                if gc_was:
                    gc.enable()
            times[r.name].append(got)
            blocks[r.name].append(float(np.median(got)))
    per_row = {name: float(np.median(np.concatenate(t))) / 1e9 for name, t in times.items()}
    return ({name: _quantiles(np.concatenate(t)) for name, t in times.items()}, blocks, n_calls,
            per_row)


def _batches(runners, X, sizes, *, reps, budget, rng, step, reference, per_row):
    """Rows/s per batch size; ``per_row`` (seconds, from single rows) predicts the cost of
    a call so that a size too slow for the budget is skipped without being run."""
    live = [r for r in runners if r.status == "ok"]
    out = {r.name: {} for r in live}
    outputs = {}
    per_row = dict(per_row)
    for size in sorted(sizes):
        n = min(size, len(X))
        step(f"batch of {n:,} rows")
        args, est = {}, {}
        for r in live:
            guess = per_row.get(r.name, 0.0) * n
            if guess > 2 * budget:
                est[r.name] = guess
                continue
            A = (r.prepare or (lambda a: a))(X[:n])
            t = time.perf_counter()
            y = r.call(A)  # warm-up; its output is checked against the source below
            est[r.name] = time.perf_counter() - t
            per_row[r.name] = est[r.name] / n
            args[r.name] = A
            if n == min(max(sizes), len(X)):
                outputs[r.name] = y
        todo = {}
        for r in live:
            if r.name not in args or est[r.name] > 2 * budget:
                out[r.name][str(size)] = {"rows": n, "skipped": (
                    f"one call takes ~{est[r.name]:.1f} s, over twice the {budget:g}-s budget")}
            else:  # at least 3 repetitions where they fit in the budget, else 1 or 2
                fit = int(budget / max(est[r.name], 1e-9))
                todo[r.name] = (r, max(min(3, max(fit, 1)), min(reps, fit)))
        samples = {name: [] for name in todo}
        for rep in range(max((k for _, k in todo.values()), default=0)):
            order = [v for v in todo.values() if v[1] > rep]
            rng.shuffle(order)
            for r, _ in order:
                samples[r.name].append(_time_call(r.call, args[r.name]) / 1e9)
        for name, s in samples.items():
            med = float(np.median(s))
            out[name][str(size)] = {"rows": n, "reps": len(s), "seconds_median": med,
                                    "rows_per_s": n / med if med > 0 else None}
        if reference in samples:
            ref = out[reference][str(size)]["rows_per_s"]
            for name in samples:
                mine = out[name][str(size)]["rows_per_s"]
                out[name][str(size)]["speedup"] = mine / ref if ref and mine else None
    return out, outputs


def _accuracy(outputs: dict, reference: str | None) -> dict:
    """Max |difference| of each runner's largest-batch output from the source's."""
    if reference not in outputs:
        return {}
    ref = _as2d(outputs[reference])
    res = {}
    for name, y in outputs.items():
        try:
            got = _as2d(y)
            if got.shape != ref.shape and got.shape[1] == 1 and ref.shape[1] == 2:
                got = np.hstack([1 - got, got])  # a bare binary probability
            res[name] = float(np.max(np.abs(got - ref))) if got.shape == ref.shape else None
        except (TypeError, ValueError):
            res[name] = None
    return res


def _as2d(y) -> np.ndarray:
    a = np.asarray(y, dtype=np.float64)
    return a.reshape(len(a), -1)


# ----------------------------------------------------------------------------- cold start
# Run with ``python -c`` (the file is read, not imported, so that the package is not
# loaded before the clock starts).
_CHILD = (Path(__file__).parent / "_coldstart_child.py").read_text()


def _cold(runner: Runner, rows_path: str, n_rows: int, repeats: int, timeout: float) -> dict:
    spec = json.dumps({**runner.cold, "rows": rows_path, "n": n_rows})
    runs = []
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    for _ in range(repeats):
        t = time.perf_counter()
        p = subprocess.run([sys.executable, "-c", _CHILD, spec], capture_output=True, text=True,
                           timeout=timeout, env=env)
        wall = time.perf_counter() - t
        if p.returncode != 0:
            return {"error": (p.stderr.strip().splitlines() or ["failed"])[-1][:300]}
        r = json.loads(p.stdout.strip().splitlines()[-1])
        r["wall_s"] = wall
        runs.append(r)
    med = {k: float(np.median([r[k] for r in runs])) for k in runs[0]}
    med["load_to_first_prediction_s"] = med["load_s"] + med["first_predict_s"]
    med["rss_delta_mb"] = med["rss_peak_mb"] - med["rss_before_mb"]
    med["repeats"] = len(runs)
    return med


# ----------------------------------------------------------------------------- bench
def bench(model, *, formats=None, runtimes=None, engines=None, peers: bool = True, data=None,
          n_rows: int = 10_000, sizes=BATCH_SIZES, rounds: int = 25, calls: int = 100,
          warmup: int = 100, reps: int = 11, cold_repeats: int = 1, budget: float = 4.0,
          cold_timeout: float = 300.0, seed: int = 0, quick: bool = False,
          progress=None) -> dict:
    """Time every runtime of ``model`` against the source library and its peers.

    Parameters
    ----------
    model : estimator, Booster, path or ir.Model
    formats, runtimes : as in :func:`portable.verify.verify`
    engines : upstream ONNX engines to time as peers (default with ``peers``:
        onnxmltools for XGBoost objects, skl2onnx for scikit-learn ones)
    peers : also time the library's other entry points and upstream graphs, and m2cgen /
        tl2cgen where installed
    data : rows to predict (default: ``n_rows`` rows sampled from the model)
    sizes : batch sizes
    rounds, calls, warmup : single-row protocol (rounds x up to ``calls`` timed calls)
    reps : batch repetitions (at most; slow runtimes get fewer, at least 3)
    cold_repeats : fresh processes per runtime for cold start and memory (median)
    cold_timeout : seconds a cold-start process may take before it is reported as timed out
    budget : seconds per runtime per measurement before calls are cut down
    quick : a smoke-sized run (3 rounds, 10 calls, 1,000 rows) for tests

    Returns
    -------
    dict (JSON-ready): ``model``, ``settings``, ``reference`` (the source runner's name),
    ``runners`` (name -> kind, status, ``latency_us``, ``batch``, ``cold_start``, ratios).

    Examples
    --------
    >>> res = portable.bench.bench(est, formats=["onnx"], quick=True)   # doctest: +SKIP
    >>> res["runners"]["onnx/onnxruntime"]["latency_us"]["p50"]         # doctest: +SKIP
    14.2
    """
    from .api import import_model
    from .probes import sample_rows
    from .summary import describe
    from .verify import _name, _source_object, plan_routes

    if quick:
        rounds, calls, warmup, reps = min(rounds, 3), min(calls, 10), min(warmup, 5), min(reps, 3)
        n_rows, budget = min(n_rows, 1000), min(budget, 1.0)
        sizes = tuple(min(s, n_rows) for s in sizes)
    t_start = time.perf_counter()
    step = progress or (lambda *a: None)
    obj = _source_object(model)
    m = import_model(obj)
    has_obj = not isinstance(obj, ir.Model)
    if engines is None and peers and has_obj:
        engines = ["onnxmltools" if type(obj).__module__.startswith("xgboost") else "skl2onnx"]
    routes = plan_routes(m, formats=formats, runtimes=runtimes, engines=engines,
                         obj=obj if has_obj else None)
    X = (np.asarray(data, dtype=np.float64) if data is not None
         else sample_rows(m, n_rows, seed=seed))
    rng = np.random.default_rng(seed)
    total = 4
    phases = {}
    clock = [time.perf_counter()]

    def phase(name):
        now = time.perf_counter()
        phases[name] = round(now - clock[0], 2)
        clock[0] = now

    with tempfile.TemporaryDirectory(prefix="portable-bench-") as tmp:
        step("exporting and loading", 0, total)
        runners = _runners(m, obj if has_obj else None, routes, Path(tmp), X, peers=peers,
                           engines=engines)
        reference = next((r.name for r in runners if r.kind == "source"), None)
        phase("export_and_load")
        try:
            step("single-row latency", 1, total)
            lat, blocks, n_calls, per_row = _single_row(runners, X, rounds=rounds, calls=calls,
                                               warmup=warmup, budget=budget, rng=rng,
                                               step=lambda s: step(s, 1, total))
            phase("single_row")
            step("batch throughput", 2, total)
            batch, outputs = _batches(runners, X, sizes, reps=reps, budget=budget, rng=rng,
                                      step=lambda s: step(s, 2, total), reference=reference,
                                      per_row=per_row)
            acc = _accuracy(outputs, reference)
            phase("batch")
        finally:
            for r in runners:
                if r.close:
                    r.close()
        step("cold start", 3, total)
        rows_path = str(Path(tmp) / "rows.npy")
        np.save(rows_path, X[:min(len(X), 1000 if not quick else 100)])
        cold = {}
        for r in runners:
            if r.status == "ok" and r.cold:
                step(f"cold start: {r.name}", 3, total)
                n_mem = int(max(1, min(len(X), 1000, budget / max(per_row[r.name], 1e-9))))
                try:
                    cold[r.name] = _cold(r, rows_path, n_mem, cold_repeats, timeout=cold_timeout)
                except subprocess.TimeoutExpired:
                    cold[r.name] = {"error": f"timed out after {cold_timeout:g} s"}
        phase("cold_start")
    step("done", total, total)
    out = {}
    ref_blocks = np.array(blocks.get(reference, [])) if reference else None
    for r in runners:
        e = {"kind": r.kind, "status": r.status, "route": r.route}
        if r.reason:
            e["reason"] = r.reason
        if r.status == "ok":
            e["latency_us"] = lat[r.name]
            e["calls_per_round"] = n_calls[r.name]
            e["batch"] = batch[r.name]
            e["max_abs_vs_source"] = acc.get(r.name)
            e["cold_start"] = cold.get(r.name)
            if ref_blocks is not None and len(ref_blocks):
                paired = ref_blocks / np.array(blocks[r.name])
                e["speedup_p50"] = lat[reference]["p50"] / lat[r.name]["p50"]
                e["paired_speedup"] = {"median": float(np.median(paired)),
                                       "p10": float(np.percentile(paired, 10)),
                                       "p90": float(np.percentile(paired, 90))}
        out[r.name] = e
    return {
        "kind": "bench", "schema": 1,
        "model": {**describe(m), "name": _name(model)},
        "settings": {"seed": seed, "rows": int(len(X)), "sizes": list(sizes), "rounds": rounds,
                     "calls": calls, "warmup": warmup, "reps": reps, "budget": budget,
                     "cold_repeats": cold_repeats, "quick": quick, "peers": peers,
                     "ort_threads": os.environ.get("PORTABLE_ORT_THREADS", "1"),
                     "native_threads": 1},
        "environment": _environment(),
        "reference": reference,
        "runners": out,
        "phase_seconds": phases,
        "seconds": round(time.perf_counter() - t_start, 2),
    }


def _environment() -> dict:
    import platform

    from .artifact import environment

    env = environment()
    env.update({"cpus": os.cpu_count(), "machine": platform.machine()})
    try:
        env["load_average"] = [round(v, 2) for v in os.getloadavg()]
    except OSError:
        pass
    return env
