"""A ``TextVectorizer`` as ONNX operators: scikit-learn's Count/TfidfVectorizer, restated.

Per document (a ``[N, 1]`` string column)::

    Equal/Where         the runtime's missing-string marker -> ""      (evaluate: None -> "")
    StringNormalizer    LOWER, locale C.UTF-8                          (lowercase=True)
    Tokenizer           com.microsoft, RE2 ``tokenexp`` from ``_tokens.token_regex``
    TfIdfVectorizer     mode TF: counts of the vocabulary's n-grams, ``ngram_indexes`` =
                        the vocabulary's own columns
    Cast double; binary (counts != 0); sublinear tf (1 + ln c: a table of ``math.log`` for
    c <= 1024, the engine's Log above); idf (Mul); l1 / l2 norm (zero rows stay zero)

Exact: tokens (for the patterns ``token_regex`` accepts), counts, binary, sublinear tf for
counts <= 1024, idf. Not exact: the l1/l2 norm, a double sum that onnxruntime vectorises
while scikit-learn adds the row's nonzero terms left to right (a few ULP in double, which
moves a float32 feature only when it sits on a float32 rounding boundary). Lowercasing is
onnxruntime's ``towlower`` per code point where Python's ``str.lower`` also maps a few
characters to two (``İ``) or by context (final ``Σ`` -> ``ς``); ``tests/test_onnx_text.py``
measures the difference over every code point.

Refused (``UnsupportedFeatureError``): token patterns without an RE2 equivalent; stop words
together with n-grams (ONNX cannot drop tokens inside a row before pairing them); n-grams
over a pattern whose tokens may hold spaces (the vocabulary's terms could not be split).
"""

from __future__ import annotations

import math

import numpy as np
from onnx import TensorProto, numpy_helper

from ..errors import UnsupportedFeatureError
from ..ir import TextVectorizer
from ._tokens import WORD, token_regex

# Counts up to this use a table of Python's math.log (what scikit-learn computes with).
LOG_TABLE = 1024
# A text graph needs string Equal (ai.onnx 19+); the other ops are unchanged from 18.
TEXT_OPSET = 20
MICROSOFT = "com.microsoft"


def text_features(g, step: TextVectorizer, doc: str) -> str:
    """Lower ``step`` over the ``[N, 1]`` string tensor ``doc``; returns ``[N, V]`` double."""
    from ._onnx_graph import MISSING_STRING

    try:
        pattern = token_regex(step.token_pattern, target="ONNX")
    except UnsupportedFeatureError as e:
        raise UnsupportedFeatureError(
            f"{e} Or convert the trained pipeline with --engine skl2onnx (its own tokenizer; "
            "the export's parity check shows where it differs).") from None
    lo, hi = step.ngram_range
    if step.stop_words and hi > 1:
        raise UnsupportedFeatureError(
            "ONNX cannot remove stop words before building word n-grams (ngram_range "
            f"{step.ngram_range}); use ngram_range=(1, 1), drop stop_words, or export with "
            "--format python / pmml.")
    if hi > 1 and not pattern.startswith(WORD):
        raise UnsupportedFeatureError(
            f"ONNX n-grams need word tokens; the token_pattern {step.token_pattern!r} may "
            "produce tokens holding spaces, so the vocabulary's n-grams cannot be split.")
    n_terms = len(step.vocabulary)
    flat = g.op("Reshape", [doc, g.const([-1], "flat", np.int64)], "docs")
    missing = g.op("Equal", [flat, g.const(np.asarray(MISSING_STRING, dtype=object), "missing")],
                   "no_doc")
    flat = g.op("Where", [missing, g.const(np.asarray("", dtype=object), "empty"), flat], "docs")
    if step.lowercase:
        flat = g.op("StringNormalizer", [flat], "lower", case_change_action="LOWER",
                    is_case_sensitive=1, locale="C.UTF-8")
    tokens = g.op("Tokenizer", [flat], "tokens", domain=MICROSOFT, mark=0, mincharnum=1,
                  pad_value="", tokenexp=pattern)
    counts = _counts(g, step, flat, tokens, n_terms, lo, hi)
    x = g.cast(counts, "float32", "float64")
    nonzero = g.op("Not", [g.op("Equal", [x, g.const(np.float64(0.0), "zero")], "absent")],
                   "present")
    if step.binary:
        x = g.op("Cast", [nonzero], "binary", to=TensorProto.DOUBLE)
    if step.sublinear_tf:
        x = _sublinear(g, x, nonzero)
    if step.idf is not None:
        x = g.op("Mul", [x, g.const(np.asarray(step.idf, np.float64), "idf")], "tfidf")
    if step.norm is not None:
        axis = g.const([1], "axis", np.int64)
        reduce = "ReduceL2" if step.norm == "l2" else "ReduceL1"
        norm = g.op(reduce, [x, axis], "norm", keepdims=1)
        empty = g.op("Equal", [norm, g.const(np.float64(0.0), "zero")], "empty_row")
        norm = g.op("Where", [empty, g.const(np.float64(1.0), "one"), norm], "norm")
        x = g.op("Div", [x, norm], "normalized")
    return x


