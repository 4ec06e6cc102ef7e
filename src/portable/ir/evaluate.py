"""The reference evaluator: numpy code that reproduces each source library's arithmetic.

It is deliberately plain (no compilation, no tricks) so that it can be read next to the
source library's predict code. Tree traversal is vectorised over rows and trees and
iterates over depth levels, so it never recurses and a depth-40 tree is as easy as a
depth-4 one.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .linear import LinearModel
from .model import Model, Signature
from .transforms import (ColumnTransformer, Imputer, OneHotEncoder, Scaler, TextVectorizer,
                         ZeroAsMissing)
from .tree import TreeEnsemble

OUTPUTS = ("prediction", "margin")

# Rows x trees cells handled at once by the traversal (bounds temporary memory).
_CELLS = 1 << 21


def evaluate(model: Model, X, *, output: str = "prediction") -> np.ndarray:
    """Predict with the reference evaluator.

    Parameters
    ----------
    model : portable.ir.Model
    X : array-like (n_rows, n_features) or pandas.DataFrame
        Feature values; a DataFrame is matched to the signature by column name.
    output : "prediction" or "margin"
        ``prediction``: regressors' values, classifiers' class probabilities (or decision
        scores for classifiers that have none). ``margin``: raw scores before the link.

    Returns
    -------
    numpy.ndarray, 2-D, float32 for XGBoost-style float32 ensembles, float64 otherwise.

    Examples
    --------
    >>> import numpy as np, portable
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> est = DecisionTreeRegressor(max_depth=2).fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0])
    >>> portable.evaluate(portable.import_model(est), np.array([[2.0]]))
    array([[2.]])
    """
    if output not in OUTPUTS:
        raise InputError(f"Unknown output {output!r}; choose one of {', '.join(OUTPUTS)}.")
    Z = prepare_input(model.signature, X)
    for step in model.transforms:
        Z = apply_transform(step, Z)
    Z = _as_float(Z)
    est = model.estimator
    if isinstance(est, TreeEnsemble):
        margin = tree_margin(est, Z)
        dtype = np.dtype(est.accumulate_dtype)
    elif isinstance(est, LinearModel):
        margin = linear_margin(est, Z)
        dtype = np.dtype(np.float64)
    else:  # pragma: no cover - check_model rejects this earlier
        raise InputError(f"Cannot evaluate a step of kind {getattr(est, 'kind', type(est))!r}.")
    if output == "margin":
        return margin
    out = post_transform(est.post_transform, margin, dtype)
    if (model.signature.prediction_kind == "probability" and out.shape[1] == 1):
        one = dtype.type(1.0)
        out = np.hstack([one - out, out])
    return out


# ----------------------------------------------------------------------------- input
def prepare_input(sig: Signature, X) -> np.ndarray:
    """Turn user rows into a 2-D array (float64, or object when there are string columns)."""
    pd = None
    if type(X).__module__.startswith("pandas"):  # import pandas only for its own objects
        import pandas as pd
    if pd is not None and isinstance(X, pd.DataFrame):
        cols = [str(c) for c in X.columns]
        missing = [n for n in sig.feature_names if n not in cols]
        if not missing:
            X = X[list(sig.feature_names)]
        elif len(cols) != sig.n_features:
            raise InputError(
                f"The data has {len(cols)} columns; the model expects {sig.n_features} "
                f"({', '.join(sig.feature_names[:8])}{', ...' if sig.n_features > 8 else ''}). "
                f"Missing by name: {', '.join(missing[:8])}.")
        X = X.to_numpy(dtype=object) if sig.has_strings else _numeric_frame(X, sig)
    arr = np.asarray(X, dtype=object if sig.has_strings else None)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2:
        raise InputError(f"Expected a 2-D table of rows, got an array with {arr.ndim} dimensions.")
    if arr.shape[1] != sig.n_features:
        raise InputError(
            f"The data has {arr.shape[1]} features per row; the model expects {sig.n_features}.")
    if sig.has_strings:
        out = np.empty(arr.shape, dtype=object)
        for j, t in enumerate(sig.feature_types):
            col = arr[:, j]
            out[:, j] = col if t == "string" else _to_float(col, sig.feature_names[j])
        return out
    return _to_float(arr, None)


def _numeric_frame(df, sig: Signature) -> np.ndarray:
    out = np.empty(df.shape, dtype=np.float64)
    for j, name in enumerate(sig.feature_names):
        out[:, j] = _to_float(df.iloc[:, j].to_numpy(dtype=object), name)
    return out


def _to_float(a: np.ndarray, name: str | None) -> np.ndarray:
    if a.dtype.kind in "fiub":
        return a.astype(np.float64)
    try:
        return np.array([np.nan if v is None else v for v in a.ravel()],
                        dtype=np.float64).reshape(a.shape)
    except (TypeError, ValueError):
        flat = a.ravel()
        for i, v in enumerate(flat):
            try:
                float(np.nan if v is None else v)
            except (TypeError, ValueError):
                where = (f"column {name!r}, row {i}" if name is not None
                         else f"row {i // a.shape[1]}, column {i % a.shape[1]}")
                raise InputError(f"Non-numeric value {v!r} at {where}; numeric features "
                                 f"take numbers (NaN or empty for missing).") from None
        raise


def _as_float(Z: np.ndarray) -> np.ndarray:
    return Z if Z.dtype == np.float64 else Z.astype(np.float64)


# ----------------------------------------------------------------------------- transforms
def apply_transform(step, Z: np.ndarray) -> np.ndarray:
    """Apply one transform to a 2-D array, as scikit-learn computes it."""
    if isinstance(step, Scaler):
        Z = _as_float(Z).copy()
        if step.subtract is not None:
            Z -= step.subtract
        if step.divide is not None:
            Z /= step.divide
        if step.multiply is not None:
            Z *= step.multiply
        if step.add is not None:
            Z += step.add
        if step.clip is not None:
            np.clip(Z, step.clip[0], step.clip[1], out=Z)
        return Z
    if isinstance(step, Imputer):
        Z = _as_float(Z).copy()
        miss = np.isnan(Z)
        Z[miss] = np.broadcast_to(step.fill, Z.shape)[miss]
        return Z[:, step.keep]
    if isinstance(step, OneHotEncoder):
        return _one_hot(step, Z)
    if isinstance(step, TextVectorizer):
        return _text(step, Z)
    if isinstance(step, ZeroAsMissing):
        Z = _as_float(Z).copy()
        Z[Z == 0] = np.nan
        return Z
    if isinstance(step, ColumnTransformer):
        blocks = []
        for part in step.parts:
            B = Z[:, list(part.columns)]
            for s in part.steps:
                B = apply_transform(s, B)
            blocks.append(_as_float(B) if B.dtype != object or not part.steps else B)
        if any(b.dtype == object for b in blocks):
            return np.hstack([b.astype(object) for b in blocks])
        return np.hstack(blocks) if blocks else np.zeros((Z.shape[0], 0))
    raise InputError(f"Cannot apply a step of kind {getattr(step, 'kind', type(step))!r}.")


def _is_nan(v) -> bool:
    return isinstance(v, float) and v != v or (isinstance(v, np.floating) and np.isnan(v))


def _category_key(v):
    if _is_nan(v) or v is None:
        return ("nan",)
    if isinstance(v, (np.floating, float, np.integer, int)) and not isinstance(v, bool):
        return ("num", float(v))
    return ("str", str(v))


def _one_hot(step: OneHotEncoder, Z: np.ndarray) -> np.ndarray:
    n = Z.shape[0]
    out = np.zeros((n, step.n_outputs), dtype=np.float64)
    col0 = 0
    for j, (cats, drop) in enumerate(zip(step.categories, step.drop)):
        lookup = {}
        pos = 0
        for k, c in enumerate(cats):
            if k == drop:
                lookup[_category_key(c)] = -1
            else:
                lookup[_category_key(c)] = pos
                pos += 1
        for i, v in enumerate(Z[:, j]):
            hit = lookup.get(_category_key(v))
            if hit is None:
                if step.handle_unknown == "error":
                    raise InputError(
                        f"Unknown category {v!r} in input column {j} (row {i}); known: "
                        f"{', '.join(map(repr, cats[:10]))}{' ...' if len(cats) > 10 else ''}.")
                continue
            if hit >= 0:
                out[i, col0 + hit] = 1.0
        col0 += pos
    return out


def tokenize(step: TextVectorizer, doc) -> list[str]:
    """The terms of one document: tokens and word n-grams, as scikit-learn builds them."""
    import re

    if doc is None or (isinstance(doc, float) and doc != doc):
        doc = ""
    text = str(doc)
    if step.lowercase:
        text = text.lower()
    tokens = re.findall(step.token_pattern, text)
    if step.stop_words:
        stop = set(step.stop_words)
        tokens = [t for t in tokens if t not in stop]
    lo, hi = step.ngram_range
    terms = list(tokens) if lo == 1 else []
    for n in range(max(lo, 2), hi + 1):
        terms.extend(" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
    return terms


def _text(step: TextVectorizer, Z: np.ndarray) -> np.ndarray:
    index = {t: j for j, t in enumerate(step.vocabulary)}
    out = np.zeros((Z.shape[0], len(step.vocabulary)), dtype=np.float64)
    for i, doc in enumerate(np.asarray(Z, dtype=object)[:, 0]):
        for term in tokenize(step, doc):
            j = index.get(term)
            if j is not None:
                out[i, j] += 1.0
    if step.binary:
        out = (out != 0).astype(np.float64)
    nz = out != 0
    if step.sublinear_tf:
        out[nz] = np.log(out[nz]) + 1.0
    if step.idf is not None:
        out *= step.idf
    if step.norm is not None:
        # Norms summed over each row's nonzero terms in column order (scikit-learn's CSR order).
        for i in range(out.shape[0]):
            cols = np.flatnonzero(out[i])
            if not cols.size:
                continue
            acc = 0.0
            for v in out[i, cols]:
                acc += v * v if step.norm == "l2" else abs(v)
            norm = np.sqrt(acc) if step.norm == "l2" else acc
            out[i, cols] /= norm
    return out


# ----------------------------------------------------------------------------- linear
def linear_margin(est: LinearModel, Z: np.ndarray) -> np.ndarray:
    """``Z @ coef.T + intercept`` in float64 (scikit-learn's decision_function)."""
    return Z @ est.coef.T + est.intercept


# ----------------------------------------------------------------------------- trees
class _Flat:
    """All trees of an ensemble concatenated, with global node indices."""

    def __init__(self, ens: TreeEnsemble):
        sizes = np.array([t.n_nodes for t in ens.trees], dtype=np.int64)
        self.roots = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self.feature = np.concatenate([t.feature for t in ens.trees]).astype(np.int64)
        self.threshold = np.concatenate([t.threshold for t in ens.trees]).astype(np.float64)
        left = [np.where(t.left == -1, -1, t.left + r) for t, r in zip(ens.trees, self.roots)]
        right = [np.where(t.right == -1, -1, t.right + r) for t, r in zip(ens.trees, self.roots)]
        self.left = np.concatenate(left).astype(np.int64)
        self.right = np.concatenate(right).astype(np.int64)
        self.default_left = np.concatenate([t.default_left for t in ens.trees]).astype(bool)
        self.is_leaf = self.left == -1
        # Leaves point to themselves so that extra iterations are no-ops.
        idx = np.arange(self.left.size)
        self.left = np.where(self.is_leaf, idx, self.left)
        self.right = np.where(self.is_leaf, idx, self.right)
        self.feature = np.where(self.is_leaf, 0, self.feature)
        self.depth = ens.max_depth()


def _flat(ens: TreeEnsemble) -> _Flat:
    flat = ens.__dict__.get("_flat")
    if flat is None:
        flat = _Flat(ens)
        object.__setattr__(ens, "_flat", flat)
    return flat


def leaf_indices(ens: TreeEnsemble, Z: np.ndarray) -> np.ndarray:
    """Local leaf index reached in every tree, shape (n_rows, n_trees)."""
    flat = _flat(ens)
    X = np.asarray(Z, dtype=np.float64)
    if ens.input_dtype == "float32":
        # The source casts inputs to float32 first; widening back is exact.
        with np.errstate(over="ignore"):
            X = X.astype(np.float32).astype(np.float64)
    n, T = X.shape[0], len(ens.trees)
    out = np.empty((n, T), dtype=np.int64)
    step = max(1, _CELLS // max(T, 1))
    strict = ens.split_op == "<"
    for a in range(0, n, step):
        Xb = X[a:a + step]
        rows = np.arange(Xb.shape[0])[:, None]
        node = np.broadcast_to(flat.roots, (Xb.shape[0], T)).copy()
        for _ in range(flat.depth):
            xv = Xb[rows, flat.feature[node]]
            thr = flat.threshold[node]
            go_left = (xv < thr) if strict else (xv <= thr)
            nan = np.isnan(xv)
            if nan.any():
                go_left = np.where(nan, flat.default_left[node], go_left)
            node = np.where(go_left, flat.left[node], flat.right[node])
        out[a:a + step] = node - flat.roots
    return out


def tree_margin(ens: TreeEnsemble, Z: np.ndarray) -> np.ndarray:
    """Margin of a tree ensemble: base_score, plus each tree's leaf in tree order."""
    return margin_from_leaves(ens, leaf_indices(ens, Z))


def margin_from_leaves(ens: TreeEnsemble, leaves: np.ndarray) -> np.ndarray:
    """The margin for given leaves (rows x trees): base score, leaves added in tree order
    in ``accumulate_dtype``, then the mean."""
    dt = np.dtype(ens.accumulate_dtype)
    acc = np.empty((leaves.shape[0], ens.n_outputs), dtype=dt)
    acc[:] = np.asarray(ens.base_score, dtype=dt)
    for t, tree in enumerate(ens.trees):
        o = tree.output_offset
        acc[:, o:o + tree.n_values] += tree.value[leaves[:, t]].astype(dt, copy=False)
    if ens.aggregation == "mean":
        acc /= dt.type(len(ens.trees))
    return acc


# ----------------------------------------------------------------------------- links
def _libm_expf():
    """The C library's ``expf``, which libxgboost calls (None where it cannot be loaded)."""
    import ctypes
    import ctypes.util

    try:
        lib = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
        fn = lib.expf
    except (OSError, AttributeError):
        return None
    fn.restype = ctypes.c_float
    fn.argtypes = [ctypes.c_float]
    return fn


_EXPF = _libm_expf()


def _expf(x: np.ndarray) -> np.ndarray:
    """float32 ``expf`` as XGBoost computes it.

    ``exp`` in double rounded once to float32 is correctly rounded; glibc's ``expf`` is
    accurate to 0.502 ULP, so the two can differ only where the exact value lies within a
    hair of a float32 rounding midpoint. Those few inputs are sent to the C library's own
    ``expf``; everything else is vectorised.
    """
    x = np.asarray(x, dtype=np.float32)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        y = np.exp(x.astype(np.float64))
        r = y.astype(np.float32)
        if _EXPF is None:
            return r
        # Distance of y from the float32 midpoint on its side, in float32 ULPs.
        other = np.where(r.astype(np.float64) <= y, np.nextafter(r, np.float32(np.inf)),
                         np.nextafter(r, np.float32(-np.inf)))
        gap = np.abs(other.astype(np.float64) - r.astype(np.float64))
        mid = (r.astype(np.float64) + other.astype(np.float64)) / 2
        near = np.isfinite(y) & (gap > 0) & (np.abs(y - mid) < 0.01 * gap)
    if near.any():
        idx = np.flatnonzero(near.ravel())
        flat = r.ravel().copy()
        xf = x.ravel()
        for i in idx.tolist():
            flat[i] = _EXPF(float(xf[i]))
        r = flat.reshape(r.shape)
    return r


def post_transform(name: str, margin: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Apply a link. float32 follows XGBoost's float32 math; float64 follows scikit-learn."""
    if name == "identity":
        return margin.copy()
    if dtype == np.float32:
        m = margin.astype(np.float32)
        one = np.float32(1.0)
        if name == "logistic":
            # XGBoost: 1 / (1 + expf(-x)), with -x capped at 88.7 so expf stays finite.
            return one / (_expf(np.minimum(-m, np.float32(88.7))) + one)
        if name == "exp":
            return _expf(m)
        if name == "softmax":
            # XGBoost: expf(x - max) in float32, the sum accumulated in double, divided in float.
            e = _expf(m - m.max(axis=1, keepdims=True))
            s = np.zeros(m.shape[0], dtype=np.float64)
            for k in range(m.shape[1]):
                s += e[:, k].astype(np.float64)
            return e / s.astype(np.float32)[:, None]
    else:
        m = margin.astype(np.float64)
        with np.errstate(over="ignore"):
            if name == "logistic":
                from scipy.special import expit
                return expit(m)
            if name == "exp":
                return np.exp(m)
            if name == "softmax":
                e = np.exp(m - m.max(axis=1, keepdims=True))
                return e / e.sum(axis=1, keepdims=True)
    raise InputError(f"Unknown post-transform {name!r}.")


def labels(model: Model, prediction: np.ndarray) -> np.ndarray:
    """Class labels from a classifier's prediction (probabilities or decision scores)."""
    sig = model.signature
    if sig.task != "classification":
        raise InputError("Labels exist only for classifiers.")
    classes = np.asarray(sig.classes, dtype=object)
    if prediction.shape[1] == 1:
        return classes[(prediction[:, 0] > 0).astype(int)]
    return classes[np.argmax(prediction, axis=1)]
