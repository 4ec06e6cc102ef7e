"""CountVectorizer and TfidfVectorizer -> ``ir.TextVectorizer`` (word analyzer only).

The tokenizer is made explicit: scikit-learn's default analyzer lowercases, finds all
matches of ``token_pattern`` with Python's ``re``, drops stop words and adds word n-grams.
Custom ``preprocessor`` / ``tokenizer`` / ``analyzer`` callables, accent stripping and char
n-grams are code the IR cannot hold, and are refused.
"""

from __future__ import annotations

import numpy as np

from ...ir import TextVectorizer
from ._common import class_name, ensure_fitted, unsupported_setting

VECTORIZERS = ("CountVectorizer", "TfidfVectorizer")


def import_vectorizer(est) -> TextVectorizer:
    """A fitted Count/TfidfVectorizer as an IR TextVectorizer."""
    ensure_fitted(est)
    if est.analyzer != "word":
        raise unsupported_setting(est, f"analyzer={est.analyzer!r}",
                                  "only the word analyzer has an explicit tokenizer; use "
                                  "analyzer='word'.")
    for attr in ("preprocessor", "tokenizer"):
        if getattr(est, attr) is not None:
            raise unsupported_setting(est, f"a custom {attr}",
                                      "the IR holds the tokenizer as a regex; set "
                                      "token_pattern instead and refit.")
    if est.strip_accents is not None:
        raise unsupported_setting(est, f"strip_accents={est.strip_accents!r}",
                                  "refit with strip_accents=None (normalise text upstream).")
    if est.input != "content":
        raise unsupported_setting(est, f"input={est.input!r}", "refit with input='content'.")
    vocab = [None] * len(est.vocabulary_)
    for term, j in est.vocabulary_.items():
        vocab[int(j)] = str(term)
    stop = est.get_stop_words()
    tfidf = class_name(est) == "TfidfVectorizer"
    idf = None
    if tfidf and est.use_idf:
        idf = np.asarray(est.idf_, dtype=np.float64).copy()
    return TextVectorizer(
        vocabulary=tuple(vocab),
        token_pattern=est.token_pattern,
        lowercase=bool(est.lowercase),
        ngram_range=tuple(int(v) for v in est.ngram_range),
        stop_words=tuple(sorted(stop)) if stop else (),
        binary=bool(est.binary),
        sublinear_tf=bool(tfidf and est.sublinear_tf),
        idf=idf,
        norm=est.norm if tfidf else None,
    )
