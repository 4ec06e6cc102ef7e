"""``verify``: export through every available route, run every runtime, and compare each with
the source library and the reference evaluator on held-out, NaN and threshold-probe rows.

::

    trained object ──source_predict──────────────┐
        │                                         ├─ "source" (frontend bugs)
        └─import_model─> ir.Model ──evaluate─────┤
                            │                     ├─ every route: vs reference, vs source
                            └─convert─> artifact ──load(runtime)─> session.predict

Stages compared: ``margin`` (raw scores), ``prediction`` (values / probabilities) and
``label`` (classifiers). A value *agrees* when it is within any bound its stage sets
(``max_abs``, ``max_rel`` (times |reference|), ``max_ulp``), as ``numpy.isclose`` admits
``atol + rtol``; a stage passes when every value agrees and labels flip no more than
``label_flips``. Tolerances are looked up by route id (``onnx/onnxruntime``), then format
or engine (``onnx``, ``skl2onnx``), then ``default``; override them with a dict or
``"fmt.stage.metric=value"`` strings (:func:`parse_tolerances`).

Slow runtimes get a time budget: the harness times a warm-up call, and when all rows
would take longer than ``budget`` seconds it compares a seeded subsample of each row kind,
and says so (``rows.compared`` < ``rows.available``, ``subsampled``).
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from . import ir
from .errors import PortableError

# Re-exported: the CLI, the report and callers read tolerances from here.
from .tolerances import (DEFAULT_TOLERANCES, MIN_ROWS, STAGES, _label_result,  # noqa: F401
                         _merge, _stage_result, hist_labels, parse_tolerances, tolerance_for)


# ----------------------------------------------------------------------------- rows
def _rows(model: ir.Model, data, n_rows: int, n_nan: int, n_probe: int, seed: int) -> dict:
    from .ir.evaluate import prepare_input
    from .probes import probe_rows, sample_rows

    held = (prepare_input(model.signature, data) if data is not None
            else sample_rows(model, n_rows, seed=seed))
    rng = np.random.default_rng(seed + 1)
    pick = rng.permutation(len(held))[:min(n_nan, len(held))]
    nan = held[np.sort(pick)].copy()
    numeric = [j for j, t in enumerate(model.signature.feature_types) if t != "string"]
    if numeric and len(nan):
        mask = rng.random((len(nan), len(numeric))) < 0.15
        for k, j in enumerate(numeric):
            nan[mask[:, k], j] = np.nan
    probes = probe_rows(model, n=n_probe, seed=seed, background=held[:2000])
    return {"held_out": held, "nan": nan, "probes": probes}


def _labels(model, pred):
    return ir.labels(model, np.asarray(pred, np.float64))


# ----------------------------------------------------------------------------- source
def _source_object(model):
    """The trained object for source predictions (an XGBoost file as a Booster)."""
    from .loading import XGBOOST_EXTENSIONS, load_model_file

    if isinstance(model, (str, os.PathLike)):
        if str(model).lower().endswith(XGBOOST_EXTENSIONS):
            try:
                import xgboost
                return xgboost.Booster(model_file=str(model))
            except ImportError:
                return load_model_file(model)  # an ir.Model: no source comparison
        return load_model_file(model)
    return model


def _source_outputs(obj, m: ir.Model, X) -> dict:
    """The source library's margin, prediction and labels for ``X`` (None where absent)."""
    from .source import _frame, source_predict

    out = {}
    for stage in ("margin", "prediction"):
        try:
            out[stage] = source_predict(obj, m, X, output=stage)
        except Exception as e:  # sklearn refuses NaN where the estimator has no NaN story
            out[stage] = None
            out.setdefault("errors", {})[stage] = f"{type(e).__name__}: {e}"[:300]
    if m.signature.task == "classification" and out.get("prediction") is not None:
        try:
            if hasattr(obj, "predict") and not type(obj).__name__ == "Booster":
                out["label"] = np.asarray(obj.predict(_frame(obj, m, X)), dtype=object).ravel()
            else:
                out["label"] = _labels(m, out["prediction"])
        except Exception as e:
            out.setdefault("errors", {})["label"] = f"{type(e).__name__}: {e}"[:300]
    return out


def _align(src: np.ndarray | None, ref: np.ndarray):
    """Binary LogisticRegression's IR margin is [-d, d]; the library returns d."""
    if src is not None and src.ndim == 2 and src.shape[1] == 1 and ref.shape[1] == 2:
        return ref[:, 1:]
    return ref


