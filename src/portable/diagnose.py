"""Divergence localisation: the first tree and node where a runtime left the reference path.

Runtimes do not expose the path a row takes, so it is found by search. For one mismatching
row the reference path through every tree is known (``ir.evaluate.leaf_indices``). A
runtime that disagrees almost always decided one comparison the other way, at a node where
the row sits within a few ULP of the threshold (a float32/float64 threshold, a ``<`` read
as ``<=``, a scaler computed in float32, a NaN sent the wrong way). Two families of
hypotheses are scored against the runtime's own output:

* **threshold** (and **missing**): one node on the reference path decides the other way;
  the row continues normally from the sibling child. This is a converter whose threshold
  or operator or default direction differs at one node.
* **input**: the runtime sees feature ``f`` as the nearest value across one (or several)
  of the nearby thresholds, in every tree at once. This is a transform computed in
  another precision upstream of the trees.

Each hypothesis changes a few leaves; its output is recomputed exactly as the reference
does (same dtype, same tree order, same link) and compared with the runtime's output in
ULPs. The hypothesis that reproduces it (fewest changed trees first) names the tree,
node, feature, value and threshold, with their float64 and float32 representations.

Examples
--------
>>> from portable.diagnose import diagnose                  # doctest: +SKIP
>>> for d in diagnose(model, session, rows): print(d)       # doctest: +SKIP
row 3: tree 17 node 4 (depth 2): f5 = 0.3 (float32 0.3) vs threshold 0.3 ...
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import ir
from .ir.evaluate import (apply_transform, leaf_indices, margin_from_leaves, post_transform,
                          prepare_input)
from .parity import ulp_distance
from .probes import _inclusive_bounds

_F32 = np.float32


def reprs(v: float) -> dict:
    """A value's float64 and float32 representations (shortest decimal and hex)."""
    v = float(v)
    f = _F32(v)
    return {"float64": repr(v), "float64_hex": v.hex(),
            "float32": np.format_float_positional(f, unique=True) if np.isfinite(f) else str(f),
            "float32_hex": float(f).hex(), "float32_exact": bool(float(f) == v or v != v)}


@dataclass(frozen=True)
class Divergence:
    """Where a runtime's path through the trees leaves the reference path, for one row.

    ``hypothesis`` is "threshold" (one node decided the other way), "missing" (a NaN took
    the other default direction) or "input" (the runtime saw ``feature`` as
    ``runtime_value`` or beyond). ``residual_ulp`` is how far the hypothesis' output is
    from the runtime's (0: reproduced exactly), ``reference_ulp`` how far the reference's
    is; both in ``ulp_dtype``. ``explained`` says whether the hypothesis reproduces the
    runtime's output within the search's tolerance; ``alternatives`` counts other
    hypotheses (other leaf sets) that reproduce it as well. "observed": the runtime
    reported its leaves.
    """

    row: int
    explained: bool
    hypothesis: str
    tree: int
    node: int
    depth: int
    feature: int
    feature_name: str
    value: float
    threshold: float
    op: str
    reference_side: str
    runtime_side: str
    runtime_value: float | None
    reference_leaf: int
    runtime_leaf: int
    trees_changed: tuple = ()
    output: str = "margin"
    reference_ulp: float = 0.0
    residual_ulp: float = 0.0
    ulp_dtype: str = "float64"
    candidates: int = 0
    alternatives: int = 0
    near_nodes: list = field(default_factory=list)

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["trees_changed"] = list(self.trees_changed)
        d["value_repr"] = reprs(self.value)
        d["threshold_repr"] = reprs(self.threshold)
        if self.runtime_value is not None:
            d["runtime_value_repr"] = reprs(self.runtime_value)
        d["message"] = str(self)
        return {k: _plain(v) for k, v in d.items()}

    def __str__(self) -> str:
        v, t = reprs(self.value), reprs(self.threshold)
        same32 = " (equal in float32)" if v["float32_hex"] == t["float32_hex"] else ""
        head = (f"row {self.row}: tree {self.tree} node {self.node} (depth {self.depth}) tests "
                f"{self.feature_name} {self.op} threshold: value {v['float64']} (float32 "
                f"{v['float32']}), threshold {t['float64']} (float32 {t['float32']}){same32}; "
                f"reference went {self.reference_side}, runtime went {self.runtime_side}")
        if self.hypothesis == "input":
            r = reprs(self.runtime_value)
            head += f" (as if it read {r['float64']}, float32 {r['float32']})"
        elif self.hypothesis == "missing":
            head += " (missing value, default direction)"
        n = len(self.trees_changed)
        also = (f" ({self.alternatives} other hypothes{'es' if self.alternatives > 1 else 'is'}"
                f" fit as well)" if self.alternatives and self.explained else "")
        how = ("reproduces the runtime's " + self.output + (" exactly" if self.residual_ulp == 0
               else f" within {self.residual_ulp:.0f} ULP"))
        if self.hypothesis == "observed":
            how = "the runtime's own leaf indices"
        if not self.explained:
            how = (f"closest hypothesis; {self.residual_ulp:.3g} ULP from the runtime's "
                   f"{self.output} (reference: {self.reference_ulp:.3g}) - not explained")
        return f"{head}; {how}{also}; {n} tree{'s' if n != 1 else ''} changed leaf"


