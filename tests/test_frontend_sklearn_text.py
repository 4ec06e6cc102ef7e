"""Text pipelines: Count/TfidfVectorizer with an explicit tokenizer, into the IR exactly."""

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

import portable
from portable.errors import UnsupportedFeatureError
from portable.parity import compare
from portable.source import source_predict

WORDS = "good great bad awful movie plot acting not fun boring loved hated the a it's".split()


@pytest.fixture(scope="module")
def corpus():
    rng = np.random.default_rng(0)
    docs = [" ".join(rng.choice(WORDS, rng.integers(3, 12))) for _ in range(300)]
    y = np.array([("good" in d or "loved" in d) and "not" not in d for d in docs]).astype(int)
    extra = ["", "GOOD good Movie!!", "zzz unknown words", "not not not", "It's GREAT."]
    X = np.array(docs + extra, dtype=object).reshape(-1, 1)
    return docs, y, X


def test_tfidf_into_xgboost_is_bit_exact_with_zeros_read_as_missing(corpus):
    import xgboost as xgb

    docs, y, X = corpus
    est = make_pipeline(TfidfVectorizer(token_pattern=r"(?u)\b\w+\b"),
                        xgb.XGBClassifier(n_estimators=20, max_depth=4)).fit(docs, y)
    m = portable.import_model(est)
    assert [s.kind for s in m.steps] == ["text", "zero_as_missing", "tree_ensemble"]
    assert m.signature.feature_types == ("string",)
    for stage in ("margin", "prediction"):
        r = compare(source_predict(est, m, X, output=stage), portable.evaluate(m, X, output=stage),
                    classification=True)
        assert r["max_ulp"] == 0 and r["label_flips"] == 0, (stage, r)


@pytest.mark.parametrize("vec", [
    CountVectorizer(),
    CountVectorizer(ngram_range=(1, 2), binary=True),
    TfidfVectorizer(sublinear_tf=True, stop_words=["the", "a"]),
    TfidfVectorizer(norm="l1", use_idf=False, lowercase=False),
], ids=["count", "count-bigrams-binary", "tfidf-sublinear-stop", "tfidf-l1-noidf-case"])
def test_vectorizer_into_logistic_regression_within_1e_12(corpus, vec):
    docs, y, X = corpus
    est = make_pipeline(vec, LogisticRegression(max_iter=1000)).fit(docs, y)
    m = portable.import_model(est)
    ref = est.predict_proba([str(d) for d in X[:, 0]])
    r = compare(ref, portable.evaluate(m, X), classification=True)
    assert r["max_rel"] <= 1e-12 and r["label_flips"] == 0, r


def test_custom_tokenizer_is_refused_with_what_to_do(corpus):
    docs, y, _ = corpus
    est = make_pipeline(CountVectorizer(tokenizer=str.split, token_pattern=None),
                        LogisticRegression()).fit(docs, y)
    with pytest.raises(UnsupportedFeatureError, match="token_pattern"):
        portable.import_model(est)


def test_formats_without_text_support_refuse_cleanly(corpus, tmp_path):
    from portable.converters import CONVERTERS

    docs, y, _ = corpus
    m = portable.import_model(make_pipeline(CountVectorizer(), LogisticRegression()).fit(docs, y))
    for fmt in CONVERTERS.names():
        try:
            conv = CONVERTERS.get(fmt)
        except Exception:
            continue
        if "text" in conv.supports:
            continue
        with pytest.raises(UnsupportedFeatureError, match=f"The {fmt} format cannot express text"):
            portable.convert(m, format=fmt)
