"""Preprocessing transformers as IR transforms, with scikit-learn's exact float64 operations.

Each scaler maps onto :class:`portable.ir.Scaler`, whose fixed operation order
(subtract, divide, multiply, add, clip) is the order of scikit-learn's in-place operations
in ``transform`` on dense input (``sklearn/preprocessing/_data.py``):

* StandardScaler: ``X -= mean_`` (with_mean), ``X /= scale_`` (with_std) -> subtract, divide
* RobustScaler: ``X -= center_`` (with_centering), ``X /= scale_`` (with_scaling)
  -> subtract, divide
* MaxAbsScaler: ``X /= scale_``, clip to [-1, 1] when ``clip`` -> divide, clip
* MinMaxScaler: ``X *= scale_; X += min_``, clip to ``feature_range`` when ``clip``
  -> multiply, add, clip

On a *sparse* matrix scikit-learn computes ``X * (1 / scale_)`` instead (one ULP away from
``X / scale_`` for some values); when the pipeline feeds a scaler a sparse matrix the
frontend emits exactly that product (``multiply = 1 / scale_``).

SimpleImputer (numeric, ``missing_values=nan``) fills each NaN with ``statistics_`` by
assignment (exact) and drops the columns whose statistic is NaN (all-missing during fit)
unless ``keep_empty_features``. OneHotEncoder emits one 0/1 column per kept category.
"""

from __future__ import annotations

import numpy as np

from ...errors import UnsupportedFeatureError
from ...ir import Imputer, OneHotEncoder, Scaler
from ._common import class_name, unsupported_setting

SCALERS = ("StandardScaler", "MinMaxScaler", "MaxAbsScaler", "RobustScaler")
ESTIMATORS = SCALERS + ("SimpleImputer", "OneHotEncoder")


def _vec(a, n: int) -> np.ndarray:
    return np.ascontiguousarray(np.broadcast_to(np.asarray(a, dtype=np.float64), (n,)))


def _n_inputs(est) -> int:
    return int(est.n_features_in_)


def scaler(est, sparse_input: bool = False) -> Scaler:
    """One of the four scalers as an IR :class:`~portable.ir.Scaler`.

    ``sparse_input``: scikit-learn receives a sparse matrix here; it then scales with
    ``inplace_column_scale(X, 1 / scale_)``, i.e. multiplies by the float64 reciprocal, and
    never centres (StandardScaler / RobustScaler refuse to centre sparse data).
    """
    n = _n_inputs(est)
    name = class_name(est)
    scale = None
    if name == "StandardScaler":
        subtract = _vec(est.mean_, n) if est.with_mean else None
        scale = est.scale_ if est.with_std else None
        clip = None
    elif name == "RobustScaler":
        subtract = _vec(est.center_, n) if est.with_centering else None
        scale = est.scale_ if est.with_scaling else None
        clip = None
    elif name == "MaxAbsScaler":
        subtract, scale = None, est.scale_
        clip = (-1.0, 1.0) if getattr(est, "clip", False) else None
    elif name == "MinMaxScaler":
        clip = None
        if getattr(est, "clip", False):
            clip = (float(est.feature_range[0]), float(est.feature_range[1]))
        return Scaler(n, multiply=_vec(est.scale_, n), add=_vec(est.min_, n), clip=clip)
    else:  # pragma: no cover - dispatch only sends the four scalers here
        raise UnsupportedFeatureError(f"No scaler conversion for {name}.")
    if scale is None:
        return Scaler(n, subtract=subtract, clip=clip)
    scale = _vec(scale, n)
    if sparse_input:
        return Scaler(n, multiply=np.ascontiguousarray(1.0 / scale), clip=clip)
    return Scaler(n, subtract=subtract, divide=scale, clip=clip)


def _is_nan_marker(v) -> bool:
    try:
        return v is not None and np.isnan(v)
    except TypeError:
        return False