def _plain(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, float) and not np.isfinite(v):
        return None if v != v else ("inf" if v > 0 else "-inf")
    return v


# ----------------------------------------------------------------------------- helpers
def estimator_input(model: ir.Model, X) -> np.ndarray:
    """Rows in the space the estimator reads (after every transform), float64."""
    Z = prepare_input(model.signature, X)
    for step in model.transforms:
        Z = apply_transform(step, Z)
    return np.asarray(Z, dtype=np.float64)


def outputs_from_leaves(model: ir.Model, leaves: np.ndarray, output: str) -> np.ndarray:
    """``output`` ("margin" or "prediction") of the reference for given leaves."""
    ens = model.estimator
    m = margin_from_leaves(ens, leaves)
    if output == "margin":
        return m
    dt = np.dtype(ens.accumulate_dtype)
    out = post_transform(ens.post_transform, m, dt)
    if model.signature.prediction_kind == "probability" and out.shape[1] == 1:
        out = np.hstack([dt.type(1.0) - out, out])
    return out


def _goes_left(x: float, thr: float, op: str, default_left: bool) -> bool:
    if x != x:
        return bool(default_left)
    return bool(x < thr) if op == "<" else bool(x <= thr)


def _path(tree: ir.Tree, z: np.ndarray, op: str, start: int = 0) -> list[tuple[int, bool]]:
    """(node, went_left) for every internal node from ``start`` down to a leaf."""
    out, node = [], start
    while tree.left[node] != -1:
        left = _goes_left(z[tree.feature[node]], float(tree.threshold[node]), op,
                          tree.default_left[node])
        out.append((node, left))
        node = int(tree.left[node] if left else tree.right[node])
    return out


def _leaf_from(tree: ir.Tree, z: np.ndarray, op: str, start: int) -> int:
    p = _path(tree, z, op, start)
    if not p:
        return start
    node, left = p[-1]
    return int(tree.left[node] if left else tree.right[node])


def _crossing(op: str, thr: float, went_left: bool, in32: bool) -> float:
    """The value nearest to ``thr`` on the side the reference did not take."""
    lo, hi = _inclusive_bounds(op, thr, not went_left, in32)
    return hi if went_left else lo


def _feature_names(model: ir.Model) -> list[str]:
    sig = model.signature
    n = model.estimator.n_features
    if all(isinstance(s, (ir.Scaler, ir.ZeroAsMissing)) for s in model.transforms) and (
            n == sig.n_features):
        suffix = " (after transforms)" if model.transforms else ""
        return [f"{name}{suffix}" for name in sig.feature_names]
    if not model.transforms:
        return list(sig.feature_names)
    return [f"estimator input {j}" for j in range(n)]


