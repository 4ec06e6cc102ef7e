"""PMML building blocks: element helper, exact number text, field names, transforms.

Transforms become DerivedFields of the TransformationDictionary. They are lowered
symbolically: each IR column is a *field name*, a transform maps a list of names to a
new list, and column selection (ColumnTransformer) is only a re-indexing of that list.

Text (``TextVectorizer``) follows JPMML-Evaluator 1.7's ``TextIndex`` as read from its
classes (``TextUtil``, ``TextMatcher``, ``ExpressionUtil.evaluateTextIndex``):

* With the JPMML attribute ``x-wordRE`` the tokens are the successive ``Matcher.find()``
  matches of that ``java.util.regex`` pattern (flags 0), which is ``re.findall`` for a
  pattern without groups; ``_tokens.token_regex`` restates the Python pattern for Java.
  (Without it JPMML *splits* on ``wordSeparatorCharacterRE`` and trims punctuation.)
  The term itself is tokenized by the same pattern; a term of n tokens is counted at every
  position where the document's token list holds those n tokens (overlaps included).
* ``isCaseSensitive="false"`` compares with ``String.equalsIgnoreCase`` (char by char,
  e.g. it equates "σ" and "ς", "ſ" and "s"), not scikit-learn's ``str.lower``. So the
  index is case sensitive and the document is lowercased first with PMML ``lowercase``,
  i.e. ``String.toLowerCase()`` in the JVM's default locale (the jpmml runtime pins
  ``en``). Measured against Python 3.11: equal for every cased code point except the case
  pairs new in Unicode 14 (Java 17 has Unicode 13), and for a capital sigma except in rare
  contexts (Java picks final "ς" by word boundaries, Python by the next cased letter, so
  e.g. "ΑΣ8Α" gives "ας8α" in Python, "ασ8α" in Java).
* ``localTermWeights="logarithmic"`` is ``log10(1 + tf)``, not scikit-learn's
  ``1 + ln(tf)``: sublinear tf is a DefineFunction of its own (see ``_sublinear_function``).
* Text indexes are evaluated per DefineFunction call, with the document's tokens cached per
  TextIndex element: one TextIndex in one DefineFunction, called once per term, tokenizes
  each document once (inlined TextIndexes measured 3x slower).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np

from ..errors import UnsupportedFeatureError
from ..floats import f32_ceil, f32_floor  # noqa: F401  (shared with the PFA emitter)
from ..ir.transforms import (ColumnTransformer, Imputer, OneHotEncoder, Scaler, TextVectorizer,
                             ZeroAsMissing)
from ._tokens import WORD, token_regex

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
    functions : list of Element
        DefineFunction elements (they precede the DerivedFields in the document).
    kinds : dict
        Field name -> "double", "float" or "string" (the PMML dataType).
    """

    def __init__(self, data_fields: dict[str, str], names: Names):
        self.names = names
        self.kinds = dict(data_fields)
        self.data = frozenset(data_fields)
        self.derived: list[ET.Element] = []
        self.functions: list[ET.Element] = []
        self._function_names = Names()
        self._casts: dict[str, str] = {}

    def add(self, base: str, expr: ET.Element, kind: str = "double") -> str:
        name = self.names.new(base)
        optype = "categorical" if kind == "string" else "continuous"
        self.derived.append(E("DerivedField", {"name": name, "optype": optype,
                                               "dataType": kind}, expr))
        self.kinds[name] = kind
        return name

    def define(self, base: str, params: list[tuple[str, str]], expr: ET.Element,
               kind: str) -> str:
        """Add a DefineFunction ``base(params...) = expr``; returns its (unique) name."""
        name = self._function_names.new(base)
        self.functions.append(E(
            "DefineFunction", {"name": name, "optype": "continuous", "dataType": kind},
            *(E("ParameterField", {"name": p, "dataType": t,
                                   "optype": "categorical" if t == "string" else "continuous"})
              for p, t in params), expr))
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
    if isinstance(step, TextVectorizer):
        return _text(step, cols[0], fields)
    if isinstance(step, ZeroAsMissing):
        return [_zero_as_missing(c, fields) for c in cols]
    if isinstance(step, ColumnTransformer):
        out = []
        for part in step.parts:
            sub = [cols[i] for i in part.columns]
            for s in part.steps:
                sub = _lower(s, sub, fields, raw)
            out.extend(sub)
        return out
    raise UnsupportedFeatureError(f"PMML export cannot express a {type(step).__name__} step.")


