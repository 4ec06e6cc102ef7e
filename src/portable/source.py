"""Predictions of the source library itself: the first point of comparison in parity checks.

``source_predict(obj, model, X, output=...)`` calls XGBoost or scikit-learn on the very object
that was imported, so a difference between it and ``portable.evaluate`` is a frontend bug,
and a difference between ``evaluate`` and a runtime is a converter or runtime bug.
"""

from __future__ import annotations

import numpy as np

from . import ir


def _frame(obj, model: ir.Model, X):
    if model.transforms and isinstance(model.transforms[0], ir.TextVectorizer):
        return [("" if v is None else str(v)) for v in np.asarray(X, dtype=object)[:, 0]]
    if getattr(obj, "feature_names_in_", None) is not None:
        import pandas as pd
        df = pd.DataFrame(np.asarray(X, dtype=object), columns=list(model.signature.feature_names))
        for name, t in zip(model.signature.feature_names, model.signature.feature_types):
            if t != "string":
                df[name] = df[name].astype(np.float64)
        return df
    return np.asarray(X, dtype=np.float64) if not model.signature.has_strings else X


def _is_xgb(obj) -> bool:
    return type(obj).__module__.startswith("xgboost")


def source_predict(obj, model: ir.Model, X, *, output: str = "prediction"):
    """The source library's output for rows ``X`` as a 2-D float array (None if it has none).

    ``output="prediction"`` follows the IR signature's prediction kind (values,
    probabilities or decision scores); ``output="margin"`` the raw scores.
    """
    if obj is None or isinstance(obj, ir.Model):
        return None
    if _is_xgb(obj):
        return _xgb_predict(obj, model, X, output)
    if type(obj).__module__.startswith("sklearn"):
        try:
            return _sk_predict(obj, model, X, output)
        except ValueError as e:
            if "NaN" in str(e) or "infinity" in str(e):
                return None  # the estimator refuses missing values: nothing to compare
            raise
    return None


def _xgb_predict(obj, model: ir.Model, X, output: str):
    import xgboost as xgb

    booster = obj.get_booster() if hasattr(obj, "get_booster") else obj
    kwargs = {}
    best = getattr(obj, "best_iteration", None) if hasattr(obj, "get_booster") else None
    if best is not None:
        kwargs["iteration_range"] = (0, int(best) + 1)
    import scipy.sparse as sp

    # A sparse matrix (a pipeline's vectorizer output) goes in as is: XGBoost reads its
    # absent entries as missing, which is the semantics being compared.
    data = X if sp.issparse(X) else np.asarray(X, dtype=np.float32)
    dm = xgb.DMatrix(data, missing=np.nan, feature_names=booster.feature_names)
    if output == "margin":
        out = booster.predict(dm, output_margin=True, **kwargs)
    else:
        if (model.signature.prediction_kind == "probability"
                and "softmax" in (model.source.detail or "") and "softprob" not in model.source.detail):
            return None  # multi:softmax predicts labels; its probabilities are not exposed
        out = booster.predict(dm, **kwargs)
    out = np.asarray(out)
    out = out.reshape(out.shape[0], -1)
    if output == "prediction" and model.signature.prediction_kind == "probability" and out.shape[1] == 1:
        out = np.hstack([np.float32(1.0) - out, out])
    return out


def _sk_predict(obj, model: ir.Model, X, output: str):
    data = _frame(obj, model, X)
    kind = model.signature.prediction_kind
    if output == "prediction":
        if kind == "probability":
            return np.asarray(obj.predict_proba(data), dtype=np.float64)
        if kind == "decision":
            return np.asarray(obj.decision_function(data), dtype=np.float64).reshape(len(X), -1)
        return np.asarray(obj.predict(data), dtype=np.float64).reshape(len(X), -1)
    final = obj
    if hasattr(obj, "steps"):
        final = obj.steps[-1][1]
        if len(obj.steps) > 1:
            data = obj[:-1].transform(data)
    if _is_xgb(final):
        return _xgb_predict(final, model, data if hasattr(data, "tocsr") else
                            np.asarray(data, dtype=np.float64), "margin")
    if hasattr(final, "_raw_predict"):
        if type(final).__name__.startswith("GradientBoosting"):
            # Its _raw_predict skips input validation (NaN rows give garbage); the public
            # methods validate and return the raw score (identity link for regressors).
            f = getattr(final, "decision_function", None) or final.predict
            return np.asarray(f(data), dtype=np.float64).reshape(len(X), -1)
        else:
            arr = np.asarray(data, dtype=np.float64) if not hasattr(data, "columns") else data
        return np.asarray(final._raw_predict(arr), dtype=np.float64).reshape(len(X), -1)
    if hasattr(final, "decision_function"):
        return np.asarray(final.decision_function(data), dtype=np.float64).reshape(len(X), -1)
    if hasattr(final, "predict_proba"):
        return np.asarray(final.predict_proba(data), dtype=np.float64)
    return np.asarray(final.predict(data), dtype=np.float64).reshape(len(X), -1)
