"""PMML building blocks: element helper, exact number text, field names, transforms.

Transforms become DerivedFields of the TransformationDictionary. They are lowered
symbolically: each IR column is a *field name*, a transform maps a list of names to a
new list, and column selection (ColumnTransformer) is only a re-indexing of that list.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np

from ..errors import UnsupportedFeatureError
from ..floats import f32_ceil, f32_floor  # noqa: F401  (shared with the PFA emitter)
from ..ir.transforms import ColumnTransformer, Imputer, OneHotEncoder, Scaler

NS = "http://www.dmg.org/PMML-4_4"
_F32 = np.float32


def E(tag: str, attrs: dict | None = None, *children) -> ET.Element:
    """An element with string attributes (None values dropped) and children."""
    el = ET.Element(tag, {k: str(v) for k, v in (attrs or {}).items() if v is not None})
    for c in children:
        if c is not None:
            el.append(c)
    return el


def const(v) -> ET.Element:
    """A double Constant holding exactly ``v``."""
    el = E("Constant", {"dataType": "double"})
    el.text = num64(v)
    return el


def num64(v) -> str:
    """A double as the shortest text that parses back to exactly the same double."""
    v = float(v)
    if v != v:
        return "NaN"
    if v in (np.inf, -np.inf):
        return "INF" if v > 0 else "-INF"
    return repr(v)


def num32(v) -> str:
    """A float32 value as the text of its exact double value.

    Why not the shortest float32 text: JPMML may parse a number as a double and then narrow
    it to float. The exact double of a float32 survives both ``Float.parseFloat`` and
    ``(float) Double.parseDouble`` unchanged, so no double rounding can move a threshold.
    """
    return num64(float(_F32(v)))


class Names:
    """Allocates field names that are unique within one document."""

    def __init__(self, taken=()):
        self.taken = set(taken)

    def new(self, base: str) -> str:
        name, k = base, 1
        while name in self.taken:
            k += 1
            name = f"{base}#{k}"
        self.taken.add(name)
        return name


class Fields:
    """The DerivedFields of the TransformationDictionary, built while lowering transforms.

    Attributes
    ----------
    names : Names
    derived : list of Element
        DerivedField elements, each after the fields it reads.
    kinds : dict
        Field name -> "double", "float" or "string" (the PMML dataType).
    """

    def __init__(self, data_fields: dict[str, str], names: Names):
        self.names = names
        self.kinds = dict(data_fields)
        self.data = frozenset(data_fields)
        self.derived: list[ET.Element] = []
        self._casts: dict[str, str] = {}

    def add(self, base: str, expr: ET.Element, kind: str = "double") -> str:
        name = self.names.new(base)
        self.derived.append(E("DerivedField", {"name": name, "optype": "continuous",
                                               "dataType": kind}, expr))
        self.kinds[name] = kind
        return name

    def as_float(self, name: str) -> str:
        """A float (float32) view of a numeric field: what the source's float32 cast gives.

        A DerivedField of dataType float narrows a double to the nearest float (Java's
        ``(float)`` cast, round-half-even), exactly as ``numpy.astype(float32)`` does.
        """
        if self.kinds.get(name) == "float":
            return name
        if name not in self._casts:
            self._casts[name] = self.add(f"float({name})", E("FieldRef", {"field": name}), "float")
        return self._casts[name]


def lower_transforms(steps, columns: list[str], fields: Fields, raw: dict) -> list[str]:
    """Lower IR transforms to DerivedFields; return the estimator's input field names.

    ``raw`` maps raw DataField names to their DataField elements (one-hot may declare
    the valid categories of a raw string field there).
    """
    for step in steps:
        columns = _lower(step, columns, fields, raw)
    return columns


def _lower(step, cols: list[str], fields: Fields, raw: dict) -> list[str]:
    if isinstance(step, Scaler):
        return [_scale(step, j, c, fields) for j, c in enumerate(cols)]
    if isinstance(step, Imputer):
        out = []
        for j, c in enumerate(cols):
            if not step.keep[j]:
                continue
            fill = float(step.fill[j])
            if fill != fill:  # nothing to fill with: NaN stays missing
                out.append(c)
                continue
            ref = E("FieldRef", {"field": c, "mapMissingTo": num64(fill)})
            out.append(fields.add(f"imputed({c})", ref))
        return out
    if isinstance(step, OneHotEncoder):
        return _one_hot(step, cols, fields, raw)
    if isinstance(step, ColumnTransformer):
        out = []
        for part in step.parts:
            sub = [cols[i] for i in part.columns]
            for s in part.steps:
                sub = _lower(s, sub, fields, raw)
            out.extend(sub)
        return out
    raise UnsupportedFeatureError(f"PMML export cannot express a {type(step).__name__} step.")


def _scale(step: Scaler, j: int, col: str, fields: Fields) -> str:
    """``x - subtract; / divide; * multiply; + add; clip``: sklearn's order, in double.

    Identity operations (subtract 0, divide by 1, ...) are skipped: they cannot change a
    double (except the sign of a zero, which no comparison or sum downstream can see).
    """
    expr = E("FieldRef", {"field": col})
    for attr, op, neutral in (("subtract", "-", 0.0), ("divide", "/", 1.0),
                              ("multiply", "*", 1.0), ("add", "+", 0.0)):
        a = getattr(step, attr)
        if a is not None and float(a[j]) != neutral:
            expr = E("Apply", {"function": op}, expr, const(a[j]))
    if step.clip is not None:
        # Not min/max alone: PMML's min and max skip missing arguments, so a NaN would
        # become a bound. numpy.clip keeps NaN: an "if" without else yields missing.
        lo, hi = step.clip
        x = fields.add(f"unclipped({col})", expr) if expr.tag != "FieldRef" else col
        ref = E("FieldRef", {"field": x})
        clipped = E("Apply", {"function": "min"},
                    E("Apply", {"function": "max"}, ref, const(lo)), const(hi))
        expr = E("Apply", {"function": "if"},
                 E("Apply", {"function": "isNotMissing"}, E("FieldRef", {"field": x})), clipped)
    if expr.tag == "FieldRef":
        return col
    return fields.add(f"scaled({col})", expr)


def _one_hot(step: OneHotEncoder, cols: list[str], fields: Fields, raw: dict) -> list[str]:
    out = []
    for j, (cats, drop) in enumerate(zip(step.categories, step.drop)):
        col = cols[j]
        numeric = fields.kinds.get(col) != "string"
        if step.handle_unknown == "error" and col in raw and not numeric:
            # An unseen category must fail as in scikit-learn: declare the valid values.
            known = {v.get("value") for v in raw[col]}
            for c in cats:
                if c == c and c is not None and str(c) not in known:
                    raw[col].append(E("Value", {"value": str(c)}))
                    known.add(str(c))
        for k, c in enumerate(cats):
            if k == drop:
                continue
            is_nan = c is None or (isinstance(c, float) and c != c)
            if is_nan:
                value, miss = "NaN", "1"
            else:
                value = num64(c) if numeric else str(c)
                miss = "0"
            norm = E("NormDiscrete", {"field": col, "value": value, "mapMissingTo": miss})
            out.append(fields.add(f"{col}={value}", norm))
    return out
