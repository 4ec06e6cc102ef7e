"""``check_model``: the IR's invariants, each failure a clear :class:`InvalidModelError`."""

from __future__ import annotations

import numpy as np

from ..errors import InvalidModelError
from .linear import LinearModel
from .model import Model
from .transforms import ColumnTransformer, Imputer, OneHotEncoder, Scaler, TextVectorizer, ZeroAsMissing
from .tree import POST_TRANSFORMS, Tree, TreeEnsemble

_FLOATS = ("float32", "float64")


def _fail(where: str, msg: str):
    raise InvalidModelError(f"{where}: {msg}")


def check_model(model: Model) -> Model:
    """Validate every invariant of an IR model; return it unchanged.

    Raises
    ------
    portable.errors.InvalidModelError
        naming the step (and tree/node) that is inconsistent and how.
    """
    if not isinstance(model, Model):
        _fail("model", f"expected portable.ir.Model, got {type(model).__name__}")
    sig = model.signature
    if len(sig.feature_types) != len(sig.feature_names):
        _fail("signature", f"{len(sig.feature_names)} feature names but "
              f"{len(sig.feature_types)} feature types")
    if len(set(sig.feature_names)) != len(sig.feature_names):
        _fail("signature", "feature names are not unique")
    bad = [t for t in sig.feature_types if t not in ("float32", "float64", "string")]
    if bad:
        _fail("signature", f"unknown feature types {bad}; use float32, float64 or string")
    if sig.task not in ("regression", "classification"):
        _fail("signature", f"unknown task {sig.task!r}")
    if sig.task == "classification" and not sig.classes:
        _fail("signature", "a classifier needs its class labels")
    if not model.steps:
        _fail("model", "has no steps")
    width = sig.n_features
    for i, step in enumerate(model.transforms):
        width = _check_transform(step, width, f"step {i} ({step.kind})")
    est = model.estimator
    where = f"step {len(model.steps) - 1} ({getattr(est, 'kind', type(est).__name__)})"
    if isinstance(est, TreeEnsemble):
        _check_ensemble(est, width, where)
    elif isinstance(est, LinearModel):
        _check_linear(est, width, where)
    else:
        _fail(where, "the last step must be a TreeEnsemble or a LinearModel")
    n_pred = est.n_outputs
    if sig.prediction_kind == "probability":
        if est.post_transform not in ("logistic", "softmax") and est.post_transform != "identity":
            _fail(where, f"probabilities cannot come from a {est.post_transform!r} link")
        if n_pred == 1 and est.post_transform == "logistic":
            n_pred = 2
        if sig.classes is not None and n_pred != len(sig.classes):
            _fail(where, f"{n_pred} probability columns for {len(sig.classes)} classes")
    if len(sig.output_names) != n_pred:
        _fail("signature", f"{len(sig.output_names)} output names for {n_pred} prediction columns")
    return model


def _check_transform(step, width: int, where: str) -> int:
    if getattr(step, "n_inputs", None) != width:
        _fail(where, f"reads {getattr(step, 'n_inputs', '?')} columns but receives {width}")
    if isinstance(step, Scaler):
        for name in ("subtract", "divide", "multiply", "add"):
            a = getattr(step, name)
            if a is not None and np.shape(a) != (width,):
                _fail(where, f"{name} has shape {np.shape(a)}, expected ({width},)")
        if step.divide is not None and np.any(np.asarray(step.divide) == 0):
            _fail(where, "divides by zero")
    elif isinstance(step, Imputer):
        if np.shape(step.fill) != (width,) or np.shape(step.keep) != (width,):
            _fail(where, "fill and keep must have one entry per input column")
    elif isinstance(step, OneHotEncoder):
        for j, (cats, d) in enumerate(zip(step.categories, step.drop)):
            if len(cats) == 0:
                _fail(where, f"input column {j} has no categories")
            if d is not None and not 0 <= d < len(cats):
                _fail(where, f"input column {j} drops category {d} of {len(cats)}")
        if len(step.drop) != len(step.categories):
            _fail(where, "drop needs one entry per input column")
        if step.handle_unknown not in ("error", "ignore"):
            _fail(where, f"handle_unknown {step.handle_unknown!r}: use 'error' or 'ignore'")
    elif isinstance(step, TextVectorizer):
        import re
        try:
            re.compile(step.token_pattern)
        except re.error as e:
            _fail(where, f"token_pattern {step.token_pattern!r} is not a valid regex: {e}")
        if not step.vocabulary:
            _fail(where, "has an empty vocabulary")
        if len(set(step.vocabulary)) != len(step.vocabulary):
            _fail(where, "vocabulary terms are not unique")
        lo, hi = step.ngram_range
        if not 1 <= lo <= hi:
            _fail(where, f"ngram_range {step.ngram_range} must satisfy 1 <= min <= max")
        if step.idf is not None and np.shape(step.idf) != (len(step.vocabulary),):
            _fail(where, "idf needs one weight per vocabulary term")
        if step.norm not in (None, "l1", "l2"):
            _fail(where, f"norm {step.norm!r}: use None, 'l1' or 'l2'")
    elif isinstance(step, ZeroAsMissing):
        pass
    elif isinstance(step, ColumnTransformer):
        for p, part in enumerate(step.parts):
            if any(not 0 <= c < width for c in part.columns):
                _fail(where, f"part {p} selects a column outside 0..{width - 1}")
            w = len(part.columns)
            for s, sub in enumerate(part.steps):
                w = _check_transform(sub, w, f"{where} part {p} step {s} ({sub.kind})")
    else:
        _fail(where, f"unknown transform {type(step).__name__}")
    return step.n_outputs


