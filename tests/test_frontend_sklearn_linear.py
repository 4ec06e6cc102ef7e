"""The scikit-learn linear frontends reproduce predict / predict_proba / decision_function.

The contract is 1e-12 relative; the measured figure on this machine is 0 ULP for every
estimator (same numpy matrix kernels, same link functions), asserted separately so that a
regression to "merely close" is visible.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn import linear_model as lm
from sklearn import svm
from sklearn.neighbors import KNeighborsRegressor

import portable
from portable.errors import InputError, NotFittedError, UnsupportedModelError
from portable.frontends.sklearn import FRONTEND
from portable.parity import compare

SEED = 0
N_FEATURES = 6


def _data(n=400, seed=SEED):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, N_FEATURES)) * np.array([1, 10, 0.1, 1, 100, 1])
    y = X @ np.array([1.5, -0.2, 7.0, 0.0, 0.01, 2.0]) + 0.3 + rng.normal(size=n)
    return X, y


def _rows():
    """Held-out rows, wide-range rows and the probe helper's rows (random for linear models)."""
    rng = np.random.default_rng(SEED + 1)
    held = rng.normal(size=(300, N_FEATURES)) * np.array([1, 10, 0.1, 1, 100, 1])
    wide = rng.standard_cauchy(size=(100, N_FEATURES)) * 1e3  # large margins, saturated links
    return {"held_out": held, "wide": wide}


def _labels(y, k):
    return np.digitize(y, np.quantile(y, np.linspace(0, 1, k + 1)[1:-1]))


def _measure(ref, got):
    ref = np.asarray(ref, dtype=np.float64)
    c = compare(ref.reshape(len(ref), -1), got)
    assert "shape_mismatch" not in c, c
    return c


def _assert_exact(ref, got):
    c = _measure(ref, got)
    assert c["max_rel"] <= 1e-12, c  # the contract
    assert c["max_ulp"] == 0, c  # what is measured here: bit for bit
    assert c["label_flips"] == 0


REGRESSORS = [
    lm.LinearRegression(),
    lm.Ridge(alpha=2.0),
    lm.Lasso(alpha=0.05),
    lm.ElasticNet(alpha=0.05, l1_ratio=0.3),
    lm.SGDRegressor(random_state=SEED, max_iter=50, tol=None),
    svm.LinearSVR(random_state=SEED, max_iter=5000),
]


def _scaled(X):
    # SGD and LinearSVR need comparable feature scales to converge; the model is what it is.
    return X / np.array([1, 10, 0.1, 1, 100, 1])


@pytest.mark.parametrize("est", REGRESSORS, ids=[type(e).__name__ for e in REGRESSORS])
def test_linear_regressors_match_predict_and_margin_bit_for_bit(est):
    X, y = _data()
    needs_scale = isinstance(est, (lm.SGDRegressor, svm.LinearSVR))
    est.fit(_scaled(X) if needs_scale else X, y)
    m = portable.import_model(est)
    assert m.signature.prediction_kind == "value" and m.signature.output_names == ("prediction",)
    for X_ in list(_rows().values()) + [portable.probe_rows(m, n=200)]:
        X_ = _scaled(X_) if needs_scale else X_
        _assert_exact(est.predict(X_), portable.evaluate(m, X_))
        _assert_exact(est.predict(X_), portable.evaluate(m, X_, output="margin"))


@pytest.mark.parametrize("cls", [lm.LinearRegression, lm.Ridge])
def test_multi_target_linear_regression_has_one_output_per_target(cls):
    X, y = _data()
    est = cls().fit(X, np.column_stack([y, -y, 2 * y + 1]))
    m = portable.import_model(est)
    assert m.signature.output_names == ("prediction(0)", "prediction(1)", "prediction(2)")
    for X_ in _rows().values():
        _assert_exact(est.predict(X_), portable.evaluate(m, X_))


@pytest.mark.parametrize("k", [2, 4])
def test_logistic_regression_matches_predict_proba_and_decision_function(k):
    X, y = _data()
    est = lm.LogisticRegression(max_iter=2000).fit(_scaled(X), _labels(y, k))
    m = portable.import_model(est)
    # scikit-learn 1.9: binary predict_proba is [1 - expit(d), expit(d)]; multiclass softmax(d).
    assert m.estimator.post_transform == ("logistic" if k == 2 else "softmax")
    assert m.signature.output_names == tuple(f"probability({c})" for c in range(k))
    for X_ in _rows().values():
        X_ = _scaled(X_)
        _assert_exact(est.predict_proba(X_), portable.evaluate(m, X_))
        _assert_exact(est.decision_function(X_), portable.evaluate(m, X_, output="margin"))
        assert np.array_equal(portable.ir.labels(m, portable.evaluate(m, X_)), est.predict(X_))


