"""PFA 0.8.1 export (JSON, or YAML): every IR model as one scoring engine, for titus2.

Document layout::

    input     record of the raw features ("double"; "string" for categorical columns),
              field names made Avro-safe (the originals are in metadata "portable.inputs")
    output    record {prediction: array<double>, margin: array<double>[, label: string]}
    cells     per output column, its trees as TreeNode records; or the linear model
    fcns      u.test: the split test ``d.x[t.f] < t.v`` used by model.tree.simpleWalk
    action    transforms (let per column, sklearn's op order, double arithmetic), the
              margin (trees: walk and accumulate; linear: model.reg.linear), the link

Float semantics are explicit in the document (see :mod:`._pfa_trees`): float32 split
tests become exact double tests, float32 sums and links round each step to float32 (so
margins are bit-exact; a float32 link's ``expf`` is ``exp`` in double rounded once, which
is glibc's ``expf`` except within a hair of a rounding midpoint: at most 1 ULP apart).
Links mirror ``portable.ir.evaluate.post_transform`` step by step; ``m.link.softmax`` is
not used because titus subtracts the largest-*magnitude* margin, which overflows ``exp``
for large negative margins. NaN is the missing value for numeric inputs.
"""

from __future__ import annotations

import json
import re

import numpy as np

from .. import ir
from ..errors import UnsupportedFeatureError
from ..ir.transforms import ColumnTransformer, Imputer, OneHotEncoder, Scaler
from ._pfa_trees import F32_OVERFLOW, NODE, column_forests, node_type, round32

FILES = {"json": "model.pfa", "yaml": "model.pfa.yaml"}
_ARR = {"type": "array", "items": "double"}
_F32_LOGIT_CAP = float(np.float32(88.7))  # XGBoost caps -margin at 88.7 before expf
# Largest double whose exp() is finite: beyond it Python's math.exp raises OverflowError.
_EXP_MAX = 709.782712893384


class PfaConverter:
    """IR -> PFA (``model.pfa``, JSON; or ``model.pfa.yaml``), run by titus2 (``titus``)."""

    name = "pfa"
    route = "document"
    default_runtime = "titus"
    supports = frozenset({"tree_ensemble", "linear", "scaler", "imputer", "one_hot",
                          "column_transformer"})

    def convert(self, model: ir.Model, *, syntax: str = "json", **options) -> dict:
        """Return ``{"model.pfa": bytes}`` (``syntax="yaml"``: ``{"model.pfa.yaml": ...}``)."""
        if options:
            raise UnsupportedFeatureError(
                f"Unknown PFA option(s) {', '.join(sorted(options))}; known: syntax.")
        if syntax not in FILES:
            raise UnsupportedFeatureError(f"PFA syntax {syntax!r}: choose json or yaml.")
        doc = to_pfa(model)
        if syntax == "yaml":
            import yaml  # PyYAML prints floats with repr(): exact round trip

            return {FILES["yaml"]: yaml.safe_dump(doc, sort_keys=False).encode()}
        return {FILES["json"]: json.dumps(doc, allow_nan=False).encode()}


def avro_names(names) -> list[str]:
    """Avro-safe, unique field names for the given feature names."""
    out, seen = [], set()
    for n in names:
        s = re.sub(r"[^A-Za-z0-9_]", "_", str(n)) or "_"
        if not re.match(r"[A-Za-z_]", s):
            s = "_" + s
        base, k = s, 1
        while s in seen:
            k += 1
            s = f"{base}_{k}"
        seen.add(s)
        out.append(s)
    return out