def simple_imputer(est) -> Imputer:
    """A numeric SimpleImputer (NaN marks missing) as an IR :class:`~portable.ir.Imputer`."""
    if getattr(est, "add_indicator", False):
        raise unsupported_setting(
            est, "add_indicator=True",
            "the missing-indicator columns are not part of the IR. Refit with "
            "add_indicator=False, or add the indicators as explicit input columns.")
    if not _is_nan_marker(est.missing_values):
        raise unsupported_setting(
            est, f"missing_values={est.missing_values!r}",
            "only NaN can mark a missing value. Replace that marker by NaN before fitting "
            "and refit with missing_values=np.nan (the default).")
    try:
        # strategy="constant" keeps statistics_ as an object array even for numbers.
        stats = np.asarray(np.asarray(est.statistics_).tolist(), dtype=np.float64)
    except (TypeError, ValueError):
        raise unsupported_setting(
            est, f"non-numeric fill values ({np.asarray(est.statistics_)[:3].tolist()} ...)",
            "only numeric imputation is supported. Impute string columns before the "
            "model, or encode them with OneHotEncoder (which can treat NaN as a category).") from None
    if getattr(est, "keep_empty_features", False):
        keep = np.ones(stats.shape[0], dtype=bool)
    else:
        # scikit-learn drops the columns whose statistic is NaN (all-missing during fit).
        keep = ~np.isnan(stats)
    # A dropped column's fill value is never used; 0 keeps the IR free of NaN constants.
    fill = np.where(keep, stats, 0.0)
    return Imputer(n_inputs=stats.shape[0], fill=np.ascontiguousarray(fill), keep=keep)


def _category_values(cats: np.ndarray) -> tuple:
    """Categories as plain Python values: str for object columns, int/float for numeric."""
    return tuple(np.asarray(cats).tolist())


def one_hot_encoder(est) -> OneHotEncoder:
    """OneHotEncoder as an IR :class:`~portable.ir.OneHotEncoder` (no infrequent categories)."""
    infrequent = getattr(est, "infrequent_categories_", None)
    if getattr(est, "_infrequent_enabled", False) and infrequent is not None and any(
            c is not None for c in infrequent):
        raise unsupported_setting(
            est, "infrequent categories (min_frequency / max_categories)",
            "grouping rare categories has no IR form. Refit with min_frequency=None and "
            "max_categories=None, or merge rare categories in the data first.")
    handle = est.handle_unknown
    if handle in ("infrequent_if_exist", "warn"):
        handle = "ignore"  # without infrequent categories both encode an unknown as all zeros
    if handle not in ("error", "ignore"):
        raise unsupported_setting(est, f"handle_unknown={est.handle_unknown!r}",
                                  "use 'error' or 'ignore'.")
    drop_idx = getattr(est, "drop_idx_", None)
    n = len(est.categories_)
    drop = tuple(None if drop_idx is None or drop_idx[j] is None else int(drop_idx[j])
                 for j in range(n))
    return OneHotEncoder(categories=tuple(_category_values(c) for c in est.categories_),
                         drop=drop, handle_unknown=handle)


def is_string_encoder(step: OneHotEncoder) -> list[bool]:
    """Per input column of an IR OneHotEncoder: are its categories strings?"""
    return [any(isinstance(c, str) for c in cats) for cats in step.categories]


def keeps_sparse(est) -> bool:
    """Transformers that take a sparse matrix and return one (the rest refuse it or densify)."""
    name = class_name(est)
    return (name in ("MaxAbsScaler", "SimpleImputer")
            or (name == "StandardScaler" and not est.with_mean)
            or (name == "RobustScaler" and not est.with_centering))


def import_transformer(est, sparse_input: bool = False):
    """A fitted preprocessing transformer as one IR transform.

    ``sparse_input`` says whether scikit-learn hands this transformer a sparse matrix.
    """
    name = class_name(est)
    if name in SCALERS:
        return scaler(est, sparse_input and keeps_sparse(est))
    if name == "SimpleImputer":
        return simple_imputer(est)
    if name == "OneHotEncoder":
        return one_hot_encoder(est)
    raise UnsupportedFeatureError(f"No transformer conversion for {name}.")  # pragma: no cover
