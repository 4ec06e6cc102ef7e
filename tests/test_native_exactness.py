"""Native code in every language reproduces ``portable.evaluate``: tree margins bit for bit
(0 ULP) on threshold-probe, NaN and random rows; predictions within the evaluator's bounds.

Bounds: tree identity outputs exact; XGBoost's float32 links 4 float32 ULP (each language's
``exp`` rounded once vs glibc's ``expf``); float64 links 1e-12 relative; linear models
``1e-12 * (|b| + sum |w x|)`` since numpy's BLAS sums dot products in its own order.
"""

from __future__ import annotations

import numpy as np
import pytest

import portable
from portable.ir.evaluate import apply_transform
from portable.parity import ulp_distance
from portable.runtimes import RUNTIMES

from test_native_models import MODEL_NAMES, model, rows

LANGUAGES = {"c": "gcc", "python": "cpython", "java": "jvm", "javascript": "node"}
ROW_KINDS = ("probe", "nan", "random")


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    """(language, model name) -> session; every session is closed at the end."""
    opened = {}

    def get(lang, name):
        why = RUNTIMES.get(LANGUAGES[lang]).available()
        if why:
            pytest.skip(why)
        if (lang, name) not in opened:
            out = tmp_path_factory.mktemp(f"{lang}-{name}")
            art = portable.api.convert(model(name), format=lang).save(out / "a", check=False)
            opened[(lang, name)] = portable.load(art.path)
        return opened[(lang, name)]
    yield get
    for s in opened.values():
        s.close()


def _linear_bound(m, X):
    Z = X
    for step in m.transforms:
        Z = apply_transform(step, Z)
    est = m.estimator
    return 1e-12 * (np.abs(est.intercept) + np.abs(np.asarray(Z, float)) @ np.abs(est.coef).T)


def _within(got, ref, tol) -> bool:
    """Equal, both NaN, or within ``tol`` (elementwise, all of them)."""
    with np.errstate(invalid="ignore"):
        ok = (got == ref) | (np.isnan(got) & np.isnan(ref)) | (np.abs(got - ref) <= tol)
    return bool(np.all(ok))


def _check(m, X, session):
    ref_m = portable.evaluate(m, X, output="margin")
    got_m = session.predict(X, output="margin")
    ref_p = portable.evaluate(m, X)
    got_p = session.predict(X)
    assert got_m.dtype == ref_m.dtype and got_p.dtype == ref_p.dtype
    assert got_m.shape == ref_m.shape and got_p.shape == ref_p.shape
    est = m.estimator
    if est.kind == "linear":
        bound = _linear_bound(m, X)
        assert _within(got_m, ref_m, bound)
        scale = np.maximum(1.0, np.abs(ref_p)) * bound.max(axis=1, keepdims=True)
        assert _within(got_p, ref_p, scale + 1e-12 * np.abs(ref_p))
        return
    assert ulp_distance(ref_m, got_m, ref_m.dtype).max() == 0  # bit for bit
    if est.post_transform == "identity":
        assert ulp_distance(ref_p, got_p, ref_p.dtype).max() == 0
    elif ref_p.dtype == np.float32:
        assert ulp_distance(ref_p, got_p, np.float32).max() <= 4
    else:
        assert _within(got_p, ref_p, 1e-12 * np.abs(ref_p))


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_native_code_matches_the_reference_margin_bit_for_bit_on_probe_nan_and_random_rows(
        sessions, lang, name):
    m = model(name)
    session = sessions(lang, name)
    for kind in ROW_KINDS:
        _check(m, rows(name, kind), session)


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_c_python_java_js_match_xgboost_margin_bit_for_bit_at_thresholds(sessions, lang):
    # Against XGBoost itself, not only the reference: rows at and 1 ULP around every split.
    from test_native_models import estimator
    est = estimator("xgb_binary")
    X = rows("xgb_binary", "probe")
    src = est.get_booster().inplace_predict(X.astype(np.float32), predict_type="margin")
    got = sessions(lang, "xgb_binary").predict(X, output="margin")[:, 0]
    assert ulp_distance(src, got, np.float32).max() == 0


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_sessions_accept_one_row_frames_and_empty_batches(sessions, lang):
    name = "onehot_strings_forest"
    m, s = model(name), sessions(lang, name)
    X = rows(name, "random")
    import pandas as pd
    df = pd.DataFrame(X, columns=m.signature.feature_names)
    assert np.array_equal(s.predict(df.iloc[:1]), portable.evaluate(m, df.iloc[:1]))
    assert s.predict(X[:0]).shape == (0, len(m.signature.output_names))