# ----------------------------------------------------------------------------- routes
# Upstream engines (they convert the trained object): engine -> (format, runtime).
UPSTREAM = {"skl2onnx": ("onnx", "onnxruntime"), "onnxmltools": ("onnx", "onnxruntime"),
            "sklearn2pmml": ("pmml", "jpmml")}


def plan_routes(m: ir.Model, *, formats=None, runtimes=None, engines=None, obj=None) -> list[dict]:
    """Routes to run: every (format, runtime) pair asked for, each with its status so far.

    ``runtimes`` adds runtimes to their formats' defaults (a list of names, or a dict
    format -> name or list of names); ``engines`` adds upstream engines (``UPSTREAM``).
    """
    from .converters import CONVERTERS
    from .runtimes import RUNTIMES

    routes = []
    extra = runtimes or []
    if isinstance(extra, str):
        extra = [r.strip() for r in extra.split(",") if r.strip()]
    for fmt in formats or CONVERTERS.names():
        base = {"format": fmt, "engine": "portable"}
        try:
            conv = CONVERTERS.get(fmt)
        except ImportError as e:
            routes.append({**base, "id": fmt, "runtime": None, "status": "skipped",
                           "reason": f"the {fmt} converter is not available here ({e})"})
            continue
        names = [conv.default_runtime]
        if isinstance(extra, dict):
            more = extra.get(fmt, [])
            names += [more] if isinstance(more, str) else list(more)
        else:
            for name in extra:
                try:
                    if fmt in RUNTIMES.get(name).formats:
                        names.append(name)
                except ImportError:
                    continue
        missing = sorted(m.step_kinds() - set(conv.supports))
        for name in dict.fromkeys(names):
            r = {**base, "id": f"{fmt}/{name}", "runtime": name, "status": "pending"}
            if missing:
                r.update(status="skipped", reason=f"{fmt} cannot express {', '.join(missing)}")
            routes.append(r)
    for engine in engines or ():
        if engine not in UPSTREAM:
            from .errors import UnknownNameError
            raise UnknownNameError(f"Unknown upstream engine {engine!r}; known: "
                                   f"{', '.join(sorted(UPSTREAM))}.")
        fmt, runtime = UPSTREAM[engine]
        r = {"format": fmt, "engine": engine, "id": f"{fmt}[{engine}]/{runtime}",
             "runtime": runtime, "status": "pending"}
        if obj is None or isinstance(obj, ir.Model):
            r.update(status="skipped", reason=f"{engine} converts the trained object; "
                                              f"none was given (an IR model or XGBoost file)")
        routes.append(r)
    for r in routes:
        if r["status"] == "pending":
            try:
                why = RUNTIMES.get(r["runtime"]).available()
            except ImportError as e:
                why = f"the {r['runtime']} runtime is not available here ({e})"
            if why:
                r.update(status="skipped", reason=why)
    return routes


_EXPORT_LOCK = threading.Lock()


def _export(route, m, obj, tmp: Path, cache: dict):
    """The route's artifact, exported once per (format, engine) and shared by runtimes."""
    from .api import convert
    from .artifact import read_artifact

    key = (route["format"], route["engine"])
    with _EXPORT_LOCK:
        if key not in cache:
            out = tmp / f"{route['format']}-{route['engine']}"
            if route["engine"] == "portable":
                convert(m, format=route["format"]).save(out, check=False)
            else:  # an upstream engine converts the trained object
                from .probes import sample_rows
                convert(obj, format=route["format"], engine=route["engine"],
                        sample=sample_rows(m, 64, seed=0)).save(out, check=False)
            cache[key] = read_artifact(out)
        return cache[key]


def _calibrate(session, held) -> tuple[float, float]:
    """(seconds per call, seconds per row) of a session, from calls of growing size.

    The calls double as warm-up (JPMML's JIT); two sizes separate a runtime's fixed cost
    per call (a process round trip) from its cost per row.
    """
    pts, n = [], 16
    while True:
        k = max(min(n, len(held)), 1)
        t = time.perf_counter()
        session.predict(held[:k])
        pts.append((k, time.perf_counter() - t))
        if k >= len(held) or pts[-1][1] > 2.0 or (len(pts) >= 2 and (
                pts[-1][1] > 0.25 or k >= 1024)):
            break
        n *= 4
    (na, ta), (nb, tb) = pts[-2] if len(pts) > 1 else (0, 0.0), pts[-1]
    per_row = (tb - ta) / (nb - na) if nb > na and tb > ta else tb / nb
    return max(ta - per_row * na, 0.0) if len(pts) > 1 else 0.0, per_row


