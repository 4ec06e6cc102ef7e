"""What "agrees" means in ``portable.verify``: tolerances per route, format and engine, and
the per-stage comparisons (max abs / rel / ULP, a ULP histogram, label flips) they judge."""

from __future__ import annotations

import numpy as np

from .errors import InputError
from .parity import compare, ulp_distance

STAGES = ("margin", "prediction", "label")
KINDS = ("held_out", "nan", "probes")
METRICS = ("max_abs", "max_rel", "max_ulp", "label_flips")

DEFAULT_TOLERANCES = {
    # Our own routes reproduce the reference's arithmetic: tree margins bit for bit (a few
    # ULP leave room for a runtime that sums in another order), float64 dot products to
    # rounding (1e-12), links within a few ULP, tiny probabilities within 1e-7 absolute.
    "default": {"margin": {"max_ulp": 4, "max_abs": 1e-12, "max_rel": 1e-12},
                "prediction": {"max_ulp": 4, "max_abs": 1e-7, "max_rel": 1e-12},
                "label": {"label_flips": 0}},
    # The source library against the reference evaluator (XGBoost's vectorised expf).
    "source": {"margin": {"max_ulp": 4, "max_abs": 1e-12, "max_rel": 1e-12},
               "prediction": {"max_ulp": 4, "max_abs": 1e-7, "max_rel": 1e-12},
               "label": {"label_flips": 0}},
    # JPMML computes XGBoost's float32 sigmoid / softmax with Java's own exp.
    "pmml": {"prediction": {"max_ulp": 16, "max_abs": 2.5e-7}},
    # Upstream engines compute in float32 and have no margin output; flips still fail.
    "skl2onnx": {"prediction": {"max_rel": 1e-5, "max_abs": 1e-6}, "label": {"label_flips": 0}},
    "onnxmltools": {"prediction": {"max_rel": 1e-5, "max_abs": 1e-6},
                    "label": {"label_flips": 0}},
    # sklearn2pmml writes XGBoost as float32 documents whose 1 - p rounds in float32.
    "sklearn2pmml": {"prediction": {"max_rel": 1e-5, "max_abs": 1e-6},
                     "label": {"label_flips": 0}},
}
HIST_EDGES = [0, 1, 2, 4, 16, 256, 65536]  # ULP bins: 0, 1, 2-3, 4-15, 16-255, ..., inf
MIN_ROWS = 20  # a budgeted runtime still compares at least this many rows of each kind


# ----------------------------------------------------------------------------- tolerances
def parse_tolerances(items) -> dict:
    """``["onnx.prediction.max_abs=1e-6", "default.label.label_flips=2"]`` -> nested dict.

    The key before the stage may be a format, a route id (``pmml/jpmml``), an engine, or
    ``default`` / ``source``; ``none`` as a value removes the bound.
    """
    out: dict = {}
    for item in items or ():
        key, sep, value = str(item).partition("=")
        parts = key.strip().rsplit(".", 2)
        if not sep or len(parts) != 3 or parts[1] not in STAGES or parts[2] not in METRICS:
            raise InputError(f"Bad tolerance {item!r}: write FORMAT.STAGE.METRIC=VALUE with "
                             f"STAGE in {', '.join(STAGES)} and METRIC in {', '.join(METRICS)}, "
                             f"e.g. onnx.prediction.max_abs=1e-6.")
        try:
            v = None if value.strip().lower() == "none" else float(value)
        except ValueError:
            raise InputError(f"Bad tolerance {item!r}: {value!r} is not a number.") from None
        out.setdefault(parts[0], {}).setdefault(parts[1], {})[parts[2]] = v
    return out


def _merge(base: dict, extra: dict | None) -> dict:
    out = {k: {s: dict(m) for s, m in v.items()} for k, v in base.items()}
    for key, stages in (extra or {}).items():
        for stage, metrics in stages.items():
            out.setdefault(key, {}).setdefault(stage, {}).update(metrics)
    return out


