"""Tree ensembles as ``ai.onnx.ml`` operators, deciding every split exactly as the source.

Two kernels, chosen per ensemble (measured on onnxruntime 1.32):

* **float32** (XGBoost): ``TreeEnsembleRegressor`` (ai.onnx.ml 3) on a float input with
  float thresholds and float leaf weights. onnxruntime accumulates the leaves in float in
  tree order, which is what XGBoost does, so margins match bit for bit.
* **float64** (scikit-learn, HistGradientBoosting): ``TreeEnsemble`` (ai.onnx.ml 5) on a
  double input with double thresholds and leaves. ``TreeEnsembleRegressor`` cannot do this:
  its output is always float, even with ``*_as_tensor`` double attributes. A source that
  casts X to float32 first gets ``Cast(float) -> Cast(double)`` in front, then
  ``(double)(float)x <= t`` is exactly scikit-learn's comparison.

Neither op has a leaf-order-exact base score (``base_values`` is added after the trees), so a
non-zero base score becomes a first single-leaf tree: ``0 + base`` is exact and the trees are
then added in the source's order.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, numpy_helper

from ..errors import UnsupportedFeatureError
from ..ir import Tree, TreeEnsemble
from ._onnx_graph import Column, Graph, materialize

KERNELS = ("auto", "float32", "float64")


def kernel_of(ens: TreeEnsemble, tree_dtype: str = "auto") -> str:
    """The dtype the tree op compares and accumulates in."""
    if tree_dtype not in KERNELS:
        raise UnsupportedFeatureError(f"tree_dtype={tree_dtype!r}; use one of {', '.join(KERNELS)}.")
    if tree_dtype != "auto":
        return tree_dtype
    exact32 = ens.accumulate_dtype == "float32" and ens.input_dtype == "float32"
    return "float32" if exact32 else "float64"


def lower_ensemble(g: Graph, ens: TreeEnsemble, table: list[Column], *, kernel: str,
                   leaves: bool) -> tuple[str, str | None]:
    """Emit the ensemble; returns (margin tensor in ``accumulate_dtype``, leaves tensor)."""
    if kernel == "float32":
        if ens.input_dtype != "float32":
            raise UnsupportedFeatureError(
                "tree_dtype='float32' cannot reproduce an ensemble that compares float64 "
                "inputs (HistGradientBoosting); use the default tree_dtype='auto'.")
        x = materialize(g, table, "float32")
    elif ens.input_dtype == "float32":
        # The source rounds X to float32 before comparing against float64 thresholds.
        x = g.cast(materialize(g, table, "float32"), "float32", "float64")
    else:
        x = materialize(g, table, "float64")
    thr, modes = _thresholds(ens, kernel)
    emit = _emit_v3 if kernel == "float32" else _emit_v5
    trees = list(ens.trees)
    values = [t.value for t in trees]
    offsets = [t.output_offset for t in trees]
    base = np.asarray(ens.base_score, np.float64)
    if np.any(base != 0):
        trees.insert(0, _single_leaf(ens.n_outputs))
        values.insert(0, base.reshape(1, -1))
        offsets.insert(0, 0)
        thr.insert(0, np.zeros(1))
        modes.insert(0, np.zeros(1, np.uint8))
    margin = emit(g, x, trees, thr, modes, values, offsets, ens.n_outputs, kernel, "trees")
    acc = ens.accumulate_dtype
    margin = g.cast(margin, kernel, acc)
    if ens.aggregation == "mean":
        n = np.asarray(len(ens.trees), dtype=np.dtype(acc))
        margin = g.op("Div", [margin, g.const(n, "n_trees")], "mean")
    leaf_out = None
    if leaves:
        k = len(ens.trees)
        ids = [np.arange(t.n_nodes, dtype=np.float64)[:, None] for t in ens.trees]
        leaf_out = emit(g, x, list(ens.trees), thr[-k:], modes[-k:], ids, list(range(k)), k,
                        kernel, "leaf_ids")
        leaf_out = g.op("Cast", [leaf_out], "leaves", to=TensorProto.INT64)
    return margin, leaf_out


def ml_opset(kernel: str) -> int:
    return 3 if kernel == "float32" else 5


# ----------------------------------------------------------------------------- thresholds
def _f32_round(t: np.ndarray, down: bool) -> np.ndarray:
    """Largest float32 <= t (down) or smallest float32 >= t, elementwise."""
    v = t.astype(np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        wide = v.astype(np.float64)
        bad = wide > t if down else wide < t
        v[bad] = np.nextafter(v[bad], np.float32(-np.inf if down else np.inf))
    return v


def _thresholds(ens: TreeEnsemble, kernel: str) -> tuple[list, list]:
    """Per tree: thresholds in the kernel dtype and mode codes (0 LEQ, 1 LT) that decide
    exactly as ``x <split_op> threshold`` in the source's dtypes."""
    op = ens.split_op
    out_t, out_m = [], []
    for tree in ens.trees:
        t = np.asarray(tree.threshold, np.float64)
        mode = 1 if op == "<" else 0
        if kernel == "float32" and ens.threshold_dtype == "float64":
            # x is float32: x <= t  iff  x <= f32floor(t);  x < t  iff  x < f32ceil(t).
            t = _f32_round(t, down=(op == "<=")).astype(np.float64)
        out_t.append(t)
        out_m.append(np.full(t.shape, mode, np.uint8))
    return out_t, out_m


def _single_leaf(n_outputs: int) -> Tree:
    return Tree(feature=np.array([-1], np.int32), threshold=np.zeros(1),
                left=np.array([-1], np.int32), right=np.array([-1], np.int32),
                default_left=np.zeros(1, bool), value=np.zeros((1, n_outputs)))


