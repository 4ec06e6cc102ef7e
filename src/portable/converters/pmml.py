"""PMML 4.4 export: a pure-Python emitter (xml.etree, no JVM at export time).

Document layout::

    Header                    portable version, source estimator, IR fingerprint
    DataDictionary            raw inputs (float / double / string) and the target
    TransformationDictionary  the pipeline's transforms as DerivedFields, in the IR's order
                              (text: a TextIndex DefineFunction, one call per term)
    MiningModel (modelChain)
      Output                  prediction columns (the signature's output names, in order),
                              margin(k) per margin column, the predicted label
      Segmentation            one margin segment per output column, then the link segment
      ModelVerification       golden rows with the reference evaluator's outputs

See :mod:`portable.converters._pmml_models` for how exactness is kept (float contexts,
threshold encoding, base score, missing values).
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET

import numpy as np

from .. import ir
from ..errors import UnsupportedFeatureError
from ._pmml_fields import NS, E, Fields, Names, lower_transforms, num32, num64
from ._pmml_models import link_segment, margin_segments

FILE = "model.pmml"
LABEL = "label"
# Verification tolerance of the margins (relative; zero below _ZERO). Tree margins are
# exact, linear ones differ from numpy's dot product in the last bits.
_PRECISION = 1e-6
_ZERO = 1e-12


class PmmlConverter:
    """IR -> PMML 4.4 (``model.pmml``), evaluated by JPMML-Evaluator (runtime ``jpmml``)."""

    name = "pmml"
    route = "document"
    default_runtime = "jpmml"
    supports = frozenset({"tree_ensemble", "linear", "scaler", "imputer", "one_hot",
                          "column_transformer", "text", "zero_as_missing"})

    def convert(self, model: ir.Model, *, verification: bool = True, **options) -> dict:
        """Return ``{"model.pmml": bytes}``.

        Parameters
        ----------
        model : portable.ir.Model
        verification : bool
            Embed a ModelVerification block (golden rows and expected outputs) that
            JPMML checks when the document is loaded.
        """
        if options:
            raise UnsupportedFeatureError(
                f"Unknown PMML option(s) {', '.join(sorted(options))}; known: verification.")
        return {FILE: to_pmml(model, verification=verification)}


def to_pmml(model: ir.Model, *, verification: bool = True) -> bytes:
    """Serialise an IR model as a PMML 4.4 document (UTF-8 bytes)."""
    ir.check_model(model)
    sig, est = model.signature, model.estimator
    names = Names(sig.feature_names)
    data = {}
    kinds = {}
    # A float DataField makes JPMML cast the raw input to float, as XGBoost does. Only
    # when the trees read the raw columns directly: the reference evaluator casts at the
    # trees, so with transforms in between the cast is a DerivedField at the trees.
    raw32 = not model.transforms and getattr(est, "input_dtype", "") == "float32"
    for n, t in zip(sig.feature_names, sig.feature_types):
        kinds[n] = "string" if t == "string" else ("float" if raw32 else "double")
        data[n] = E("DataField", {"name": n, "dataType": kinds[n],
                                  "optype": "categorical" if t == "string" else "continuous"})
    fields = Fields(kinds, names)
    cols = lower_transforms(model.transforms, list(sig.feature_names), fields, data)
    float_ctx = getattr(est, "accumulate_dtype", "float64") == "float32"
    value_type = "float" if float_ctx else "double"

    target = names.new("y")
    # Class labels are strings in the document: JPMML matches an integer target's
    # probability OutputFields by value only when the labels are strings.
    target_type = "string" if sig.task == "classification" else value_type
    tfield = E("DataField", {"name": target, "dataType": target_type,
                             "optype": "categorical" if sig.task == "classification"
                             else "continuous"})
    for c in sig.classes or ():
        tfield.append(E("Value", {"value": str(c)}))

    raw = [names.new(f"raw({k})") for k in range(est.n_outputs)]  # internal margin fields
    segments = margin_segments(est, cols, fields, raw)
    segments.append(link_segment(est, sig, raw, target, float_ctx))
    outputs = _outputs(sig, est, names, value_type, target_type)

    schema = E("MiningSchema")
    for n, t in zip(sig.feature_names, sig.feature_types):
        invalid = "returnInvalid" if len(data[n]) else None
        schema.append(E("MiningField", {"name": n, "invalidValueTreatment": invalid}))
    schema.append(E("MiningField", {"name": target, "usageType": "target"}))
    top = E("MiningModel", {"modelName": model.source.estimator,
                            "functionName": sig.task, "algorithmName": "portable",
                            **({"x-mathContext": "float"} if float_ctx else {})},
            schema, outputs,
            # A missing margin (NaN into a linear model) gives missing outputs (NaN), as
            # numpy does, instead of an evaluation error in the next segment.
            E("Segmentation", {"multipleModelMethod": "modelChain",
                               "missingPredictionTreatment": "returnMissing"}, *segments))
    if verification:
        top.append(_verification(model, outputs, kinds))

    root = E("PMML", {"xmlns": NS, "version": "4.4"}, _header(model),
             E("DataDictionary", {"numberOfFields": len(data) + 1}, *data.values(), tfield))
    if fields.derived or fields.functions:
        root.append(E("TransformationDictionary", None, *fields.functions, *fields.derived))
    root.append(top)
    # ElementTree indents and serialises recursively: frames per nesting level of a tree.
    depth = est.max_depth() if isinstance(est, ir.TreeEnsemble) else 0
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 4 * depth + 1000))
    try:
        # Indent small, shallow documents (readable diffs); big or deep ones stay compact.
        if depth <= 32 and sum(1 for _ in root.iter()) < 20000:
            ET.indent(root, space="  ")
        body = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    finally:
        sys.setrecursionlimit(limit)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body


def _header(model: ir.Model) -> E:
    from .. import __version__

    src = model.source
    note = E("Annotation")
    note.text = (f"Exported from {src.library} {src.version} {src.estimator} by portable "
                 f"{__version__}; IR fingerprint {model.fingerprint()}.")
    return E("Header", {"description": f"{src.estimator} ({src.library} {src.version})"},
             E("Application", {"name": "portable", "version": __version__}), note)


def _outputs(sig, est, names: Names, value_type: str, target_type: str) -> E:
    """Prediction columns first (signature order), then margins, then the label."""
    out = E("Output")
    K = est.n_outputs

    def field(name, **attrs):
        return E("OutputField", {"name": names.new(name), "optype": "continuous",
                                 "dataType": value_type, **attrs})

    if sig.prediction_kind == "value":
        out.append(field(sig.output_names[0], feature="predictedValue"))
    elif sig.prediction_kind == "probability" and est.post_transform != "identity":
        for name, c in zip(sig.output_names, sig.classes):
            out.append(field(name, feature="probability", value=str(c)))
    else:
        # Identity link (forest probabilities, decision scores): the prediction is the
        # margin itself. Read it from the margin segment rather than from the target's
        # probabilities, which JPMML completes as 1 - sum(others) for the last class.
        for k, name in enumerate(sig.output_names):
            out.append(field(name, feature="predictedValue", segmentId=f"margin{k}"))
    for k in range(K):
        out.append(field(f"margin({k})", feature="predictedValue", segmentId=f"margin{k}"))
    if sig.task == "classification":
        out.append(E("OutputField", {"name": names.new(LABEL), "optype": "categorical",
                                     "dataType": target_type, "feature": "predictedValue"}))
    return out


def _verification(model: ir.Model, outputs: E, kinds: dict) -> E:
    """Golden rows (threshold probes + a NaN row) with the reference evaluator's outputs.

    JPMML parses a cell of a float field with ``Float.parseFloat``: the decimal text, not
    the double it stands for, is rounded to float. A double halfway between two floats
    would then round differently from the source's cast, so float cells hold the already
    cast value (exact as text).
    """
    from ..ir.evaluate import prepare_input
    from ..probes import golden_rows

    sig = model.signature
    X = prepare_input(sig, golden_rows(model))
    pred = ir.evaluate(model, X)
    margin = ir.evaluate(model, X, output="margin")
    fmt = num32 if pred.dtype == np.float32 else num64
    out_fields = [f for f in outputs if f.get("dataType") in ("float", "double")]
    values = np.hstack([pred, margin])[:, :len(out_fields)]
    bounds = _bounds(model.estimator, margin, pred)
    head = E("VerificationFields")
    for j, n in enumerate(sig.feature_names):
        head.append(E("VerificationField", {"field": n, "column": f"x{j}"}))
    for k, f in enumerate(out_fields):
        precision, zero = bounds[k] if k < len(bounds) else (_PRECISION, _ZERO)
        head.append(E("VerificationField", {"field": f.get("name"), "column": f"y{k}",
                                            "precision": f"{precision:.3g}",
                                            "zeroThreshold": f"{zero:.3g}"}))
    table = E("InlineTable")
    for i in range(X.shape[0]):
        row = E("row")
        for j, t in enumerate(sig.feature_types):
            v = X[i, j]
            if v is None or (t != "string" and v != v):
                continue  # an absent cell is a missing value
            cell = ET.SubElement(row, f"x{j}")
            cell.text = str(v) if t == "string" else (
                num32(v) if kinds[sig.feature_names[j]] == "float" else num64(v))
        for k in range(values.shape[1]):
            if values[i, k] == values[i, k]:  # NaN: an absent cell, a missing output
                ET.SubElement(row, f"y{k}").text = fmt(values[i, k])
        table.append(row)
    return E("ModelVerification", {"recordCount": X.shape[0], "fieldCount": len(head)},
             head, table)


def _bounds(est, margin: np.ndarray, pred: np.ndarray) -> list[tuple[float, float]]:
    """(precision, zeroThreshold) per prediction column: the float32 rounding of the margin.

    JPMML's float ``exp`` is ``(float) Math.pow(2.7182817f, x)``, a few float32 ULP from a
    correct ``expf``: as if the margin moved by under one float32 ULP. The bound per cell
    is the change one float32 ULP of each margin makes through the (double) link, plus 2
    ULP of the row's largest output (``p0 = 1 - p1`` inherits p1's rounding). JPMML checks
    ``|actual - expected| <= precision * |expected|``, or both below ``zeroThreshold``.
    """
    from ..ir.evaluate import post_transform

    m = margin.astype(np.float64)

    def link(z):
        out = post_transform(est.post_transform, z, np.dtype(np.float64))
        return np.hstack([1 - out, out]) if out.shape[1] < pred.shape[1] else out

    base, tol = link(m), np.zeros(pred.shape)
    for j in range(m.shape[1]):
        step = np.zeros(m.shape)
        step[:, j] = np.spacing(np.abs(margin[:, j]).astype(np.float32)).astype(np.float64)
        with np.errstate(all="ignore"):
            tol += np.nan_to_num(np.maximum(np.abs(link(m + step) - base),
                                            np.abs(link(m - step) - base)))
    tol += 2 * np.spacing(np.abs(pred).max(axis=1, keepdims=True).astype(pred.dtype))
    out = []
    for k in range(pred.shape[1]):
        zero = max(_ZERO, 2 * float(tol[:, k].max()))
        v = np.abs(pred[:, k].astype(np.float64))
        big = v > zero
        rel = float((tol[big, k] / v[big]).max()) if big.any() else 0.0
        out.append((max(_PRECISION, 2 * rel), zero))
    return out