def _check_linear(est: LinearModel, width: int, where: str) -> None:
    coef = np.asarray(est.coef)
    if coef.ndim != 2 or coef.shape[1] != width:
        _fail(where, f"coef has shape {coef.shape}, expected (n_outputs, {width})")
    if np.shape(est.intercept) != (coef.shape[0],):
        _fail(where, f"intercept has shape {np.shape(est.intercept)}, expected ({coef.shape[0]},)")
    if coef.dtype != np.float64:
        _fail(where, "coef must be float64")
    _check_link(est.post_transform, coef.shape[0], where)


def _check_link(name: str, n_outputs: int, where: str) -> None:
    if name not in POST_TRANSFORMS:
        _fail(where, f"unknown post_transform {name!r}; known: {', '.join(POST_TRANSFORMS)}")
    if name == "softmax" and n_outputs < 2:
        _fail(where, "softmax needs at least 2 outputs")


def _check_ensemble(ens: TreeEnsemble, width: int, where: str) -> None:
    if ens.n_features != width:
        _fail(where, f"reads {ens.n_features} features but receives {width}")
    for name in ("input_dtype", "threshold_dtype", "accumulate_dtype"):
        if getattr(ens, name) not in _FLOATS:
            _fail(where, f"{name} must be float32 or float64, not {getattr(ens, name)!r}")
    if ens.split_op not in ("<", "<="):
        _fail(where, f"split_op must be '<' or '<=', not {ens.split_op!r}")
    if ens.aggregation not in ("sum", "mean"):
        _fail(where, f"aggregation must be 'sum' or 'mean', not {ens.aggregation!r}")
    if not ens.trees:
        _fail(where, "has no trees")
    if np.shape(ens.base_score) != (ens.n_outputs,):
        _fail(where, f"base_score has shape {np.shape(ens.base_score)}, expected ({ens.n_outputs},)")
    if np.asarray(ens.base_score).dtype != np.dtype(ens.accumulate_dtype):
        _fail(where, f"base_score must be {ens.accumulate_dtype}")
    _check_link(ens.post_transform, ens.n_outputs, where)
    for t, tree in enumerate(ens.trees):
        _check_tree(tree, ens, f"{where} tree {t}")


def _check_tree(tree: Tree, ens: TreeEnsemble, where: str) -> None:
    n = tree.n_nodes
    if n == 0:
        _fail(where, "has no nodes")
    for name in ("threshold", "left", "right", "default_left"):
        if np.shape(getattr(tree, name)) != (n,):
            _fail(where, f"{name} has shape {np.shape(getattr(tree, name))}, expected ({n},)")
    if tree.value.ndim != 2 or tree.value.shape[0] != n:
        _fail(where, f"value has shape {tree.value.shape}, expected ({n}, n_values)")
    if tree.threshold.dtype != np.dtype(ens.threshold_dtype):
        _fail(where, f"thresholds are {tree.threshold.dtype}, the ensemble says {ens.threshold_dtype}")
    if tree.value.dtype != np.dtype(ens.accumulate_dtype):
        _fail(where, f"leaf values are {tree.value.dtype}, the ensemble says {ens.accumulate_dtype}")
    if not 0 <= tree.output_offset <= ens.n_outputs - tree.n_values:
        _fail(where, f"writes columns {tree.output_offset}..{tree.output_offset + tree.n_values - 1}"
              f" of {ens.n_outputs}")
    left, right = np.asarray(tree.left), np.asarray(tree.right)
    leaf = left == -1
    if np.any(leaf != (right == -1)):
        i = int(np.flatnonzero(leaf != (right == -1))[0])
        _fail(where, f"node {i} has exactly one child")
    internal = np.flatnonzero(~leaf)
    kids = np.concatenate([left[internal], right[internal]])
    if kids.size and (kids.min() < 1 or kids.max() >= n):
        _fail(where, "a child index is outside the tree (or points to the root)")
    if kids.size and np.bincount(kids, minlength=n).max() > 1:
        _fail(where, "a node has two parents")
    if kids.size != n - 1:
        _fail(where, f"{n - 1 - kids.size} nodes are unreachable from the root")
    f = np.asarray(tree.feature)[internal]
    if f.size and (f.min() < 0 or f.max() >= ens.n_features):
        _fail(where, f"splits on feature {int(f.max() if f.max() >= ens.n_features else f.min())}"
              f", outside 0..{ens.n_features - 1}")
    if np.any(np.isnan(tree.threshold[internal])):
        _fail(where, "has a NaN threshold")
    if not np.all(np.isfinite(tree.value[leaf])):
        _fail(where, "has a non-finite leaf value")
    # Reachability without recursion: walk from the root.
    seen = np.zeros(n, dtype=bool)
    frontier = np.array([0])
    while frontier.size:
        if np.any(seen[frontier]):
            _fail(where, "has a cycle")
        seen[frontier] = True
        frontier = frontier[~leaf[frontier]]
        frontier = np.concatenate([left[frontier], right[frontier]])
    if not seen.all():
        _fail(where, f"{int((~seen).sum())} nodes are unreachable from the root")
