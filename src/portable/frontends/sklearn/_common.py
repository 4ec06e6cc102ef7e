"""Shared pieces of the scikit-learn frontend: fitted checks, names, errors, the estimator head."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ...errors import NotFittedError, UnsupportedFeatureError, UnsupportedModelError

LIBRARY = "scikit-learn"


def sklearn_version() -> str:
    import sklearn

    return sklearn.__version__


def version_tuple() -> tuple[int, int]:
    """(major, minor) of the installed scikit-learn, for behaviour that changed between releases."""
    m = re.match(r"(\d+)\.(\d+)", sklearn_version())
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


@dataclass(frozen=True)
class Head:
    """The IR estimator step of a predictor plus what the signature says about its outputs.

    Attributes
    ----------
    step : ir.TreeEnsemble or ir.LinearModel
    task : "regression" or "classification"
    output_names : tuple of str
    prediction_kind : "value", "probability" or "decision"
    classes : tuple or None
    detail : str
        Free text for ``Source.detail`` (loss, link, caveats).
    """

    step: object
    task: str
    output_names: tuple
    prediction_kind: str
    classes: tuple | None = None
    detail: str = ""


def class_name(obj) -> str:
    return type(obj).__name__


def describe(obj) -> str:
    """``Name (module.qualname)`` for error messages."""
    t = type(obj)
    return f"{t.__name__!r} ({t.__module__}.{t.__qualname__})"


def ensure_fitted(est) -> None:
    """Raise :class:`portable.errors.NotFittedError` if scikit-learn says ``est`` is unfitted."""
    from sklearn.exceptions import NotFittedError as SkNotFitted
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(est)
    except SkNotFitted:
        raise NotFittedError(
            f"The {class_name(est)} has not been fitted: call .fit(X, y) before importing it."
        ) from None
    except TypeError as e:  # check_is_fitted refuses non-estimators
        raise UnsupportedModelError(f"Cannot import {describe(est)}: {e}") from None


def feature_names(est, n_features: int) -> tuple[str, ...]:
    """``feature_names_in_`` when the estimator was fitted on a DataFrame, else ``f0, f1, ...``.

    ``f<i>`` is the convention of the XGBoost frontend, so a model keeps the same names
    whichever library trained it.
    """
    names = getattr(est, "feature_names_in_", None)
    if names is not None and len(names) == n_features:
        return tuple(str(n) for n in names)
    return tuple(f"f{i}" for i in range(n_features))


def n_features_in(est) -> int:
    n = getattr(est, "n_features_in_", None)
    if n is None:
        raise UnsupportedFeatureError(
            f"The {class_name(est)} does not record how many features it was fitted on "
            f"(no n_features_in_); refit it with scikit-learn >= 1.0.")
    return int(n)


def python_scalars(values) -> tuple:
    """Class labels or categories as plain Python values (JSON-friendly, hashable)."""
    return tuple(np.asarray(values).tolist())


def class_labels(est) -> tuple:
    classes = getattr(est, "classes_", None)
    if classes is None:
        raise NotFittedError(f"The {class_name(est)} has no classes_: fit it first.")
    if isinstance(classes, list):  # multi-output classifiers keep one array per output
        raise UnsupportedFeatureError(
            f"The {class_name(est)} was fitted on {len(classes)} target columns "
            f"(multi-output classification); portable supports one target column for "
            f"classifiers. Fit one classifier per target instead.")
    labels = python_scalars(classes)
    if len(labels) < 2:
        raise UnsupportedFeatureError(
            f"The {class_name(est)} was fitted on a single class ({labels[0]!r}); its "
            f"prediction is a constant. Fit it on data with at least two classes.")
    return labels


def probability_names(classes: tuple) -> tuple[str, ...]:
    return tuple(f"probability({c})" for c in classes)


def decision_names(classes: tuple, n_columns: int) -> tuple[str, ...]:
    """One name per decision column: a binary decision score belongs to the positive class."""
    if n_columns == 1:
        return (f"decision({classes[-1]})",)
    return tuple(f"decision({c})" for c in classes)


def value_names(n_outputs: int) -> tuple[str, ...]:
    if n_outputs == 1:
        return ("prediction",)
    return tuple(f"prediction({k})" for k in range(n_outputs))


def unsupported_setting(est, what: str, todo: str) -> UnsupportedFeatureError:
    """An error for a known estimator with a setting the IR cannot express."""
    return UnsupportedFeatureError(f"{class_name(est)} with {what} is not supported: {todo}")


def as_float64_vector(a, n: int) -> np.ndarray:
    """``a`` (scalar or array) as a float64 array of shape (n,)."""
    return np.broadcast_to(np.asarray(a, dtype=np.float64), (n,)).copy()