@pytest.mark.parametrize("threshold, op, missing_left", [
    (np.inf, "<=", False),   # C cannot use its NaN -> +inf copy here: the tree walks "general"
    (np.inf, "<", False), (-np.inf, "<", True), (-np.inf, "<=", False), (0.0, "<=", False)])
@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_infinite_thresholds_route_missing_and_infinite_values_like_the_reference(
        sessions, tmp_path, lang, threshold, op, missing_left):
    from _ir_factory import stump
    if RUNTIMES.get(LANGUAGES[lang]).available():
        pytest.skip(RUNTIMES.get(LANGUAGES[lang]).available())
    m = stump(threshold, dtype="float64", op=op, default_left=missing_left)
    s = portable.load(portable.convert(m, format=lang).save(tmp_path / "a", check=False).path)
    try:
        X = np.array([[v, 0.0] for v in (np.nan, -np.inf, np.inf, 0.0, -1e308, 1e308, 5e-324)])
        ref = portable.evaluate(m, X, output="margin")
        assert np.array_equal(s.predict(X, output="margin"), ref)
    finally:
        s.close()


@pytest.mark.parametrize("name", ["xgb_multi", "random_forest", "decision_tree_deep"])
def test_c_single_row_path_equals_the_batch_path_row_by_row(sessions, name):
    # One row walks four trees side by side (walk4); a batch walks level by level.
    s, m = sessions("c", name), model(name)
    X = rows(name, "nan")
    batch = s.predict(X, output="margin")
    assert all(np.array_equal(s.predict(X[i:i + 1], output="margin"), batch[i:i + 1])
               for i in range(len(X)))
    assert np.array_equal(batch, portable.evaluate(m, X, output="margin"))


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_a_depth_300_tree_is_split_into_functions_and_runs_in_every_language(tmp_path, lang):
    # Python refuses 100 nested blocks, javac and V8 recurse on nesting: deep trees must be
    # cut into several functions (printer.split_units); C walks a children table.
    from _ir_factory import chain_tree
    if RUNTIMES.get(LANGUAGES[lang]).available():
        pytest.skip(RUNTIMES.get(LANGUAGES[lang]).available())
    m = chain_tree(300)
    s = portable.load(portable.convert(m, format=lang).save(tmp_path / "a", check=False).path)
    try:
        X = np.concatenate([np.arange(-1, 302, dtype=np.float64), [np.nan]]).reshape(-1, 1)
        assert np.array_equal(s.predict(X), portable.evaluate(m, X))
    finally:
        s.close()


def test_python_reproduces_tfidf_pipelines_and_c_refuses_them(tmp_path):
    # Python's own re is the vectorizer's tokenizer: the text step ports exactly.
    import xgboost as xgb
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline

    from portable.errors import UnsupportedFeatureError
    rng = np.random.default_rng(0)
    words = ["good", "bad", "great", "awful", "movie", "Plot", "\u00fcn\u00efcode", "the", "not"]
    docs = [" ".join(rng.choice(words, rng.integers(0, 12))) for _ in range(300)]
    y = np.array([("good" in d or "great" in d) for d in docs]).astype(int)
    est = make_pipeline(TfidfVectorizer(ngram_range=(1, 2)),
                        xgb.XGBClassifier(n_estimators=20, max_depth=3)).fit(docs, y)
    m = portable.import_model(est)
    s = portable.load(portable.convert(m, format="python").save(tmp_path / "a", check=False).path)
    X = np.array([[d] for d in docs + ["", None, "unseen words", "GOOD movie, not bad!"]],
                 dtype=object)
    ref = portable.evaluate(m, X, output="margin")
    assert ulp_distance(ref, s.predict(X, output="margin"), np.float32).max() == 0
    assert np.array_equal(s.predict(X), portable.evaluate(m, X))
    assert np.array_equal(est.predict_proba(X[:, 0].tolist()[:300]).astype(np.float32)[:, 1],
                          s.predict(X[:300])[:, 1])
    for lang in ("c",):
        with pytest.raises(UnsupportedFeatureError, match="text"):
            portable.convert(m, format=lang)
