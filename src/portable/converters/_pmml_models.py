"""PMML model elements: one margin segment per output column, and the link segment.

A document's top model is a ``modelChain``::

    segment margin<k>   margin of output column k, published as field raw(k) (the top
                        Output exposes it as "margin(k)" through segmentId)
                        trees: MiningModel(sum | average) of TreeModels
                        linear: RegressionModel (intercept + coefficients)
    segment link        RegressionModel applying the link (none, logit, softmax, exp) to
                        the margins: the target (a value, or a class and probabilities)

Exactness notes (each checked against ``portable.ir.evaluate`` in tests/test_pmml.py):

* ``base_score`` is folded into the first tree of each column at export: its leaves become
  ``fl(base + leaf)`` in the accumulation dtype, which is exactly the first partial sum the
  source computes, so JPMML's sum (0 + t1 + t2 ...) reproduces ``base + t1 + t2 ...``.
  (A ``Targets`` rescaleConstant would add the base last: a different float32 sum.)
* Float32 ensembles carry ``x-mathContext="float"``: JPMML adds leaves in float, in
  segment order. Thresholds compared against a float input are exact float32 numbers:
  float32 thresholds as they are, float64 thresholds moved to the nearest float32 on the
  correct side (``x <= t`` iff ``x <= floor32(t)``; ``x < t`` iff ``x < ceil32(t)``).
* Links in a float context use JPMML's float ``exp``, ``(float) Math.pow(2.7182817f, x)``:
  a few float32 ULP from a correctly rounded ``expf``, i.e. within the float32 rounding
  of the margin. Double links (scikit-learn) match to an ULP or two of double.
* NaN (missing) follows each node's default child (``missingValueStrategy="defaultChild"``).
"""

from __future__ import annotations

import numpy as np

from ..errors import UnsupportedFeatureError
from ..ir.linear import LinearModel
from ..ir.tree import Tree, TreeEnsemble
from ._pmml_fields import E, Fields, f32_ceil, f32_floor, num32, num64

_OPS = {"<": "lessThan", "<=": "lessOrEqual"}


def _math(float_ctx: bool) -> dict:
    return {"x-mathContext": "float"} if float_ctx else {}


def _schema(names, fields: Fields | None = None) -> E:
    """MiningSchema of a nested model: the DataFields it reads directly.

    TransformationDictionary fields are visible everywhere and are not listed (JPMML
    rejects a MiningField naming a DerivedField).
    """
    keep = [n for n in dict.fromkeys(names) if fields is None or n in fields.data]
    return E("MiningSchema", None, *(E("MiningField", {"name": n}) for n in keep))


def margin_segments(est, cols: list[str], fields: Fields, raw: list[str]) -> list:
    """One Segment per output column k (id ``margin<k>``), publishing field ``raw[k]``."""
    if isinstance(est, TreeEnsemble):
        return _ensemble_segments(est, cols, fields, raw)
    if isinstance(est, LinearModel):
        return _linear_segments(est, cols, fields, raw)
    raise UnsupportedFeatureError(f"PMML export cannot express a {type(est).__name__}.")


def _margin_output(name: str, float_ctx: bool) -> E:
    return E("Output", None, E("OutputField", {
        "name": name, "optype": "continuous",
        "dataType": "float" if float_ctx else "double", "feature": "predictedValue"}))


# ----------------------------------------------------------------------------- linear
def _linear_segments(est: LinearModel, cols: list[str], fields: Fields,
                     raw: list[str]) -> list:
    segs = []
    for k in range(est.n_outputs):
        table = E("RegressionTable", {"intercept": num64(est.intercept[k])}, *(
            E("NumericPredictor", {"name": c, "coefficient": num64(w)})
            for c, w in zip(cols, est.coef[k].tolist())))
        model = E("RegressionModel", {"functionName": "regression"},
                  _schema(cols, fields), _margin_output(raw[k], False), table)
        segs.append(E("Segment", {"id": f"margin{k}"}, E("True"), model))
    return segs


# ----------------------------------------------------------------------------- trees
def _ensemble_segments(ens: TreeEnsemble, cols: list[str], fields: Fields,
                       raw: list[str]) -> list:
    float_ctx = ens.accumulate_dtype == "float32"
    acc = np.dtype(ens.accumulate_dtype)
    leaf_text = num32 if float_ctx else num64
    # Float inputs compare in float32: the source casts them (or the field already is float).
    in32 = [ens.input_dtype == "float32" or fields.kinds.get(c) == "float" for c in cols]
    tree_cols = [fields.as_float(c) if f else c for c, f in zip(cols, in32)]
    texts = [_threshold_texts(t, ens, in32) for t in ens.trees]
    segs = []
    for k in range(ens.n_outputs):
        parts = [(t, k - tree.output_offset) for t, tree in enumerate(ens.trees)
                 if tree.output_offset <= k < tree.output_offset + tree.n_values]
        if ens.aggregation == "mean" and len(parts) != len(ens.trees):
            raise UnsupportedFeatureError(
                "PMML export of an averaged ensemble needs every tree to write every output "
                f"column; column {k} gets {len(parts)} of {len(ens.trees)} trees.")
        base = acc.type(ens.base_score[k])
        inner = []
        for n, (t, j) in enumerate(parts):
            values = ens.trees[t].value[:, j].astype(acc)
            if n == 0:
                values = (base + values).astype(acc)  # the source's first partial sum
            inner.append(_tree_model(ens.trees[t], values, texts[t], tree_cols, ens,
                                     leaf_text, float_ctx, fields))
        if not parts:
            inner.append(_constant_tree(leaf_text(base), float_ctx))
        method = "average" if ens.aggregation == "mean" else "sum"
        segmentation = E("Segmentation", {"multipleModelMethod": method}, *(
            E("Segment", {"id": str(i + 1)}, E("True"), m) for i, m in enumerate(inner)))
        used = [tree_cols[f] for t, _ in parts for f in np.unique(
            ens.trees[t].feature[ens.trees[t].left != -1]).tolist()]
        mining = E("MiningModel", {"functionName": "regression", **_math(float_ctx)},
                   _schema(used, fields), _margin_output(raw[k], float_ctx), segmentation)
        segs.append(E("Segment", {"id": f"margin{k}"}, E("True"), mining))
    return segs


