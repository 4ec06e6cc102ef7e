"""Measuring agreement between two prediction arrays: max abs / relative / ULP error, flips."""

from __future__ import annotations

import numpy as np


def ulp_distance(a: np.ndarray, b: np.ndarray, dtype=np.float64) -> np.ndarray:
    """Number of representable ``dtype`` values between ``a`` and ``b`` (elementwise).

    Both are rounded to ``dtype`` first. Equal values (and two NaNs) are 0 apart; NaN
    against a number counts as the largest distance.
    """
    dt = np.dtype(dtype)
    it = np.int32 if dt == np.float32 else np.int64
    a = np.asarray(a, dtype=dt)
    b = np.asarray(b, dtype=dt)
    ia = a.view(it).astype(np.int64)
    ib = b.view(it).astype(np.int64)
    # Map the sign-magnitude float order onto a monotone integer line.
    top = np.int64(np.iinfo(it).min)
    ia = np.where(ia < 0, top - ia, ia)
    ib = np.where(ib < 0, top - ib, ib)
    with np.errstate(over="ignore"):
        d = np.abs(ia.astype(object if it == np.int64 else np.int64) - ib)
    d = np.asarray(d, dtype=np.float64)
    both_nan = np.isnan(a) & np.isnan(b)
    one_nan = np.isnan(a) ^ np.isnan(b)
    d[both_nan] = 0
    d[one_nan] = np.inf
    return d


def compare(reference: np.ndarray, candidate: np.ndarray, *, dtype=None,
            classification: bool = False) -> dict:
    """Agreement of ``candidate`` with ``reference`` (same shape, 2-D).

    Returns a dict: ``rows``, ``max_abs``, ``max_rel``, ``max_ulp`` (in ``dtype``, default the
    reference's float dtype), ``label_flips`` (classifiers: rows whose argmax, or sign for a
    single decision column, differs), ``worst_row``.
    """
    ref = np.asarray(reference, dtype=np.float64)
    cand = np.asarray(candidate, dtype=np.float64)
    if ref.shape != cand.shape:
        return {"rows": int(ref.shape[0]), "shape_mismatch": [list(ref.shape), list(cand.shape)],
                "max_abs": float("inf"), "max_rel": float("inf"), "max_ulp": float("inf"),
                "label_flips": int(ref.shape[0]) if classification else 0, "worst_row": 0}
    dt = np.dtype(dtype) if dtype is not None else (
        np.asarray(reference).dtype if np.asarray(reference).dtype.kind == "f" else np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = np.abs(ref - cand)
        diff[np.isnan(ref) & np.isnan(cand)] = 0.0
        diff[np.isnan(ref) ^ np.isnan(cand)] = np.inf
        rel = np.where(ref != 0, diff / np.abs(ref), np.where(diff == 0, 0.0, np.inf))
    ulp = ulp_distance(reference, candidate, dt) if ref.size else np.zeros(ref.shape)
    flips = 0
    if classification and ref.size:
        if ref.shape[1] == 1:
            flips = int(np.count_nonzero((ref[:, 0] > 0) != (cand[:, 0] > 0)))
        else:
            flips = int(np.count_nonzero(np.argmax(ref, axis=1) != np.argmax(cand, axis=1)))
    worst = int(np.argmax(diff.max(axis=1))) if ref.size else 0
    return {
        "rows": int(ref.shape[0]),
        "max_abs": float(diff.max()) if ref.size else 0.0,
        "max_rel": float(rel.max()) if ref.size else 0.0,
        "max_ulp": float(ulp.max()) if ref.size else 0.0,
        "ulp_dtype": dt.name,
        "label_flips": flips,
        "worst_row": worst,
    }
