"""Building blocks of the ONNX converter: a graph builder, column tables, transforms, linear.

Numbers stay float64 (ONNX ``DOUBLE``) wherever scikit-learn computes in float64: the
upstream converters run scalers and imputers in float32, which moves rows across split
thresholds downstream. Every op used here is exact IEEE arithmetic (Sub, Div, Mul, Add,
Clip, Where, Equal) so the graph reproduces ``portable.ir.evaluate`` bit for bit, except
``MatMul`` whose summation order belongs to the BLAS on each side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from ..errors import UnsupportedFeatureError
from ..ir import (ColumnTransformer, Imputer, LinearModel, OneHotEncoder, Scaler, TextVectorizer,
                  ZeroAsMissing)

DTYPES = {"float32": TensorProto.FLOAT, "float64": TensorProto.DOUBLE,
          "string": TensorProto.STRING, "int64": TensorProto.INT64, "bool": TensorProto.BOOL}

# Missing values of string columns are fed as this string (ONNX strings cannot be NaN).
MISSING_STRING = "\x00missing"


@dataclass(frozen=True)
class Column:
    """One column of a 2-D tensor: ``tensor[:, index]`` of dtype ``dtype``."""

    tensor: str
    index: int
    dtype: str


class Graph:
    """Accumulates nodes and initializers with deterministic, readable names."""

    def __init__(self):
        self.nodes: list = []
        self.initializers: list = []
        self.widths: dict[str, int] = {}
        self._count = 0

    def fresh(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, value, hint: str = "c", dtype=None) -> str:
        arr = np.asarray(value, dtype=dtype)
        name = self.fresh(hint)
        if arr.dtype == object or arr.dtype.kind == "U":
            t = helper.make_tensor(name, TensorProto.STRING, arr.shape,
                                   [str(v).encode() for v in arr.ravel()])
        else:
            t = numpy_helper.from_array(arr, name)
        self.initializers.append(t)
        return name

    def op(self, op_type: str, inputs, hint: str | None = None, *, domain: str = "",
           name: str | None = None, **attrs) -> str:
        out = self.fresh(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], domain=domain,
                                           name=name or out, **attrs))
        return out

    def cast(self, x: str, frm: str, to: str) -> str:
        return x if frm == to else self.op("Cast", [x], "cast", to=DTYPES[to])


# ----------------------------------------------------------------------------- tables
def table_of(tensor: str, width: int, dtype: str, graph: Graph) -> list[Column]:
    graph.widths[tensor] = width
    return [Column(tensor, j, dtype) for j in range(width)]


def materialize(g: Graph, table: list[Column], dtype: str) -> str:
    """One 2-D tensor of ``dtype`` holding the table's columns in order."""
    if not table:
        raise UnsupportedFeatureError("A step receives no columns; nothing to compute.")
    runs: list[list[Column]] = []
    for c in table:
        if runs and runs[-1][-1].tensor == c.tensor and runs[-1][-1].dtype == c.dtype:
            runs[-1].append(c)
        else:
            runs.append([c])
    pieces = []
    for run in runs:
        src, idx = run[0].tensor, [c.index for c in run]
        if idx == list(range(g.widths[src])):
            piece = src
        elif idx == list(range(idx[0], idx[-1] + 1)):
            piece = g.op("Slice", [src, g.const([idx[0]], "start", np.int64),
                                   g.const([idx[-1] + 1], "end", np.int64),
                                   g.const([1], "axis", np.int64)], "cols")
        else:
            piece = g.op("Gather", [src, g.const(idx, "cols", np.int64)], "cols", axis=1)
        if run[0].dtype == "string" and dtype != "string":
            raise UnsupportedFeatureError(
                "A string column reaches a numeric step; encode it first (OneHotEncoder).")
        pieces.append(g.cast(piece, run[0].dtype, dtype))
    return pieces[0] if len(pieces) == 1 else g.op("Concat", pieces, "concat", axis=1)


def _new_table(g: Graph, tensor: str, width: int) -> list[Column]:
    return table_of(tensor, width, "float64", g)