def _budget_rows(session, rows: dict, budget: float | None, passes: int, seed: int):
    """Warm the session up, time it, and pick the rows that fit in ``budget`` seconds."""
    fixed, per_row = _calibrate(session, rows["held_out"])
    total = sum(len(v) for v in rows.values())
    calls = passes * sum(1 for v in rows.values() if len(v))
    estimate = calls * fixed + passes * total * per_row
    if not budget or estimate <= budget:
        return {k: np.arange(len(v)) for k, v in rows.items()}, None, per_row
    frac = max(budget - calls * fixed, 0.0) / max(passes * total * per_row, 1e-12)
    rng = np.random.default_rng(seed + 7)
    picked = {k: np.sort(rng.permutation(len(v))[:max(min(len(v), MIN_ROWS),
                                                        int(len(v) * frac))])
              for k, v in rows.items()}
    why = (f"{1 / per_row:,.0f} rows/s: all {total:,} rows x {passes} outputs would take "
           f"~{estimate:.0f} s, over the {budget:g}-s budget; compared a seeded subsample")
    return picked, why, per_row


def _outputs(session, m, X, has_labels: bool) -> dict:
    """A session's margin, prediction and (classifiers) labels for ``X``; a graph without a
    margin output (upstream engines) has no "margin" entry."""
    got = {}
    for stage in ("margin", "prediction"):
        try:
            got[stage] = np.asarray(session.predict(X, output=stage))
        except PortableError as e:
            if stage == "margin" and "no 'margin' output" in str(e):
                continue
            raise
    if m.signature.task == "classification":
        labels = None
        if has_labels:
            try:
                labels = session.labels(X)
            except PortableError:
                labels = None
        got["label"] = ((labels, False) if labels is not None
                        else (_labels(m, got["prediction"]), True))
    return got


def _compare_kind(got, ref, src, idx, bounds_of, cls: bool):
    """(vs reference, vs source, mismatching rows per stage) for one row kind."""
    vs_ref, vs_src, bad_rows = {}, {}, {}
    undefined = np.isnan(np.asarray(ref["prediction"][idx], float)).any(axis=1)
    for stage in STAGES:
        if stage not in got:
            continue
        bounds = bounds_of(stage)
        if stage == "label":
            lab, derived = got["label"]
            vs_ref[stage] = _label_result(ref["label"][idx], lab, bounds, derived, undefined)[0]
            if src.get("label") is not None:
                vs_src[stage] = _label_result(np.asarray(src["label"])[idx], lab, bounds,
                                              derived, undefined)[0]
            continue
        vs_ref[stage], bad_rows[stage] = _stage_result(ref[stage][idx], got[stage], bounds,
                                                       cls=cls)
        s = src.get(stage)
        if s is not None and s.shape[1] == got[stage].shape[1]:
            vs_src[stage] = _stage_result(s[idx], got[stage], bounds, cls=cls)[0]
    return vs_ref, vs_src, bad_rows


def _run_route(route, m, obj, rows, ref, src, tol, *, tmp, cache, budget, seed, n_diag):
    """Export, load, predict every row kind and compare; fills ``route`` in place."""
    from .runtimes import RUNTIMES

    t0 = time.perf_counter()
    cls = m.signature.task == "classification"
    keys = [k for k in (route["id"], f"{route['format']}[{route['engine']}]", route["engine"],
                        route["format"], route["runtime"]) if k]
    art = _export(route, m, obj, tmp, cache)
    route["export_seconds"] = round(time.perf_counter() - t0, 3)
    t1 = time.perf_counter()
    session = RUNTIMES.get(route["runtime"])().load(art)
    route["load_seconds"] = round(time.perf_counter() - t1, 3)
    try:
        has_labels = cls and hasattr(session, "labels")
        picked, why, per_row = _budget_rows(session, rows, budget, 2 + int(has_labels), seed)
        route["rows_per_second"] = round(1 / per_row, 1) if per_row > 0 else None
        route["subsampled"] = why
        route["rows"] = {k: {"compared": int(len(picked[k])), "available": int(len(v))}
                         for k, v in rows.items()}
        t2 = time.perf_counter()
        vs_ref, vs_src, bad_rows, got_all = {}, {}, {}, {}
        for kind, X in rows.items():
            idx = picked[kind]
            if not len(idx):
                continue
            got = _outputs(session, m, X[idx], has_labels)
            got_all[kind] = (idx, got)
            vs_ref[kind], vs_src[kind], bad = _compare_kind(
                got, ref[kind], src[kind], idx, lambda st: tolerance_for(tol, keys, st), cls)
            bad_rows.update({(kind, st): b for st, b in bad.items()})
    finally:
        getattr(session, "close", lambda: None)()
    route["predict_seconds"] = round(time.perf_counter() - t2, 3)
    route["results"] = {"vs_reference": vs_ref, "vs_source": vs_src}
    route["stages"] = sorted({s for k in vs_ref.values() for s in k}, key=STAGES.index)
    failed = sorted({f"{k}.{s}" for part in (vs_ref, vs_src) for k, st in part.items()
                     for s, r in st.items() if not r["passed"]})
    route["status"] = "failed" if failed else "passed"
    if failed:
        route["reason"] = "outside tolerance: " + ", ".join(failed)
        route["divergences"] = _divergences(m, rows, got_all, bad_rows, n_diag)
    route["seconds"] = round(time.perf_counter() - t0, 3)