def tolerance_for(tol: dict, keys, stage: str) -> dict:
    """The stage's bounds, layered from ``default`` up to the most specific of ``keys``
    (route id first): each layer's metrics replace the ones below it; None removes one."""
    out: dict = {}
    for key in ["default", *reversed(list(keys))]:
        out.update(tol.get(key, {}).get(stage, {}))
    return {k: v for k, v in out.items() if v is not None}


def _disagree(ref: np.ndarray, got: np.ndarray, bounds: dict) -> np.ndarray:
    """Per row: True when some value is outside every bound of ``bounds``."""
    ref64, got64 = np.asarray(ref, np.float64), np.asarray(got, np.float64)
    with np.errstate(invalid="ignore"):
        diff = np.abs(ref64 - got64)
    nan_ok = np.isnan(ref64) & np.isnan(got64)
    ok = nan_ok.copy()
    if not any(k in bounds for k in ("max_abs", "max_rel", "max_ulp")):
        return np.zeros(ref64.shape[0], dtype=bool)
    with np.errstate(invalid="ignore"):
        if "max_abs" in bounds:
            ok |= diff <= bounds["max_abs"]
        if "max_rel" in bounds:
            ok |= diff <= bounds["max_rel"] * np.abs(ref64)
        if "max_ulp" in bounds:
            dt = np.float32 if np.asarray(ref).dtype == np.float32 else np.float64
            ok |= ulp_distance(ref, got, dt) <= bounds["max_ulp"]
    return ~ok.all(axis=1)


def _histogram(ref, got) -> list[int]:
    dt = np.float32 if np.asarray(ref).dtype == np.float32 else np.float64
    d = ulp_distance(ref, got, dt).max(axis=1) if len(ref) else np.zeros(0)
    edges = HIST_EDGES + [np.inf]
    counts = [int(np.count_nonzero(d == 0))]
    for lo, hi in zip(edges[1:], edges[2:]):
        counts.append(int(np.count_nonzero((d >= lo) & (d < hi))))
    counts.append(int(np.count_nonzero(np.isinf(d))))
    return counts


def hist_labels() -> list[str]:
    """Names of the ULP-histogram bins stored in verify results."""
    e = HIST_EDGES
    labels = ["0"] + [f"{lo}" if hi - lo == 1 else f"{lo}-{hi - 1}" for lo, hi in zip(e[1:], e[2:])]
    return labels + [f">={e[-1]}", "inf/NaN"]


def _same_labels(a, b) -> np.ndarray:
    """Elementwise label equality across engines (1 == 1.0 == "1")."""
    def norm(v):
        try:
            return float(v)
        except (TypeError, ValueError):
            return str(v)
    return np.array([norm(x) == norm(y) for x, y in zip(a, b)], dtype=bool)


# ----------------------------------------------------------------------------- comparisons
def _stage_result(ref, got, bounds: dict, *, cls: bool) -> dict:
    r = compare(ref, got, classification=cls)
    bad = _disagree(ref, got, bounds) if "shape_mismatch" not in r else np.ones(len(ref), bool)
    r["mismatched_rows"] = int(np.count_nonzero(bad))
    r["passed"] = bool(r["mismatched_rows"] == 0)
    r["histogram"] = _histogram(ref, got) if "shape_mismatch" not in r else None
    return r, bad


def _label_result(ref_labels, got_labels, bounds: dict, derived: bool,
                  undefined=None) -> tuple[dict, np.ndarray]:
    """Label flips; rows in ``undefined`` (the reference predicts NaN) are not compared."""
    bad = ~_same_labels(ref_labels, got_labels)
    if undefined is not None:
        bad &= ~undefined
    n = int(np.count_nonzero(bad))
    out = {"rows": int(len(ref_labels)), "label_flips": n,
           "passed": n <= bounds.get("label_flips", 0), "derived": derived}
    if undefined is not None and undefined.any():
        out["undefined"] = int(np.count_nonzero(undefined))
    return out, bad