# ----------------------------------------------------------------------------- transforms
def apply_transform(g: Graph, step, table: list[Column], names: list[str]) -> tuple[list, list]:
    """Lower one transform; returns the output table and its column names."""
    if isinstance(step, Scaler):
        x = materialize(g, table, "float64")
        # The order (subtract, divide, multiply, add, clip) is the IR's semantics.
        for attr, op in (("subtract", "Sub"), ("divide", "Div"), ("multiply", "Mul"),
                         ("add", "Add")):
            v = getattr(step, attr)
            if v is not None:
                x = g.op(op, [x, g.const(np.asarray(v, np.float64), attr)], "scale")
        if step.clip is not None:
            x = g.op("Clip", [x, g.const(np.float64(step.clip[0]), "lo"),
                              g.const(np.float64(step.clip[1]), "hi")], "clip")
        return _new_table(g, x, step.n_outputs), names
    if isinstance(step, Imputer):
        x = materialize(g, table, "float64")
        fill = g.const(np.asarray(step.fill, np.float64), "fill")
        x = g.op("Where", [g.op("IsNaN", [x], "missing"), fill, x], "imputed")
        keep = np.flatnonzero(np.asarray(step.keep, bool))
        if keep.size != step.n_inputs:
            x = g.op("Gather", [x, g.const(keep, "keep", np.int64)], "kept", axis=1)
        return _new_table(g, x, step.n_outputs), [names[k] for k in keep]
    if isinstance(step, OneHotEncoder):
        return _one_hot(g, step, table, names)
    if isinstance(step, TextVectorizer):
        from ._onnx_text import text_features

        if len(table) != 1 or table[0].dtype != "string":
            raise UnsupportedFeatureError("A text vectorizer must read one string column.")
        x = text_features(g, step, materialize(g, table, "string"))
        return _new_table(g, x, step.n_outputs), [f"{names[0]}:{t}" for t in step.vocabulary]
    if isinstance(step, ZeroAsMissing):
        # XGBoost reads a sparse matrix's absent entries as missing: exact 0 (and -0) -> NaN.
        x = materialize(g, table, "float64")
        zero = g.op("Equal", [x, g.const(np.float64(0.0), "zero")], "is_zero")
        x = g.op("Where", [zero, g.const(np.float64(np.nan), "nan"), x], "missing")
        return _new_table(g, x, step.n_outputs), names
    if isinstance(step, ColumnTransformer):
        out, out_names = [], []
        for part in step.parts:
            sub = [table[c] for c in part.columns]
            sub_names = [names[c] for c in part.columns]
            for s in part.steps:
                sub, sub_names = apply_transform(g, s, sub, sub_names)
            out.extend(sub)
            out_names.extend(sub_names)
        return out, out_names
    raise UnsupportedFeatureError(
        f"The ONNX converter cannot express a {getattr(step, 'kind', type(step).__name__)!r} "
        f"step.")


def _one_hot(g: Graph, step: OneHotEncoder, table, names):
    blocks, out_names = [], []
    strict = step.handle_unknown == "error"
    for j, (cats, drop) in enumerate(zip(step.categories, step.drop)):
        col, name = table[j], names[j]
        # Named after the feature: ORT puts the node name into its error message.
        check = f"unknown_category_in_{_safe(name)}"
        if col.dtype == "string":
            x = materialize(g, [col], "string")
            strs = [MISSING_STRING if _is_missing(c) else str(c) for c in cats]
            oh = g.op("OneHotEncoder", [x], "onehot", domain="ai.onnx.ml",
                      cats_strings=strs, zeros=0 if strict else 1, name=check)
            oh = g.op("Squeeze", [oh, g.const([1], "axis", np.int64)], "onehot")
            oh = g.cast(oh, "float32", "float64")
        else:
            oh = _numeric_one_hot(g, materialize(g, [col], "float64"), cats, strict, check)
        k = len(cats)
        if drop is not None:
            kept = [i for i in range(k) if i != drop]
            oh = g.op("Gather", [oh, g.const(kept, "kept", np.int64)], "onehot", axis=1)
        blocks.append(oh)
        out_names.extend(f"{name}={c}" for i, c in enumerate(cats) if i != drop)
    x = blocks[0] if len(blocks) == 1 else g.op("Concat", blocks, "onehot", axis=1)
    return _new_table(g, x, step.n_outputs), out_names


def _numeric_one_hot(g: Graph, x: str, cats, strict: bool, check: str) -> str:
    """Exact float64 equality against each category; NaN is a category of its own."""
    vals = np.array([np.nan if _is_missing(c) else float(c) for c in cats], np.float64)
    hit = g.op("Equal", [x, g.const(vals, "cats")], "hit")
    if np.isnan(vals).any():
        nan_slot = g.const(np.isnan(vals), "nan_slot")
        hit = g.op("Or", [hit, g.op("And", [g.op("IsNaN", [x], "nan"), nan_slot], "hit")],
                   "hit")
    oh = g.op("Cast", [hit], "onehot", to=TensorProto.DOUBLE)
    if strict:
        # ONNX has no assert: a one-category OneHotEncoder with zeros=0 fails the run when
        # no category matched, and its all-ones output is multiplied in so it stays live.
        known = g.op("ReduceMax", [oh, g.const([1], "axis", np.int64)], "known", keepdims=1)
        known = g.op("Cast", [known], "known", to=TensorProto.INT64)
        ok = g.op("OneHotEncoder", [known], "ok", domain="ai.onnx.ml", cats_int64s=[1],
                  zeros=0, name=check)
        ok = g.op("Squeeze", [ok, g.const([2], "axis", np.int64)], "ok")
        oh = g.op("Mul", [oh, g.cast(ok, "float32", "float64")], "onehot")
    return oh


def _is_missing(v) -> bool:
    return v is None or (isinstance(v, (float, np.floating)) and v != v)


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in str(name))[:60]


# ----------------------------------------------------------------------------- linear
def linear_margin(g: Graph, est: LinearModel, x: str) -> str:
    """``x @ coef.T + intercept`` in float64 (scikit-learn's decision_function)."""
    coef_t = np.ascontiguousarray(np.asarray(est.coef, np.float64).T)
    m = g.op("MatMul", [x, g.const(coef_t, "coef_t")], "dot")
    return g.op("Add", [m, g.const(np.asarray(est.intercept, np.float64), "intercept")],
                "margin")