def _counts(g, step: TextVectorizer, docs: str, tokens: str, n_terms: int, lo: int,
            hi: int) -> str:
    """``[N, n_terms]`` float counts: one TfIdfVectorizer over the vocabulary's n-grams."""
    stop = set(step.stop_words)
    by_n: dict[int, list[tuple[int, list[str]]]] = {}
    for j, term in enumerate(step.vocabulary):
        parts = term.split(" ") if hi > 1 else [term]
        n = len(parts)
        # A term that can never be produced (wrong n, a stop word, an empty part) keeps a
        # zero column, as in scikit-learn.
        if lo <= n <= hi and all(parts) and not (stop and term in stop):
            by_n.setdefault(n, []).append((j, parts))
    if not by_n:  # no term can ever be counted: [N, n_terms] zeros
        shape = g.op("Concat", [g.op("Shape", [docs], "n_docs"),
                                g.const([n_terms], "n_terms", np.int64)], "shape", axis=0)
        return g.op("ConstantOfShape", [shape], "counts",
                    value=numpy_helper.from_array(np.zeros(1, np.float32)))
    pool, counts, indexes = [], [], []
    for n in range(1, max(by_n) + 1):
        counts.append(len(pool))
        for j, parts in by_n.get(n, []):
            pool.extend(parts)
            indexes.append(j)
    tf = g.op("TfIdfVectorizer", [tokens], "counts", mode="TF", min_gram_length=min(by_n),
              max_gram_length=max(by_n), max_skip_count=0, ngram_counts=counts,
              ngram_indexes=indexes, pool_strings=pool)
    width = max(indexes) + 1
    if width < n_terms:  # the op is as wide as its largest index: pad the unused columns
        tf = g.op("Pad", [tf, g.const([0, 0, 0, n_terms - width], "pads", np.int64)], "counts")
    return tf


def _sublinear(g, x: str, nonzero: str) -> str:
    """``1 + ln(c)`` for nonzero counts: Python's ``math.log`` from a table, exact."""
    table = np.array([0.0] + [1.0 + math.log(c) for c in range(1, LOG_TABLE + 1)], np.float64)
    small = g.op("LessOrEqual", [x, g.const(np.float64(LOG_TABLE), "table_end")], "small")
    index = g.op("Cast", [g.op("Where", [small, x, g.const(np.float64(0.0), "zero")], "idx")],
                 "idx", to=TensorProto.INT64)
    looked_up = g.op("Gather", [g.const(table, "log_table"), index], "log_tf", axis=0)
    computed = g.op("Add", [g.op("Log", [x], "ln"), g.const(np.float64(1.0), "one")], "log_tf")
    x = g.op("Where", [small, looked_up, computed], "sublinear")
    return g.op("Where", [nonzero, x, g.const(np.float64(0.0), "zero")], "sublinear")