def _zero_as_missing(col: str, fields: Fields) -> str:
    """``if(isNotMissing(x), if(x != 0, x))``: an ``if`` without else is missing, so 0
    becomes missing and missing stays missing (``notEqual`` itself refuses a missing x)."""
    ref = E("FieldRef", {"field": col})
    nonzero = E("Apply", {"function": "if"},
                E("Apply", {"function": "notEqual"}, ref, const(0.0)),
                E("FieldRef", {"field": col}))
    return fields.add(f"nonzero({col})", E(
        "Apply", {"function": "if"},
        E("Apply", {"function": "isNotMissing"}, E("FieldRef", {"field": col})), nonzero))


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


# ----------------------------------------------------------------------------- text
# Counts up to this get 1 + ln(count) from a table of numpy's log (the reference's and
# scikit-learn's arithmetic) rather than from Java's Math.log; measured equal anyway for
# every count below 19143 on x86-64 (OpenJDK 17 against numpy 2).
LOG_TABLE = 1024
# Characters XML 1.0 text cannot carry unchanged (a parser turns \r into \n; the others
# are not XML characters at all).
_XML_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(step: TextVectorizer, col: str, fields: Fields) -> list[str]:
    """A TextVectorizer as DerivedFields: one weighted term count per vocabulary column.

    ::

        lowercase(col)      Apply lowercase (Java's String.toLowerCase; missing -> "")
        termFrequency       DefineFunction(document, term) = TextIndex: tokens are the
                            matches of x-wordRE (``_tokens.token_regex``), compared case
                            sensitively; stop words removed by a TextIndexNormalization
                            regex when n-grams are built after them
        tf(term)            Apply termFrequency(doc, "term")  (binary: at most 1)
        tfidf(term)         sublinear 1 + ln(tf) (table), times idf
        norm                sum of squares (l2: then sqrt) or of absolute values (l1), in
                            column order; 1 for a row of zeros
        normalized(term)    tfidf(term) / norm

    Terms that scikit-learn can never count (a term the token pattern does not split into
    ``lo..hi`` tokens joined by one space, or holding a stop word) are the constant 0.
    """
    word_re = token_regex(step.token_pattern, target="PMML", dialect="java")
    lo, hi = step.ngram_range
    if hi > 1 and not word_re.startswith(WORD):
        raise UnsupportedFeatureError(
            f"PMML n-grams need word tokens; the token_pattern {step.token_pattern!r} may "
            "produce tokens holding spaces, so the vocabulary's n-grams cannot be split. Use "
            "ngram_range=(1, 1) or a \\w-run pattern such as r\"(?u)\\b\\w\\w+\\b\".")
    if _XML_UNSAFE.search(word_re):
        raise UnsupportedFeatureError(
            f"PMML (XML 1.0) cannot hold the token_pattern {step.token_pattern!r}: it "
            "contains a control character. Write the character class with printable "
            "characters.")
    stop = frozenset(step.stop_words)

    doc = E("FieldRef", {"field": col, "mapMissingTo": ""})  # scikit-learn's None -> ""
    if step.lowercase:
        doc = E("Apply", {"function": "lowercase"}, doc)
    doc_field = fields.add(f"lowercase({col})" if step.lowercase else f"document({col})",
                           doc, "string")

    index = E("TextIndex", {
        "textField": "document", "isCaseSensitive": "true", "maxLevenshteinDistance": "0",
        "countHits": "allHits", "localTermWeights": "binary" if step.binary else "termFrequency",
        "x-wordRE": word_re})
    if stop and hi > 1:
        removal = _stop_word_removal(step, stop)
        if removal is not None:
            index.append(removal)
    index.append(E("FieldRef", {"field": "term"}))
    tf = fields.define("termFrequency", [("document", "string"), ("term", "string")],
                       index, "integer")
    sublinear = _sublinear_function(fields) if step.sublinear_tf else None

    zero = None
    weights: list[str | None] = []
    for j, term in enumerate(step.vocabulary):
        tokens = re.findall(step.token_pattern, term)
        if not (lo <= len(tokens) <= hi and " ".join(tokens) == term and stop.isdisjoint(tokens)):
            weights.append(None)  # never counted by scikit-learn
            continue
        if _XML_UNSAFE.search(term):
            raise UnsupportedFeatureError(
                f"PMML (XML 1.0) cannot hold the vocabulary term {term!r} exactly (it "
                "contains a control character). Clean the text before vectorizing, or "
                "export with --format python.")
        literal = E("Constant", {"dataType": "string"})
        literal.text = term
        expr = E("Apply", {"function": tf}, E("FieldRef", {"field": doc_field}), literal)
        if sublinear is not None:
            expr = E("Apply", {"function": sublinear}, expr)
        weighted = sublinear is not None or step.idf is not None
        if step.idf is not None:
            expr = E("Apply", {"function": "*"}, expr, const(step.idf[j]))
        weights.append(fields.add(f"tfidf({term})" if weighted else f"tf({term})", expr))

    if step.norm is not None:
        present = [w for w in weights if w is not None]
        if step.norm == "l2":
            terms = [E("Apply", {"function": "*"}, E("FieldRef", {"field": w}),
                       E("FieldRef", {"field": w})) for w in present]
        else:
            terms = [E("Apply", {"function": "abs"}, E("FieldRef", {"field": w}))
                     for w in present]
        # JPMML's sum is commons-math's Sum: left to right in double, as scikit-learn adds
        # a row's nonzero terms (adding the zeros changes nothing).
        total = fields.add(f"{step.norm}sum({col})",
                           E("Apply", {"function": "sum"}, *terms) if terms else const(0.0))
        ref = E("FieldRef", {"field": total})
        norm = E("Apply", {"function": "sqrt"}, ref) if step.norm == "l2" else ref
        divisor = fields.add(f"{step.norm}norm({col})", E(
            "Apply", {"function": "if"},
            E("Apply", {"function": "equal"}, E("FieldRef", {"field": total}), const(0.0)),
            const(1.0), norm))  # a row of zeros stays zeros
        weights = [None if w is None else fields.add(f"normalized({w})", E(
            "Apply", {"function": "/"}, E("FieldRef", {"field": w}),
            E("FieldRef", {"field": divisor}))) for w in weights]

    out = []
    for w in weights:
        if w is None:
            if zero is None:
                zero = fields.add("zero", const(0.0))
            w = zero
        out.append(w)
    return out


