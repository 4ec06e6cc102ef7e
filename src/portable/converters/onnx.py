"""ONNX export from the IR (route "graph"): one ``model.onnx`` served by onnxruntime.

The graph reproduces ``portable.ir.evaluate``: splits decide exactly as the source (see
``_onnx_trees``), preprocessing stays float64 where scikit-learn computes in float64 (see
``_onnx_graph``), and the links follow the reference's dtype: float32 links compute ``exp``
in double and round once, a correctly rounded ``expf``. XGBoost (and ``ir.evaluate``) use
glibc's ``expf``, which is off by one ULP on ~0.06% of inputs: measured on 203k rows of
10 float32-link models, 2 predictions differed by 1 ULP; margins never differ.

Graph outputs (all 2-D ``[N, k]`` except ``label``, which is ``[N]``):

==============  =====================================================================
``margin``      raw scores before the link (``evaluate(..., output="margin")``); with an
                identity link it *is* the prediction tensor, and ``portable.io`` maps
                the margin role onto the prediction output (no duplicate output)
``probabilities`` / ``decision`` / ``prediction``
                classifiers with probabilities / classifiers with decision scores /
                regressors (``evaluate(..., output="prediction")``)
``label``       classifiers: the class label (int64, string or double), no ZipMap
``leaves``      with ``leaves=True``: the leaf node reached in every tree (int64)
==============  =====================================================================

``metadata_props`` carry ``portable.signature``, ``portable.io`` (which input holds which
feature, which output is which) and ``portable.golden`` (rows and expected outputs).
"""

from __future__ import annotations

import json

import numpy as np

from .. import ir
from ..errors import ConversionError, UnsupportedFeatureError
from ..ir import LinearModel, TreeEnsemble

ENGINES = ("portable", "skl2onnx", "onnxmltools")
_INT64 = 7  # onnx.TensorProto.INT64, without importing onnx at module import
OPSET = 18
IR_VERSION = 9


class OnnxConverter:
    """IR -> ONNX (``ai.onnx`` 18 + ``ai.onnx.ml`` 3 or 5).

    Examples
    --------
    >>> import portable
    >>> from portable.converters.onnx import OnnxConverter
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> m = portable.import_model(DecisionTreeRegressor(max_depth=2).fit([[0.0], [1.0]], [0, 1]))
    >>> sorted(OnnxConverter().convert(m))
    ['model.onnx']
    """

    name = "onnx"
    route = "graph"
    default_runtime = "onnxruntime"
    supports = frozenset({"tree_ensemble", "linear", "scaler", "imputer", "one_hot",
                          "column_transformer", "zero_as_missing", "text"})

    options = ("leaves", "tree_dtype", "golden", "engine")

    def convert(self, model: ir.Model, *, leaves: bool = False, tree_dtype: str = "auto",
                golden: bool = True, engine: str | None = None, **unknown) -> dict[str, bytes]:
        """Build ``model.onnx``.

        Parameters
        ----------
        model : portable.ir.Model
        leaves : bool
            Add a ``leaves`` output (leaf node index per tree) to check tree paths.
        tree_dtype : "auto", "float32" or "float64"
            Kernel of the tree op. "auto" reproduces the source exactly; "float32" forces
            the float kernel (thresholds rounded so that splits still decide exactly, but
            float64 leaf sums become float32 sums).
        golden : bool
            Embed golden rows and their expected outputs in the metadata.
        engine : None or "portable"
            The upstream engines convert trained objects, not IR models; see
            ``portable.converters.upstream``.

        Returns
        -------
        dict: ``{"model.onnx": bytes}``, identical bytes for the same model and options.
        """
        if unknown:
            raise ConversionError(f"Unknown ONNX option(s) {', '.join(sorted(unknown))}; "
                                  f"known: {', '.join(self.options)}.")
        if engine not in (None, "portable"):
            raise ConversionError(
                f"engine={engine!r} converts the trained object, not an IR model: call "
                f"portable.api.convert(estimator, format='onnx', engine={engine!r}).")
        proto = build_model(ir.check_model(model), leaves=leaves, tree_dtype=tree_dtype,
                            golden=golden)
        return {"model.onnx": proto.SerializeToString(deterministic=True)}