# ----------------------------------------------------------------------------- search
def localise(model: ir.Model, x, got, *, output: str = "margin", ulps: int = 4,
             explain_ulps: float = 4, row: int = 0, leaves=None) -> Divergence | None:
    """Find where the runtime that produced ``got`` for row ``x`` left the reference path.

    Parameters
    ----------
    model : portable.ir.Model (a tree ensemble, possibly after transforms)
    x : one input row (raw, as given to the runtime)
    got : the runtime's output for that row (``output`` stage), 1-D
    output : "margin" or "prediction"
    ulps : a node is searched when the row's value is within this many float32 ULPs of
        its threshold (or missing)
    explain_ulps : a hypothesis explains the runtime when its output is within this many
        ULPs (of the coarser of the two dtypes) of the runtime's
    row : the row's index, for the report
    leaves : the leaf the runtime reached in every tree, when it can say (ONNX graphs
        exported with ``leaves=True``): the divergence is then observed, not searched

    Returns
    -------
    Divergence, or None when the runtime agrees with the reference on this row or the
    model is not a tree ensemble.

    Examples
    --------
    >>> import numpy as np, portable
    >>> from portable.diagnose import localise
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> m = portable.import_model(DecisionTreeRegressor(max_depth=1).fit([[0.0], [1.0]], [0, 1]))
    >>> d = localise(m, [0.5], [1.0], output="prediction")   # a runtime that sent x=0.5 right
    >>> (d.tree, d.node, d.reference_side, d.runtime_side, d.explained)
    (0, 0, 'left', 'right', True)
    """
    ens = model.estimator
    if not isinstance(ens, ir.TreeEnsemble):
        return None
    z = estimator_input(model, np.asarray(x, dtype=object if model.signature.has_strings
                                          else np.float64).reshape(1, -1))[0]
    in32 = ens.input_dtype == "float32"
    zin = z.astype(_F32).astype(np.float64) if in32 else z.copy()
    op = ens.split_op
    got_dt = np.asarray(got).dtype
    got = np.asarray(got, dtype=np.float64).reshape(1, -1)
    ref_leaves = leaf_indices(ens, zin[None])[0]
    ref_out = outputs_from_leaves(model, ref_leaves[None], output)
    if ref_out.shape != got.shape:
        return None
    cmp_dt = np.float32 if (ref_out.dtype == np.float32 or got_dt == np.float32
                            or _is_f32_valued(got)) else np.float64
    ref_dist = float(ulp_distance(ref_out, got, cmp_dt).max())
    if ref_dist <= explain_ulps:
        return None

    if leaves is not None:
        seen = np.asarray(leaves, dtype=np.int64).reshape(-1)
        if seen.shape == ref_leaves.shape and not np.array_equal(seen, ref_leaves):
            return _observed(model, zin, ref_leaves, seen, got, output, cmp_dt, ref_dist, row)
    hyps = []  # (kind, tree, node, leaves, runtime_value)
    near, by_feature = [], {}
    for t, tree in enumerate(ens.trees):
        for node, went_left in _path(tree, zin, op):
            f = int(tree.feature[node])
            v, thr = zin[f], float(tree.threshold[node])
            if v != v:
                kind = "missing"
            elif np.isfinite(thr) and _ulp32(v, thr) <= ulps:
                kind = "threshold"
            else:
                continue
            near.append((t, node))
            child = int(tree.right[node] if went_left else tree.left[node])
            flipped = ref_leaves.copy()
            flipped[t] = _leaf_from(tree, zin, op, child)
            hyps.append((kind, t, node, flipped, None))
            if kind == "threshold":
                by_feature.setdefault(f, set()).add(_crossing(op, thr, went_left, in32))
    shifted, meta = [], []
    for f, values in sorted(by_feature.items()):
        for v in sorted(values):
            zz = zin.copy()
            zz[f] = v
            shifted.append(zz)
            meta.append(v)
    if shifted:
        alt = leaf_indices(ens, np.array(shifted))
        for zz, v, moved in zip(shifted, meta, alt):
            if not np.array_equal(moved, ref_leaves):
                hyps.append(("input", -1, -1, moved, (zz, v)))
    if not hyps:
        return _unexplained(model, zin, ref_leaves, row, output, ref_dist, cmp_dt, near)

    outs = outputs_from_leaves(model, np.array([h[3] for h in hyps]), output)
    dist = ulp_distance(outs, np.broadcast_to(got, outs.shape), cmp_dt).max(axis=1)
    changed = [np.flatnonzero(h[3] != ref_leaves) for h in hyps]
    order = sorted(range(len(hyps)), key=lambda i: (dist[i], len(changed[i]),
                                                     hyps[i][0] == "input", int(changed[i][0])
                                                     if len(changed[i]) else 0))
    best = order[0]
    kind, t, node, best_leaves, shift = hyps[best]
    same = sum(1 for i in order[1:] if dist[i] == dist[best]
               and not np.array_equal(hyps[i][3], best_leaves))
    trees = tuple(int(k) for k in changed[best])
    if kind == "input":
        zz, v = shift
        t = trees[0]
        node = _first_split(ens.trees[t], zin, zz, op)
    tree = ens.trees[t]
    f = int(tree.feature[node])
    went_left = dict(_path(tree, zin, op))[node]
    residual = float(dist[best])
    return Divergence(
        row=row, explained=bool(residual <= explain_ulps and residual < ref_dist),
        hypothesis=kind, tree=int(t), node=int(node), depth=_depth(tree, node),
        feature=f, feature_name=_feature_names(model)[f], value=float(zin[f]),
        threshold=float(tree.threshold[node]), op=op,
        reference_side="left" if went_left else "right",
        runtime_side="right" if went_left else "left",
        runtime_value=float(shift[1]) if kind == "input" else None,
        reference_leaf=int(ref_leaves[t]), runtime_leaf=int(best_leaves[t]), trees_changed=trees,
        output=output, reference_ulp=ref_dist, residual_ulp=residual,
        ulp_dtype=np.dtype(cmp_dt).name, candidates=len(hyps), alternatives=same,
        near_nodes=[[int(a), int(b)] for a, b in near[:20]])