def _stop_word_removal(step: TextVectorizer, stop: frozenset) -> ET.Element | None:
    """A TextIndexNormalization deleting the tokens that are stop words before n-grams.

    Only for \\w-run patterns: a token is a maximal run of word characters, so deleting
    the runs equal to a stop word (the lookarounds make the run maximal) leaves exactly the
    other tokens, in order. Stop words that are not possible tokens never match anyway.
    """
    words = sorted((w for w in stop if re.fullmatch(step.token_pattern, w)
                    and re.fullmatch(r"\w+", w)), key=lambda w: (-len(w), w))
    if not words:
        return None
    regex = f"(?<!{WORD})(?:{'|'.join(words)})(?!{WORD})"
    row = E("row")
    for tag, text in (("string", regex), ("stem", " "), ("regex", "true")):
        ET.SubElement(row, tag).text = text
    return E("TextIndexNormalization", {"isCaseSensitive": "true"}, E("InlineTable", None, row))


def _sublinear_function(fields: Fields) -> str:
    """DefineFunction ``sublinearTf(count)``: 0 for 0, else 1 + ln(count) (scikit-learn's
    sublinear_tf), from a table of numpy's log up to LOG_TABLE."""
    table = E("InlineTable")
    counts = np.arange(LOG_TABLE + 1, dtype=np.float64)
    weights = np.zeros_like(counts)
    weights[1:] = np.log(counts[1:]) + 1.0
    for c, w in zip(range(LOG_TABLE + 1), weights.tolist()):
        row = ET.SubElement(table, "row")
        ET.SubElement(row, "count").text = str(c)
        ET.SubElement(row, "weight").text = num64(w)
    count = E("FieldRef", {"field": "count"})
    lookup = E("MapValues", {"outputColumn": "weight", "dataType": "double"},
               E("FieldColumnPair", {"field": "count", "column": "count"}), table)
    above = E("Apply", {"function": "+"}, E("Apply", {"function": "ln"}, count), const(1.0))
    expr = E("Apply", {"function": "if"},
             E("Apply", {"function": "lessOrEqual"}, E("FieldRef", {"field": "count"}),
               const(LOG_TABLE)), lookup, above)
    return fields.define("sublinearTf", [("count", "integer")], expr, "double")