def _divergences(m, rows, got_all, bad_rows, n_diag: int) -> list[dict]:
    """Localise up to ``n_diag`` distinct divergences (probe rows first, one per node)."""
    from .diagnose import localise

    if not n_diag or not isinstance(m.estimator, ir.TreeEnsemble):
        return []
    out, seen = [], set()
    order = {"probes": 0, "held_out": 1, "nan": 2}
    for (kind, stage), bad in sorted(bad_rows.items(), key=lambda kv: order.get(kv[0][0], 3)):
        idx, got = got_all[kind]
        if stage != "margin" and "margin" in got:
            continue  # the margin stage localises the same rows better
        for k in np.flatnonzero(bad)[:20 * n_diag]:
            d = localise(m, rows[kind][idx[k]], got[stage][k], output=stage, row=int(idx[k]))
            if d is None or (d.tree, d.node, d.hypothesis) in seen:
                continue
            seen.add((d.tree, d.node, d.hypothesis))
            out.append({"kind": kind, **d.to_dict()})
            if len(out) >= n_diag:
                return out
    return out


# ----------------------------------------------------------------------------- verify
def verify(model, *, formats=None, runtimes=None, engines=None, data=None,
           n_rows: int = 1000, n_nan: int = 1000, n_probe: int = 2000, seed: int = 0,
           tolerances: dict | None = None, budget: float | None = 10.0, diagnose: int = 3,
           jobs: int = 1, progress=None) -> dict:
    """Prove that every exported artifact predicts what the model predicts.

    Parameters
    ----------
    model : estimator, Booster, path or ir.Model
    formats : list of str, optional
        Formats to export (default: every registered one; those whose converter or runtime
        is missing here, or cannot express the model, are reported as skipped).
    runtimes : list of str or dict, optional
        Runtimes to run besides each format's default (e.g. ``["jpmml"]``).
    engines : list of str, optional
        Upstream ONNX engines to add as routes (``"skl2onnx"``, ``"onnxmltools"``).
    data : array-like, optional
        Held-out rows (default: ``n_rows`` rows sampled around the model's thresholds).
    n_nan, n_probe : int
        NaN rows (held-out rows with 15 % of numeric cells missing) and threshold probes.
    tolerances : dict, optional
        ``{key: {stage: {metric: bound}}}`` merged over ``DEFAULT_TOLERANCES``.
    budget : float or None
        Seconds of prediction per runtime before rows are subsampled (None: no limit).
    diagnose : int
        Mismatching rows to localise (tree, node, feature, threshold) per failed route.
    jobs : int
        Routes run at once (threads: the JVM, compilers and onnxruntime work outside the
        GIL, so two routes overlap well on two cores).
    progress : callable(step: str, done: int, total: int), optional

    Returns
    -------
    dict (JSON-ready): ``model``, ``rows``, ``source`` (source library vs reference),
    ``routes`` (route id -> status, timings, rows, results, divergences), ``passed``.

    Examples
    --------
    >>> import portable
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> est = DecisionTreeRegressor(max_depth=3).fit([[0.0], [1.0], [2.0]], [0, 1, 2])
    >>> res = portable.verify(est, formats=["onnx"], n_rows=50, n_probe=50)  # doctest: +SKIP
    >>> res["routes"]["onnx/onnxruntime"]["status"]                         # doctest: +SKIP
    'passed'
    """
    from .api import import_model
    from .summary import describe

    t_start = time.perf_counter()
    obj = _source_object(model)
    m = import_model(obj)
    cls = m.signature.task == "classification"
    tol = _merge(DEFAULT_TOLERANCES, tolerances)
    routes = plan_routes(m, formats=formats, runtimes=runtimes, engines=engines, obj=obj)
    todo = [r for r in routes if r["status"] == "pending"]
    total = 1 + len(todo)
    step = _progress(progress)
    step("reference and source", 0, total)
    rows = _rows(m, data, n_rows, n_nan, n_probe, seed)
    ref, src, source = {}, {}, {"available": not isinstance(obj, ir.Model), "results": {}}
    for kind, X in rows.items():
        ref[kind] = {s: ir.evaluate(m, X, output=s) for s in ("margin", "prediction")}
        if cls:
            ref[kind]["label"] = _labels(m, ref[kind]["prediction"])
        src[kind] = _source_outputs(obj, m, X) if source["available"] else {}
        res = source["results"][kind] = {}
        for stage in STAGES:
            s = src[kind].get(stage)
            if s is None or stage not in ref[kind]:
                continue
            bounds = tolerance_for(tol, ["source"], stage)
            if stage == "label":
                undef = np.isnan(np.asarray(ref[kind]["prediction"], float)).any(axis=1)
                res[stage] = _label_result(ref[kind]["label"], s, bounds, False, undef)[0]
            else:
                src[kind][stage] = np.asarray(s)
                res[stage] = _stage_result(s, _align(s, ref[kind][stage]), bounds, cls=cls)[0]
                if s.shape != ref[kind][stage].shape:
                    src[kind][stage] = None  # binary margins: compared above, not per route
        if src[kind].get("errors"):
            source.setdefault("errors", {})[kind] = src[kind]["errors"]
    failed = [f"{k}.{s}" for k, st in source["results"].items() for s, r in st.items()
              if not r["passed"]]
    source["status"] = ("failed" if failed else "passed") if source["available"] else "skipped"
    if failed:
        source["reason"] = ("the reference evaluator disagrees with the source library "
                            "(a frontend bug): " + ", ".join(failed))
    cache: dict = {}
    done = [1]

    def run(route):
        try:
            _run_route(route, m, obj, rows, ref, src, tol, tmp=Path(tmp), cache=cache,
                       budget=budget, seed=seed, n_diag=diagnose)
        except PortableError as e:
            route.update(status="error", reason=f"{type(e).__name__}: {e}"[:1000])
        done[0] += 1
        step(f"{route['id']} {route['status']}", done[0], total)

    with tempfile.TemporaryDirectory(prefix="portable-verify-") as tmp:
        # Slowest first, so that the long routes overlap.
        slow = {"titus": 0, "jpmml": 1, "jvm": 2, "gcc": 3, "node": 4}
        order = sorted(todo, key=lambda r: slow.get(r["runtime"], 9))
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            list(pool.map(run, order))
    step("done", total, total)
    passed = source["status"] != "failed" and all(
        r["status"] not in ("failed", "error") for r in routes)
    return {
        "kind": "verify", "schema": 1,
        "model": {**describe(m), "name": _name(model)},
        "settings": {"seed": seed, "n_rows": n_rows, "n_nan": n_nan, "n_probe": n_probe,
                     "budget": budget, "data": "given" if data is not None else "sampled",
                     "tolerances": tol, "histogram_bins": hist_labels()},
        "rows": {k: int(len(v)) for k, v in rows.items()},
        "source": source,
        "routes": {r["id"]: r for r in routes},
        "passed": bool(passed),
        "seconds": round(time.perf_counter() - t_start, 3),
    }


def _progress(progress):
    """``progress(step, done, total)``; a one-argument callable gets the step only."""
    if progress is None:
        return lambda *a: None
    import inspect

    try:
        params = inspect.signature(progress).parameters.values()
        n = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)
        varargs = any(p.kind == p.VAR_POSITIONAL for p in params)
    except (TypeError, ValueError):
        return progress
    return progress if varargs or n >= 3 else (lambda step, *a: progress(step))


def _name(model) -> str:
    if isinstance(model, (str, os.PathLike)):
        return Path(model).name
    if isinstance(model, ir.Model):
        return model.source.estimator
    return type(model).__name__