def _ulp32(a: float, b: float) -> int:
    """Float32 values between ``a`` and ``b`` (both rounded to float32 first)."""
    ia, ib = int(_F32(a).view(np.int32)), int(_F32(b).view(np.int32))
    ia = ia if ia >= 0 else -(ia & 0x7FFFFFFF)
    ib = ib if ib >= 0 else -(ib & 0x7FFFFFFF)
    return abs(ia - ib)


def _observed(model, zin, ref_leaves, seen, got, output, cmp_dt, ref_dist, row) -> Divergence:
    """The runtime reported its leaves: the first differing tree, and the node where the
    two paths part (the deepest common ancestor of the two leaves)."""
    ens = model.estimator
    op = ens.split_op
    trees = tuple(int(k) for k in np.flatnonzero(seen != ref_leaves))
    t = trees[0]
    tree = ens.trees[t]
    parents = tree.parents()
    above, n = set(), int(seen[t])
    while n != -1:
        above.add(n)
        n = int(parents[n])
    path = _path(tree, zin, op)
    node, went_left = next((nd, lf) for nd, lf in reversed(path) if nd in above)
    out = outputs_from_leaves(model, seen[None], output)
    residual = float(ulp_distance(out, got, cmp_dt).max())
    f = int(tree.feature[node])
    return Divergence(
        row=row, explained=True, hypothesis="observed", tree=t, node=int(node),
        depth=_depth(tree, node), feature=f, feature_name=_feature_names(model)[f],
        value=float(zin[f]), threshold=float(tree.threshold[node]), op=op,
        reference_side="left" if went_left else "right",
        runtime_side="right" if went_left else "left", runtime_value=None,
        reference_leaf=int(ref_leaves[t]), runtime_leaf=int(seen[t]), trees_changed=trees,
        output=output, reference_ulp=ref_dist, residual_ulp=residual,
        ulp_dtype=np.dtype(cmp_dt).name, candidates=0)