def to_pfa(model: ir.Model) -> dict:
    """The PFA document of an IR model, as a JSON-ready dict."""
    from .. import __version__

    ir.check_model(model)
    sig, est = model.signature, model.estimator
    b = _Builder()
    fields = avro_names(sig.feature_names)
    cols = [f"input.{f}" for f in fields]
    in_kinds = ["string" if t == "string" else "double" for t in sig.feature_types]
    kinds = in_kinds
    for step in model.transforms:
        cols, kinds = _transform(b, step, cols, kinds)
    f32 = getattr(est, "accumulate_dtype", "float64") == "float32"
    if isinstance(est, ir.TreeEnsemble):
        margins = _trees(b, est, cols)
    else:
        b.cells["linear"] = {"type": {"type": "record", "name": "Linear", "fields": [
            {"name": "coeff", "type": {"type": "array", "items": _ARR}},
            {"name": "const", "type": _ARR}]},
            "init": {"coeff": est.coef.tolist(), "const": est.intercept.tolist()}}
        margins = b.let({"model.reg.linear": [
            {"type": _ARR, "new": cols}, {"cell": "linear"}]})
    pred = _link(b, est.post_transform, margins, est.n_outputs, f32)
    if sig.prediction_kind == "probability" and est.n_outputs == 1:
        one_minus = b.let({"-": [1.0, {"attr": pred, "path": [0]}]})
        pred = b.let({"type": _ARR, "new": [round32(one_minus) if f32 else one_minus,
                                             {"attr": pred, "path": [0]}]})
    out_fields = [{"name": "prediction", "type": _ARR}, {"name": "margin", "type": _ARR}]
    out = {"prediction": pred, "margin": margins}
    if sig.task == "classification":
        out_fields.append({"name": "label", "type": "string"})
        out["label"] = _label(pred, sig)
    b.action.append({"type": "Output", "new": out})
    meta = {"portable.version": __version__,
            "portable.inputs": json.dumps(list(sig.feature_names)),
            "portable.fields": json.dumps(fields),
            "portable.dtype": "float32" if f32 else "float64",
            "portable.source": f"{model.source.library} {model.source.version} "
                               f"{model.source.estimator}",
            "portable.fingerprint": model.fingerprint()}
    return {
        "name": re.sub(r"[^A-Za-z0-9_]", "_", model.source.estimator) or "model",
        "method": "map",
        "input": {"type": "record", "name": "Input", "fields": [
            {"name": f, "type": k} for f, k in zip(fields, in_kinds)]},
        "output": {"type": "record", "name": "Output", "fields": out_fields},
        "cells": b.cells,
        "fcns": b.fcns,
        "action": b.action,
        "metadata": meta,
    }


class _Builder:
    """Accumulates cells, functions and the action's statements; names the variables."""

    def __init__(self):
        self.cells: dict = {}
        self.fcns: dict = {}
        self.action: list = []
        self._n = 0

    def let(self, expr) -> str:
        self._n += 1
        name = f"v{self._n}"
        self.action.append({"let": {name: expr}})
        return name


# ----------------------------------------------------------------------------- transforms
def _transform(b: _Builder, step, cols, kinds):
    if isinstance(step, Scaler):
        out = []
        for j, c in enumerate(cols):
            for attr, op, neutral in (("subtract", "-", 0.0), ("divide", "/", 1.0),
                                      ("multiply", "*", 1.0), ("add", "+", 0.0)):
                a = getattr(step, attr)
                if a is not None and float(a[j]) != neutral:
                    c = b.let({op: [c, float(a[j])]})
            if step.clip is not None:
                lo, hi = map(float, step.clip)
                # titus orders NaN above every number: test it first, NaN stays NaN.
                c = b.let({"if": {"impute.isnan": c}, "then": c, "else": {
                    "if": {"<": [c, lo]}, "then": lo,
                    "else": {"if": {"<": [hi, c]}, "then": hi, "else": c}}})
            out.append(c)
        return out, ["double"] * len(out)
    if isinstance(step, Imputer):
        out = []
        for j, c in enumerate(cols):
            if step.keep[j]:
                fill = float(step.fill[j])
                out.append(c if fill != fill else b.let(
                    {"if": {"impute.isnan": c}, "then": fill, "else": c}))
        return out, ["double"] * len(out)
    if isinstance(step, OneHotEncoder):
        return _one_hot(b, step, cols, kinds)
    if isinstance(step, ColumnTransformer):
        out, out_kinds = [], []
        for part in step.parts:
            sub = [cols[i] for i in part.columns]
            sub_kinds = [kinds[i] for i in part.columns]
            for s in part.steps:
                sub, sub_kinds = _transform(b, s, sub, sub_kinds)
            out += sub
            out_kinds += sub_kinds
        return out, out_kinds
    raise UnsupportedFeatureError(f"PFA export cannot express a {type(step).__name__} step.")


def _one_hot(b: _Builder, step: OneHotEncoder, cols, kinds):
    out = []
    for j, (cats, drop) in enumerate(zip(step.categories, step.drop)):
        c, numeric = cols[j], kinds[j] != "string"
        tests = []
        for cat in cats:
            if cat is None or (isinstance(cat, float) and cat != cat):
                tests.append({"impute.isnan": c} if numeric else False)
            else:
                tests.append({"==": [c, float(cat) if numeric else {"string": str(cat)}]})
        if step.handle_unknown == "error":
            known = tests[0] if len(tests) == 1 else {"||": tests[:2]}
            for t in tests[2:]:
                known = {"||": [known, t]}
            b.action.append({"if": {"!": known}, "then": {
                "error": f"Unknown category in input column {j}; known: "
                         f"{', '.join(map(str, cats[:10]))}"}})
        for k, t in enumerate(tests):
            if k != drop:
                out.append(b.let({"if": t, "then": 1.0, "else": 0.0}) if t is not False
                           else 0.0)
    return out, ["double"] * len(out)


