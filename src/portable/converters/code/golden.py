"""Golden rows for the generated self-tests: inputs, expected outputs and tolerances."""

from __future__ import annotations

import numpy as np

from ... import ir
from ...ir.evaluate import apply_transform, prepare_input
from .lower import Linear, Program, _is_missing


def golden(model: ir.Model, prog: Program, rows=None) -> dict:
    """Golden inputs, expected outputs and per-value tolerances for ``prog``'s self-tests.

    Tree margins and identity predictions are exact (tolerance 0); float32 links get
    4 float32 ULP; float64 links 1e-12 relative; linear models a bound on float64 dot-product
    rounding, ``1e-12 * (|b| + sum |w x|)``, since BLAS sums in its own order. ``rows``
    default to :func:`portable.probes.golden_rows` (threshold probes and a NaN row).
    """
    from ...probes import golden_rows

    X = golden_rows(model) if rows is None else prepare_input(model.signature, rows)
    margin = np.asarray(ir.evaluate(model, X, output="margin"))
    pred = np.asarray(ir.evaluate(model, X))
    est = prog.estimator
    if isinstance(est, Linear):
        Z = X
        for step in model.transforms:
            Z = apply_transform(step, Z)
        Z = np.asarray(Z, np.float64)
        bound = 1e-12 * (np.abs(est.intercept) + np.abs(Z) @ np.abs(est.coef).T) + 1e-300
        m_tol = bound
        p_tol = bound.max(axis=1, keepdims=True) * np.maximum(1.0, np.abs(pred)) + (
            1e-12 * np.abs(pred))
    else:
        m_tol = np.zeros(margin.shape)
        if prog.link == "identity":
            p_tol = np.zeros(pred.shape)
        elif prog.f32:
            p_tol = 4 * np.spacing(np.abs(pred.astype(np.float32))).astype(np.float64)
        else:
            p_tol = 1e-12 * np.abs(pred) + 1e-300
    inputs = [[None if _is_missing(v) else (v if isinstance(v, str) else float(v)) for v in row]
              for row in np.asarray(X, dtype=object).tolist()]
    return {"inputs": inputs, "margin": margin.astype(np.float64), "margin_tol": m_tol,
            "prediction": pred.astype(np.float64), "prediction_tol": p_tol}