def _is_f32_valued(a: np.ndarray) -> bool:
    """True when every value is exactly a float32 (a float32 runtime widened to float64)."""
    a = np.asarray(a, dtype=np.float64)
    with np.errstate(over="ignore"):
        return bool(np.all((a.astype(_F32).astype(np.float64) == a) | np.isnan(a)))


def _first_split(tree: ir.Tree, z: np.ndarray, z2: np.ndarray, op: str) -> int:
    """First node on ``z``'s path where ``z2`` goes the other way."""
    for node, left in _path(tree, z, op):
        f = tree.feature[node]
        if _goes_left(z2[f], float(tree.threshold[node]), op, tree.default_left[node]) != left:
            return int(node)
    return 0  # pragma: no cover - the leaves differ, so some node splits them


def _depth(tree: ir.Tree, node: int) -> int:
    parents = tree.parents()
    d = 0
    while parents[node] != -1:
        node, d = int(parents[node]), d + 1
    return d


def _unexplained(model, zin, ref_leaves, row, output, ref_dist, cmp_dt, near) -> Divergence:
    """No node near a threshold: report the reference path's root of tree 0."""
    tree = model.estimator.trees[0]
    f = max(int(tree.feature[0]), 0)
    return Divergence(
        row=row, explained=False, hypothesis="none", tree=0, node=0, depth=0, feature=f,
        feature_name=_feature_names(model)[f], value=float(zin[f]),
        threshold=float(tree.threshold[0]), op=model.estimator.split_op,
        reference_side="-", runtime_side="-", runtime_value=None,
        reference_leaf=int(ref_leaves[0]), runtime_leaf=-1, output=output,
        reference_ulp=ref_dist, residual_ulp=ref_dist, ulp_dtype=np.dtype(cmp_dt).name,
        candidates=0, near_nodes=[[int(a), int(b)] for a, b in near[:20]])


def diagnose(model: ir.Model, runtime, X, *, output: str | None = None, rows=None,
             max_rows: int = 3, ulps: int = 4, explain_ulps: float = 4) -> list[Divergence]:
    """Localise the divergence of a runtime on the rows of ``X`` where it disagrees.

    Parameters
    ----------
    model : portable.ir.Model
    runtime : a session (``predict(X, output=...)``) or a callable ``f(X, output) -> array``
    X : rows (raw inputs)
    output : "margin" (default when the runtime has one) or "prediction"
    rows : indices of ``X`` to examine (default: every row); mismatching ones are taken
        worst first
    max_rows : at most this many rows are localised

    Returns
    -------
    list of Divergence (empty when the runtime agrees on every examined row).
    """
    predict = runtime if callable(runtime) and not hasattr(runtime, "predict") else (
        lambda A, output: runtime.predict(A, output=output))
    X = prepare_input(model.signature, X)
    idx = np.arange(len(X)) if rows is None else np.asarray(rows, dtype=np.int64)
    if not isinstance(model.estimator, ir.TreeEnsemble) or not idx.size:
        return []
    sub = X[idx]
    if output is None:
        try:
            got = np.asarray(predict(sub, "margin"))
            output = "margin"
        except Exception:  # graphs from upstream engines have no margin output
            output = "prediction"
            got = np.asarray(predict(sub, output))
    else:
        got = np.asarray(predict(sub, output))
    seen = None
    if hasattr(runtime, "leaves"):
        try:
            seen = np.asarray(runtime.leaves(sub))
        except Exception:  # graphs exported without leaves=True have no such output
            seen = None
    ref = ir.evaluate(model, sub, output=output)
    if ref.shape != got.shape:
        return []
    dt = np.float32 if np.float32 in (ref.dtype, got.dtype) else np.float64
    dist = ulp_distance(ref, got, dt).max(axis=1)
    bad = np.flatnonzero(dist > explain_ulps)
    bad = bad[np.argsort(-dist[bad], kind="stable")][:max_rows]
    out = []
    for k in sorted(bad.tolist()):
        d = localise(model, sub[k], got[k], output=output, ulps=ulps,
                     explain_ulps=explain_ulps, row=int(idx[k]),
                     leaves=None if seen is None else seen[k])
        if d is not None:
            out.append(d)
    return out