def build_model(model: ir.Model, *, leaves: bool = False, tree_dtype: str = "auto",
                golden: bool = True):
    """The ``onnx.ModelProto`` for an IR model (checked with ``full_check=True``)."""
    import onnx
    from onnx import helper

    from ._onnx_graph import DTYPES, Graph, apply_transform, linear_margin, materialize
    from ._onnx_trees import kernel_of, lower_ensemble, ml_opset

    for step in model.steps:
        if step.kind not in OnnxConverter.supports:
            raise UnsupportedFeatureError(f"The ONNX converter cannot express a {step.kind!r} step.")
    g = Graph()
    sig = model.signature
    est = model.estimator
    inputs, table = _inputs(g, model)
    names = list(sig.feature_names)
    for step in model.transforms:
        table, names = apply_transform(g, step, table, names)
    leaf_out, ml = None, 3
    if isinstance(est, TreeEnsemble):
        kernel = kernel_of(est, tree_dtype)
        ml = ml_opset(kernel)
        margin, leaf_out = lower_ensemble(g, est, table, kernel=kernel, leaves=leaves)
        dtype = est.accumulate_dtype
    elif isinstance(est, LinearModel):
        margin = linear_margin(g, est, materialize(g, table, "float64"))
        dtype = "float64"
    else:  # pragma: no cover - check_model rejects this
        raise UnsupportedFeatureError(f"Cannot convert a {est.kind!r} estimator to ONNX.")
    heads = _heads(g, sig, est, margin, dtype)
    if leaf_out is not None:
        heads["leaves"] = (leaf_out, "int64", [None, len(est.trees)])
    outputs, roles, named = [], {}, {}
    for role in ("prediction", "margin", "label", "leaves"):
        if role not in heads:
            continue
        tensor, dt, shape = heads[role]
        if tensor in named:  # identity link: the margin is the prediction tensor itself
            roles[role] = named[tensor]
            continue
        out = {"prediction": _prediction_name(sig)}.get(role, role)
        _name_output(g, tensor, out)
        outputs.append(helper.make_tensor_value_info(out, DTYPES[dt], ["N", *shape[1:]]))
        roles[role] = named[tensor] = out
    graph = helper.make_graph(
        g.nodes, f"portable_{_ident(model.source.estimator)}",
        [helper.make_tensor_value_info(i["name"], DTYPES[i["dtype"]], ["N", len(i["columns"])])
         for i in inputs],
        outputs, initializer=g.initializers)
    opsets = [helper.make_opsetid("", OPSET), helper.make_opsetid("ai.onnx.ml", ml)]
    if "text" in model.step_kinds():
        from ._onnx_text import MICROSOFT, TEXT_OPSET
        opsets = [helper.make_opsetid("", TEXT_OPSET), helper.make_opsetid("ai.onnx.ml", ml),
                  helper.make_opsetid(MICROSOFT, 1)]
    proto = helper.make_model(graph, ir_version=IR_VERSION, producer_name="portable",
                              producer_version=_version(), opset_imports=opsets)
    proto.doc_string = (f"Generated by portable {_version()} from {model.source.estimator} "
                        f"({model.source.library} {model.source.version}); IR fingerprint "
                        f"{model.fingerprint()}.")
    io = {"engine": "portable", "inputs": inputs, "outputs": roles}
    meta = {"portable.io": io, "portable.signature": sig.to_dict(),
            "portable.source": model.source.to_dict(), "portable.fingerprint": model.fingerprint()}
    if golden:
        from ..api import golden_payload
        from ..probes import golden_rows
        meta["portable.golden"] = golden_payload(model, golden_rows(model))
    set_metadata(proto, meta)
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as e:  # a graph we built is invalid: our bug, reported with the cause
        raise ConversionError(f"The generated ONNX graph failed onnx.checker: {e}") from e
    return proto


def _name_output(g, tensor: str, out: str) -> None:
    """Make ``tensor`` a graph output called ``out`` by renaming it where it is produced and
    consumed: an Identity node would cost ~0.3 us per call on a 20 us single-row run."""
    from onnx import helper

    if not any(tensor in n.output for n in g.nodes):
        g.nodes.append(helper.make_node("Identity", [tensor], [out], name=f"output_{out}"))
        return
    for n in g.nodes:
        for seq in (n.input, n.output):
            for i, name in enumerate(seq):
                if name == tensor:
                    seq[i] = out


def set_metadata(proto, meta: dict) -> None:
    """Replace ``metadata_props`` with ``meta`` (values JSON-encoded, keys sorted)."""
    del proto.metadata_props[:]
    for key in sorted(meta):
        v = meta[key]
        entry = proto.metadata_props.add()
        entry.key = key
        entry.value = v if isinstance(v, str) else json.dumps(v, sort_keys=True,
                                                              separators=(",", ":"))


def _inputs(g, model: ir.Model):
    """Graph inputs: ``X`` (numeric features) and ``X_str`` (string features).

    ``X`` is float when the first consumer is a float32-input tree ensemble (the source
    casts to float32 first, so feeding float32 is the same); otherwise double.
    """
    from ._onnx_graph import Column

    sig = model.signature
    est = model.estimator
    num = [j for j, t in enumerate(sig.feature_types) if t != "string"]
    strs = [j for j, t in enumerate(sig.feature_types) if t == "string"]
    float_in = (not model.transforms and isinstance(est, TreeEnsemble)
                and est.input_dtype == "float32")
    inputs, table = [], [None] * sig.n_features
    for name, cols, dt in (("X", num, "float32" if float_in else "float64"),
                           ("X_str", strs, "string")):
        if cols:
            inputs.append({"name": name, "dtype": dt, "columns": cols})
            g.widths[name] = len(cols)
            for k, j in enumerate(cols):
                table[j] = Column(name, k, dt)
    return inputs, table