def test_binary_sgd_log_loss_gives_exact_probabilities():
    X, y = _data()
    est = lm.SGDClassifier(loss="log_loss", random_state=SEED).fit(_scaled(X), _labels(y, 2))
    m = portable.import_model(est)
    assert m.signature.prediction_kind == "probability"
    for X_ in _rows().values():
        _assert_exact(est.predict_proba(_scaled(X_)), portable.evaluate(m, _scaled(X_)))


DECISION_CASES = [
    ("sgd_hinge_binary", lambda: lm.SGDClassifier(random_state=SEED), 2),
    ("sgd_hinge_multiclass", lambda: lm.SGDClassifier(random_state=SEED), 3),
    ("sgd_log_loss_multiclass", lambda: lm.SGDClassifier(loss="log_loss", random_state=SEED), 3),
    ("sgd_modified_huber_binary",
     lambda: lm.SGDClassifier(loss="modified_huber", random_state=SEED), 2),
    ("linear_svc_binary", lambda: svm.LinearSVC(random_state=SEED), 2),
    ("linear_svc_multiclass", lambda: svm.LinearSVC(random_state=SEED), 3),
]


@pytest.mark.parametrize("name,make,k", DECISION_CASES, ids=[c[0] for c in DECISION_CASES])
def test_decision_score_classifiers_match_decision_function(name, make, k):
    X, y = _data()
    est = make().fit(_scaled(X), _labels(y, k))
    m = portable.import_model(est)
    sig = m.signature
    assert sig.prediction_kind == "decision"
    assert sig.output_names == (("decision(1)",) if k == 2
                                else tuple(f"decision({c})" for c in range(k)))
    for X_ in _rows().values():
        X_ = _scaled(X_)
        _assert_exact(est.decision_function(X_), portable.evaluate(m, X_))
        assert np.array_equal(portable.ir.labels(m, portable.evaluate(m, X_)), est.predict(X_))


def test_string_class_labels_and_dataframe_names_reach_the_signature():
    X, y = _data()
    X = _scaled(X)
    df = pd.DataFrame(X, columns=[f"col_{i}" for i in range(N_FEATURES)])
    est = lm.LogisticRegression(max_iter=2000).fit(df, np.array(["cat", "dog", "emu"])[_labels(y, 3)])
    m = portable.import_model(est)
    assert m.signature.feature_names == tuple(df.columns)
    assert m.signature.classes == ("cat", "dog", "emu")
    assert m.source.library == "scikit-learn" and m.source.estimator == "LogisticRegression"
    with warnings.catch_warnings():  # "X does not have valid feature names"
        warnings.simplefilter("ignore")
        ref = est.predict_proba(np.ascontiguousarray(X))
    # Exact against scikit-learn fed a C-ordered array (see the next test for DataFrames).
    _assert_exact(ref, portable.evaluate(m, df))


def test_dataframe_input_stays_within_contract_although_blas_sees_another_layout():
    # np.asarray(DataFrame) is Fortran-ordered, and BLAS sums a Fortran-ordered product in
    # another order: scikit-learn's own results for df and for df.to_numpy(order="C")
    # differ in the last bits. The evaluator computes the C-ordered product.
    X, y = _data()
    df = pd.DataFrame(_scaled(X), columns=[f"col_{i}" for i in range(N_FEATURES)])
    est = lm.LogisticRegression(max_iter=2000).fit(df, _labels(y, 2))
    m = portable.import_model(est)
    c = _measure(est.predict_proba(df), portable.evaluate(m, df))
    assert c["max_rel"] <= 1e-12 and c["label_flips"] == 0, c


def test_every_linear_estimator_is_listed_for_portable_formats():
    for name in ("LinearRegression", "Ridge", "Lasso", "ElasticNet", "LogisticRegression",
                 "SGDRegressor", "SGDClassifier", "LinearSVR", "LinearSVC"):
        assert FRONTEND.estimators[name] == ("linear",)


# ----------------------------------------------------------------------------- refusals
@pytest.mark.parametrize("est", [KNeighborsRegressor(n_neighbors=3), svm.SVC()],
                         ids=["KNeighborsRegressor", "SVC"])
def test_unsupported_estimators_are_refused_with_the_supported_list(est):
    X, y = _data()
    est.fit(X, y if isinstance(est, KNeighborsRegressor) else _labels(y, 2))
    with pytest.raises(UnsupportedModelError) as err:
        portable.import_model(est)
    msg = str(err.value)
    assert type(est).__name__ in msg
    assert "LogisticRegression" in msg and "HistGradientBoostingClassifier" in msg


def test_unfitted_linear_model_raises_not_fitted():
    with pytest.raises(NotFittedError, match="LogisticRegression"):
        portable.import_model(lm.LogisticRegression())


def test_wrong_feature_count_at_evaluate_time_is_an_input_error():
    X, y = _data()
    m = portable.import_model(lm.Ridge().fit(X, y))
    with pytest.raises(InputError, match=f"expects {N_FEATURES}"):
        portable.evaluate(m, np.zeros((3, N_FEATURES + 1)))
