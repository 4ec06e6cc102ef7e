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