# ----------------------------------------------------------------------------- margins
def _trees(b: _Builder, ens: ir.TreeEnsemble, cols) -> str:
    """Walk every tree, accumulate per column in the ensemble's dtype; returns margins."""
    f32 = ens.accumulate_dtype == "float32"
    n = ens.n_features
    in32 = [ens.input_dtype == "float32"] * n
    b.fcns["test"] = {"params": [{"d": {"type": "record", "name": "D", "fields": [
        {"name": "x", "type": _ARR}]}}, {"t": NODE}], "ret": "boolean",
        "do": {"<": [{"attr": "d", "path": [{"string": "x"}, "t.f"]}, "t.v"]}}
    forests, flags = column_forests(ens, in32)
    x = list(cols) + [{"u-": c} for c in cols]
    if flags:
        x += [{"if": {"impute.isnan": c}, "then": 1.0, "else": 0.0} for c in cols]
    d = b.let({"type": "D", "new": {"x": b.let({"type": _ARR, "new": x})}})
    accs = []
    for k, recs in enumerate(forests):
        cell = f"trees{k}"
        b.cells[cell] = {"type": {"type": "array", "items": node_type() if k == 0 else NODE},
                         "init": recs}
        acc = b.let(0.0)
        walk = {"model.tree.simpleWalk": [d, "tree", {"fcn": "u.test"}]}
        if f32:
            body = [{"let": {"s": {"+": [acc, walk]}}}, {"set": {acc: round32("s")}}]
        else:
            body = [{"set": {acc: {"+": [acc, walk]}}}]
        b.action.append({"foreach": "tree", "in": {"cell": cell}, "do": body})
        if ens.aggregation == "mean":
            mean = b.let({"/": [acc, float(len(ens.trees))]})
            acc = b.let(round32(mean)) if f32 else mean
        accs.append(acc)
    return b.let({"type": _ARR, "new": accs})


# ----------------------------------------------------------------------------- links
def _link(b: _Builder, name: str, m: str, K: int, f32: bool) -> str:
    """Mirror ``portable.ir.evaluate.post_transform`` step by step."""
    if name == "identity":
        return m
    ms = [{"attr": m, "path": [k]} for k in range(K)]
    if name == "logistic":
        out = []
        for x in ms:
            if f32:  # XGBoost: 1 / (1 + expf(min(-x, 88.7))), all in float32
                e = b.let({"m.exp": {"min": [{"u-": x}, _F32_LOGIT_CAP]}})
                e1 = b.let({"+": [b.let(round32(e)), 1.0]})
                p = b.let({"/": [1.0, b.let(round32(e1))]})
                out.append(round32(p))
            else:  # scipy's expit: 1 / (1 + exp(-x)); exp overflow gives 0, NaN stays NaN
                out.append({"if": {"<": [x, -_EXP_MAX]}, "then": 0.0,
                            "else": {"m.link.logit": x}})
        return b.let({"type": _ARR, "new": out})
    if name == "exp":
        out = []
        for x in ms:
            e = b.let({"m.exp": {"min": [x, _EXP_MAX]}})
            inf = {"/": [1.0, 0.0]}  # PFA division: a finite number over 0 is inf
            if f32:
                out.append({"if": {"<": [e, F32_OVERFLOW]}, "then": round32(e), "else": inf})
            else:  # titus orders NaN above every number: test it first
                out.append({"if": {"impute.isnan": x}, "then": x, "else": {
                    "if": {"<": [_EXP_MAX, x]}, "then": inf, "else": e}})
        return b.let({"type": _ARR, "new": out})
    if name == "softmax":
        mx = b.let({"a.max": m})
        es = []
        for x in ms:
            z = b.let({"-": [x, mx]})
            e = b.let({"m.exp": b.let(round32(z)) if f32 else z})
            es.append(b.let(round32(e)) if f32 else e)
        s = b.let({"a.sum": {"type": _ARR, "new": es}})  # sequential, in double
        if f32:
            s = b.let(round32(s))
        ps = [b.let({"/": [e, s]}) for e in es]
        return b.let({"type": _ARR, "new": [round32(p) if f32 else p for p in ps]})
    raise UnsupportedFeatureError(f"PFA export has no {name!r} link.")


def _label(pred: str, sig) -> dict:
    classes = {"type": {"type": "array", "items": "string"},
               "value": [str(c) for c in sig.classes]}
    if len(sig.output_names) == 1:  # one decision score: the second class when positive
        return {"if": {"<": [0.0, {"attr": pred, "path": [0]}]},
                "then": {"attr": classes, "path": [1]}, "else": {"attr": classes, "path": [0]}}
    return {"attr": classes, "path": [{"a.argmax": pred}]}
