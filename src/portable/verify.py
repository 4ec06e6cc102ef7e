"""``verify``: export through every available route, run every runtime, compare each with the
source library and the reference evaluator on held-out, NaN and threshold-probe rows."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from . import ir
from .errors import PortableError
from .parity import compare

# A runtime passes when, on every row kind, labels never flip and the prediction's relative
# error stays within this bound (code routes reproduce float32 sums exactly: 0 ULP margins).
DEFAULT_TOLERANCES = {
    "default": {"label_flips": 0, "max_rel": 1e-5, "max_ulp_margin": None},
    "c": {"label_flips": 0, "max_rel": 1e-5, "max_ulp_margin": 0},
    "python": {"label_flips": 0, "max_rel": 1e-5, "max_ulp_margin": 0},
    "java": {"label_flips": 0, "max_rel": 1e-5, "max_ulp_margin": 0},
    "javascript": {"label_flips": 0, "max_rel": 1e-5, "max_ulp_margin": 0},
}


def _rows(model: ir.Model, data, n_rows: int, n_probe: int, seed: int) -> dict:
    from .ir.evaluate import prepare_input
    from .probes import probe_rows, sample_rows

    held = prepare_input(model.signature, data) if data is not None else sample_rows(model, n_rows, seed=seed)
    nan = held.copy()
    rng = np.random.default_rng(seed + 1)
    numeric = [j for j, t in enumerate(model.signature.feature_types) if t != "string"]
    mask = rng.random((len(nan), len(numeric))) < 0.15
    for k, j in enumerate(numeric):
        nan[mask[:, k], j] = np.nan
    probes = probe_rows(model, n=n_probe, seed=seed, background=held)
    return {"held_out": held, "nan": nan, "probes": probes}


def _align(src: np.ndarray | None, ref: np.ndarray):
    """Binary LogisticRegression's IR margin is [-d, d]; the library returns d."""
    if src is not None and src.shape[1] == 1 and ref.shape[1] == 2:
        return ref[:, 1:]
    return ref


def verify(model, *, formats=None, data=None, n_rows: int = 1000, n_probe: int = 2000,
           seed: int = 0, tolerances: dict | None = None, runtimes: dict | None = None,
           progress=None) -> dict:
    """Prove that every exported artifact predicts what the model predicts.

    Parameters
    ----------
    model : estimator, Booster, path or ir.Model
    formats : list of str, optional
        Formats to export (default: every registered format whose converter loads and
        supports the model's step kinds).
    data : array-like, optional
        Held-out rows; default: rows sampled from the model's own thresholds.
    tolerances : dict, optional
        Per-format overrides of ``DEFAULT_TOLERANCES``.
    runtimes : dict, optional
        format -> runtime name (default: the format's default runtime).

    Returns
    -------
    dict with ``model`` (summary), ``source_vs_reference`` and ``routes`` (per format:
    status, seconds, per row kind and stage the comparison figures) and ``passed``.
    """
    from .api import convert, import_model
    from .converters import CONVERTERS
    from .loading import load_model_file
    from .runtimes import RUNTIMES
    from .source import source_predict
    from .summary import describe

    obj = load_model_file(model) if isinstance(model, (str, Path)) else model
    m = import_model(obj)
    cls = m.signature.task == "classification"
    tol = {**DEFAULT_TOLERANCES, **(tolerances or {})}
    rows = _rows(m, data, n_rows, n_probe, seed)
    ref = {k: {s: ir.evaluate(m, X, output=s) for s in ("margin", "prediction")}
           for k, X in rows.items()}
    result = {"model": describe(m), "rows": {k: int(len(v)) for k, v in rows.items()},
              "source_vs_reference": {}, "routes": {}}
    for kind, X in rows.items():
        for stage in ("margin", "prediction"):
            src = source_predict(obj, m, X, output=stage)
            if src is not None:
                result["source_vs_reference"].setdefault(kind, {})[stage] = compare(
                    src, _align(src, ref[kind][stage]), classification=cls)
    kinds = m.step_kinds()
    chosen = formats or [f for f in CONVERTERS.names() if _supports(CONVERTERS, f, m)]
    passed = True
    for fmt in chosen:
        if progress:
            progress(fmt)
        entry = result["routes"][fmt] = {}
        t0 = time.perf_counter()
        try:
            conv = CONVERTERS.get(fmt)
            if not _supports(CONVERTERS, fmt, m):
                entry["status"] = "unsupported"
                entry["reason"] = f"{fmt} cannot express {sorted(kinds - set(conv.supports))}"
                continue
            rt_name = (runtimes or {}).get(fmt) or conv.default_runtime
            rt = RUNTIMES.get(rt_name)
            why = rt.available()
            entry["runtime"] = rt_name
            if why:
                entry["status"], entry["reason"] = "skipped", why
                continue
            with tempfile.TemporaryDirectory(prefix="portable-verify-") as tmp:
                art = convert(m, format=fmt).save(Path(tmp) / fmt, check=False)
                entry["export_seconds"] = round(time.perf_counter() - t0, 3)
                session = rt().load(art)
                try:
                    entry["results"] = {}
                    for kind, X in rows.items():
                        entry["results"][kind] = {}
                        for stage in ("margin", "prediction"):
                            got = session.predict(X, output=stage)
                            entry["results"][kind][stage] = compare(
                                ref[kind][stage], got, classification=cls)
                finally:
                    getattr(session, "close", lambda: None)()
            entry["status"] = "passed" if _within(entry["results"], tol.get(fmt, tol["default"])) else "failed"
        except PortableError as e:
            entry["status"], entry["reason"] = "failed", f"{type(e).__name__}: {e}"
        entry["seconds"] = round(time.perf_counter() - t0, 3)
        passed &= entry["status"] != "failed"
    result["passed"] = bool(passed)
    return result


def _supports(converters, fmt: str, m: ir.Model) -> bool:
    try:
        sup = converters.get(fmt).supports
    except Exception:
        return False
    return m.step_kinds() <= set(sup)


def _within(results: dict, tol: dict) -> bool:
    for stages in results.values():
        pred, margin = stages["prediction"], stages["margin"]
        if pred["label_flips"] > tol["label_flips"] or pred["max_rel"] > tol["max_rel"]:
            if not (pred["max_abs"] <= tol["max_rel"]):  # near-zero values: absolute bound
                return False
        if tol.get("max_ulp_margin") is not None and margin["max_ulp"] > tol["max_ulp_margin"]:
            return False
        if pred["label_flips"] > tol["label_flips"]:
            return False
    return True