def _threshold_texts(tree: Tree, ens: TreeEnsemble, in32: list[bool]) -> list:
    """Threshold text per node, exact for the dtype the comparison happens in."""
    out = [None] * tree.n_nodes
    strict = ens.split_op == "<"
    f32_thr = ens.threshold_dtype == "float32"
    for i in np.flatnonzero(tree.left != -1).tolist():
        t = float(tree.threshold[i])
        if in32[tree.feature[i]]:
            if not f32_thr:
                t = float(f32_ceil(t) if strict else f32_floor(t))
            out[i] = num32(t)
        else:
            out[i] = num64(t)
    return out


def _tree_model(tree: Tree, values: np.ndarray, thr: list, cols: list[str], ens: TreeEnsemble,
                leaf_text, float_ctx: bool, fields: Fields) -> E:
    """A TreeModel built without recursion (a node's predicate is its first child)."""
    op = _OPS[ens.split_op]
    left, right = tree.left.tolist(), tree.right.tolist()
    feature, dleft = tree.feature.tolist(), tree.default_left.tolist()
    n = tree.n_nodes
    nodes = [None] * n
    nodes[0] = E("Node", {"id": "0"}, E("True"))
    order = [0]
    for i in order:
        if left[i] == -1:
            nodes[i].set("score", leaf_text(values[i]))
            continue
        a, b = left[i], right[i]
        nodes[i].set("defaultChild", str(a if dleft[i] else b))
        pred = E("SimplePredicate", {"field": cols[feature[i]], "operator": op, "value": thr[i]})
        nodes[a] = E("Node", {"id": str(a)}, pred)
        nodes[b] = E("Node", {"id": str(b)}, E("True"))
        nodes[i].append(nodes[a])
        nodes[i].append(nodes[b])
        order.extend((a, b))
    used = [cols[f] for f in np.unique(tree.feature[tree.left != -1]).tolist()]
    return E("TreeModel", {"functionName": "regression", "missingValueStrategy": "defaultChild",
                           "noTrueChildStrategy": "returnNullPrediction",
                           "splitCharacteristic": "binarySplit", **_math(float_ctx)},
             _schema(used, fields), nodes[0])


def _constant_tree(score: str, float_ctx: bool) -> E:
    return E("TreeModel", {"functionName": "regression", **_math(float_ctx)},
             E("MiningSchema"), E("Node", {"score": score}, E("True")))


# ----------------------------------------------------------------------------- link
_NORMALIZATION = {"identity": "none", "logistic": "logit", "softmax": "softmax", "exp": "exp"}


def link_segment(est, sig, raw: list[str], target: str, float_ctx: bool) -> E:
    """The final RegressionModel: link(margins) -> value, or class probabilities."""
    K = est.n_outputs
    margins = raw
    norm = _NORMALIZATION[est.post_transform]
    schema = E("MiningSchema", None, *(E("MiningField", {"name": m}) for m in margins),
               E("MiningField", {"name": target, "usageType": "target"}))

    def table(k, category=None):
        preds = [] if k is None else [E("NumericPredictor", {"name": margins[k],
                                                             "coefficient": "1"})]
        return E("RegressionTable", {"intercept": "0", "targetCategory": category}, *preds)

    if sig.task == "regression":
        if K != 1:
            raise UnsupportedFeatureError(f"PMML export of a regressor with {K} outputs.")
        tables = [table(0)]
        fn = "regression"
    else:
        classes = [str(c) for c in sig.classes]
        fn = "classification"
        if K == 1:
            # One margin column: the second class's score; the first class is the baseline
            # (intercept 0). logit gives p1 = 1/(1+exp(-m)), p0 = 1 - p1.
            first = (classes[1], 0) if norm == "logit" else (classes[0], None)
            second = (classes[0], None) if norm == "logit" else (classes[1], 0)
            tables = [table(first[1], first[0]), table(second[1], second[0])]
        elif K == len(classes):
            tables = [table(k, c) for k, c in enumerate(classes)]
        else:
            raise UnsupportedFeatureError(f"{K} margin columns for {len(classes)} classes.")
    model = E("RegressionModel", {"functionName": fn, "normalizationMethod": norm,
                                  **_math(float_ctx)}, schema, *tables)
    return E("Segment", {"id": "link"}, E("True"), model)