def _prediction_name(sig: ir.Signature) -> str:
    return {"probability": "probabilities", "decision": "decision"}.get(
        sig.prediction_kind, "prediction")


def _heads(g, sig: ir.Signature, est, margin: str, dtype: str) -> dict:
    """margin, prediction (the link applied) and, for classifiers, label."""
    k = est.n_outputs
    heads = {"margin": (margin, dtype, [None, k])}
    pred = _link(g, est.post_transform, margin, dtype)
    if sig.prediction_kind == "probability" and k == 1:
        one = g.const(np.asarray(1.0, dtype), "one")
        pred = g.op("Concat", [g.op("Sub", [one, pred], "p0"), pred], "proba", axis=1)
        k = 2
    heads["prediction"] = (pred, dtype, [None, k])
    if sig.task == "classification":
        classes, label_dtype = _classes(sig.classes)
        if k == 1:
            idx = g.op("Cast", [g.op("Greater", [pred, g.const(np.asarray(0.0, dtype), "zero")],
                                     "positive")], "index", to=_INT64)
            idx = g.op("Squeeze", [idx, g.const([1], "axis", np.int64)], "index")
        else:
            idx = g.op("ArgMax", [pred], "index", axis=1, keepdims=0)
        heads["label"] = (g.op("Gather", [g.const(classes, "classes"), idx], "label", axis=0),
                          label_dtype, [None])
    return heads


def _classes(classes) -> tuple[np.ndarray, str]:
    """Class labels as a constant tensor: bool, int64, double or (anything else) string."""
    vals = list(classes)
    if all(isinstance(c, (bool, np.bool_)) for c in vals):
        return np.asarray(vals, bool), "bool"
    if all(isinstance(c, (int, np.integer)) for c in vals):
        return np.asarray(vals, np.int64), "int64"
    if all(isinstance(c, (float, np.floating, int, np.integer)) for c in vals):
        return np.asarray(vals, np.float64), "float64"
    return np.asarray([str(c) for c in vals], dtype=object), "string"


def _link(g, name: str, m: str, dtype: str) -> str:
    """The IR link in ``dtype``; float32 mirrors XGBoost's float math (see ir.evaluate)."""
    if name == "identity":
        return m
    axis = g.const([1], "axis", np.int64)
    if dtype == "float32":
        one = g.const(np.float32(1.0), "one")
        if name == "logistic":
            neg = g.op("Min", [g.op("Neg", [m], "neg"), g.const(np.float32(88.7), "cap")], "neg")
            return g.op("Div", [one, g.op("Add", [_expf(g, neg), one], "den")], "sigmoid")
        if name == "exp":
            return _expf(g, m)
        if name == "softmax":
            shifted = g.op("Sub", [m, g.op("ReduceMax", [m, axis], "max", keepdims=1)], "shift")
            e = _expf(g, shifted)
            s = g.op("ReduceSum", [g.cast(e, "float32", "float64"), axis], "sum", keepdims=1)
            return g.op("Div", [e, g.cast(s, "float64", "float32")], "softmax")
    else:
        one = g.const(np.float64(1.0), "one")
        if name == "logistic":  # scipy.special.expit: 1 / (1 + exp(-x))
            e = g.op("Exp", [g.op("Neg", [m], "neg")], "exp")
            return g.op("Div", [one, g.op("Add", [one, e], "den")], "sigmoid")
        if name == "exp":
            return g.op("Exp", [m], "exp")
        if name == "softmax":
            shifted = g.op("Sub", [m, g.op("ReduceMax", [m, axis], "max", keepdims=1)], "shift")
            e = g.op("Exp", [shifted], "exp")
            return g.op("Div", [e, g.op("ReduceSum", [e, axis], "sum", keepdims=1)], "softmax")
    raise UnsupportedFeatureError(f"The ONNX converter has no {name!r} link.")


def _expf(g, x: str) -> str:
    # ORT's float Exp is off by 1 ULP in ~5% of cases; exp in double rounded once is the
    # correctly rounded expf (glibc's, which the reference follows, differs on ~0.06%).
    return g.cast(g.op("Exp", [g.cast(x, "float32", "float64")], "exp"), "float64", "float32")


def _ident(s: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in s) or "model"


def _version() -> str:
    from .. import __version__
    return __version__