# ----------------------------------------------------------------------------- ai.onnx.ml 3
def _emit_v3(g, x, trees, thr, modes, values, offsets, n_targets, kernel, hint) -> str:
    """TreeEnsembleRegressor: node tuples include the leaves; a leaf may vote for several
    targets."""
    cols = {k: [] for k in ("tree", "node", "feat", "mode", "val", "true", "false", "miss")}
    tw = {k: [] for k in ("tree", "node", "id", "w")}
    names = np.array(["BRANCH_LEQ", "BRANCH_LT"])
    for t, (tree, th, md, val, off) in enumerate(zip(trees, thr, modes, values, offsets)):
        n = tree.n_nodes
        leaf = np.asarray(tree.left) == -1
        cols["tree"].append(np.full(n, t))
        cols["node"].append(np.arange(n))
        cols["feat"].append(np.where(leaf, 0, tree.feature))
        cols["mode"].append(np.where(leaf, "LEAF", names[md]))
        cols["val"].append(np.where(leaf, 0.0, th))
        cols["true"].append(np.where(leaf, 0, tree.left))
        cols["false"].append(np.where(leaf, 0, tree.right))
        cols["miss"].append(np.where(leaf, 0, tree.default_left).astype(np.int64))
        lv = np.flatnonzero(leaf)
        width = val.shape[1]
        tw["tree"].append(np.full(lv.size * width, t))
        tw["node"].append(np.repeat(lv, width))
        tw["id"].append(np.tile(np.arange(width) + off, lv.size))
        tw["w"].append(np.asarray(val, np.float64)[lv].ravel())
    c = {k: np.concatenate(v) for k, v in cols.items()}
    w = {k: np.concatenate(v) for k, v in tw.items()}
    return g.op("TreeEnsembleRegressor", [x], hint, domain="ai.onnx.ml",
                n_targets=int(n_targets), aggregate_function="SUM",
                nodes_treeids=c["tree"].tolist(), nodes_nodeids=c["node"].tolist(),
                nodes_featureids=c["feat"].tolist(), nodes_modes=c["mode"].tolist(),
                nodes_values=c["val"].astype(np.float32).tolist(),
                nodes_truenodeids=c["true"].tolist(), nodes_falsenodeids=c["false"].tolist(),
                nodes_missing_value_tracks_true=c["miss"].tolist(),
                target_treeids=w["tree"].tolist(), target_nodeids=w["node"].tolist(),
                target_ids=w["id"].tolist(), target_weights=w["w"].astype(np.float32).tolist())


# ----------------------------------------------------------------------------- ai.onnx.ml 5
def _emit_v5(g, x, trees, thr, modes, values, offsets, n_targets, kernel, hint) -> str:
    """TreeEnsemble-5: interior nodes and leaves in separate tuples, one target per leaf, so
    a tree with k leaf values becomes k trees (each target still sums in tree order)."""
    dt = np.float64 if kernel == "float64" else np.float32
    nodes = {k: [] for k in ("feat", "mode", "split", "true", "tleaf", "false", "fleaf", "miss")}
    lt, lw, roots = [], [], []
    n_nodes = n_leaves = 0
    for tree, th, md, val, off in zip(trees, thr, modes, values, offsets):
        left, right = np.asarray(tree.left), np.asarray(tree.right)
        leaf = left == -1
        internal, lv = np.flatnonzero(~leaf), np.flatnonzero(leaf)
        for k in range(val.shape[1]):
            if internal.size == 0:
                # TreeEnsemble-5 roots are interior nodes: a split whose two sides share one leaf.
                for key, v in (("feat", 0), ("mode", 0), ("split", 0.0), ("true", n_leaves),
                               ("tleaf", 1), ("false", n_leaves), ("fleaf", 1), ("miss", 0)):
                    nodes[key].append(np.array([v]))
            else:
                pos = np.empty(tree.n_nodes, np.int64)
                pos[internal] = n_nodes + np.arange(internal.size)
                pos[lv] = n_leaves + np.arange(lv.size)
                li, ri = left[internal], right[internal]
                nodes["feat"].append(tree.feature[internal])
                nodes["mode"].append(md[internal])
                nodes["split"].append(th[internal])
                nodes["true"].append(pos[li])
                nodes["tleaf"].append(leaf[li].astype(np.int64))
                nodes["false"].append(pos[ri])
                nodes["fleaf"].append(leaf[ri].astype(np.int64))
                nodes["miss"].append(np.asarray(tree.default_left)[internal].astype(np.int64))
            roots.append(n_nodes)
            n_nodes += max(internal.size, 1)
            lt.append(np.full(lv.size, off + k))
            lw.append(np.asarray(val, np.float64)[lv, k])
            n_leaves += lv.size
    c = {k: np.concatenate(v) for k, v in nodes.items()}
    return g.op("TreeEnsemble", [x], hint, domain="ai.onnx.ml", n_targets=int(n_targets),
                aggregate_function=1, post_transform=0, tree_roots=roots,
                nodes_featureids=c["feat"].astype(np.int64).tolist(),
                nodes_modes=numpy_helper.from_array(c["mode"].astype(np.uint8)),
                nodes_splits=numpy_helper.from_array(c["split"].astype(dt)),
                nodes_truenodeids=c["true"].tolist(), nodes_trueleafs=c["tleaf"].tolist(),
                nodes_falsenodeids=c["false"].tolist(), nodes_falseleafs=c["fleaf"].tolist(),
                nodes_missing_value_tracks_true=c["miss"].tolist(),
                leaf_targetids=np.concatenate(lt).astype(np.int64).tolist(),
                leaf_weights=numpy_helper.from_array(np.concatenate(lw).astype(dt)))
