"""The scikit-learn tree frontends reproduce predict / predict_proba / raw scores bit for bit.

Every figure is measured against the fitted scikit-learn estimator itself on held-out rows,
rows with NaN (where scikit-learn accepts them) and threshold-probe rows (at and one ULP
around every split threshold, in the dtype the estimator compares in).
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn import ensemble, tree

import portable
from portable.errors import InputError, NotFittedError, UnsupportedFeatureError
from portable.frontends.sklearn import FRONTEND
from portable.parity import compare

SEED = 0


# ----------------------------------------------------------------------------- data & helpers
def _data(n=300, d=5, seed=SEED, nan_rate=0.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = X[:, 0] + np.sin(2 * X[:, 1]) + 0.5 * X[:, 2] * X[:, 3] + 0.1 * rng.normal(size=n)
    if nan_rate:
        X[rng.random(X.shape) < nan_rate] = np.nan
    return X, y


def _held_out(d=5, seed=SEED + 1):
    return np.random.default_rng(seed).normal(size=(200, d)) * 1.2


def _with_nan(d=5, seed=SEED + 2):
    X = _held_out(d, seed)
    X[np.random.default_rng(seed).random(X.shape) < 0.25] = np.nan
    X[0] = np.nan  # a row with every feature missing
    return X


def _labels(y, k):
    return np.digitize(y, np.quantile(y, np.linspace(0, 1, k + 1)[1:-1]))


def _ulp(ref, got):
    """Max float64 ULP distance after checking shapes (a 1-D sklearn output is one column)."""
    ref = np.asarray(ref, dtype=np.float64)
    ref = ref.reshape(len(ref), -1)
    c = compare(ref, got)
    assert "shape_mismatch" not in c, c
    return c["max_ulp"]


def _probe_coverage(model, P):
    """Share of split (feature, threshold) pairs with probe values on both sides, one ULP apart
    in the estimator's input dtype."""
    ens = model.estimator
    f32 = ens.input_dtype == "float32"
    Z = np.asarray(P, dtype=np.float64)
    if f32:
        Z = Z.astype(np.float32).astype(np.float64)
    hit = total = 0
    pairs = {(int(f), float(t)) for t in ens.trees
             for f, t in zip(t.feature[t.left != -1], t.threshold[t.left != -1])}
    for f, t in pairs:
        if not np.isfinite(t):  # "missing vs all values" splits sit at +inf: nothing above
            continue
        col = Z[:, f]
        below = col[col <= t]
        above = col[col > t]
        total += 1
        if below.size and above.size:
            lo, hi = below.max(), above.min()
            step = (np.nextafter(np.float32(lo), np.float32(np.inf)) if f32
                    else np.nextafter(lo, np.inf))
            hit += float(step) == hi
    return hit / total


def _probes(model, n=4000, nan=True):
    """Threshold probes that scikit-learn accepts: it refuses values that overflow float32
    (probes around a +inf threshold, the split between missing and every present value)."""
    P = portable.probe_rows(model, n=n, nan=nan)
    with np.errstate(over="ignore"):
        finite = np.isfinite(P.astype(np.float32)) | np.isnan(P)
    return P[finite.all(axis=1)]


def _check_all_rows(est, model, predict, margin, rows):
    """Max ULP of prediction and margin over each kind of rows."""
    out = {}
    for kind, X in rows.items():
        out[kind] = (_ulp(predict(X), portable.evaluate(model, X)),
                     _ulp(margin(X), portable.evaluate(model, X, output="margin")))
    return out


# ----------------------------------------------------------------------------- single trees, forests
TREE_REGRESSORS = [
    tree.DecisionTreeRegressor(max_depth=8, random_state=SEED),
    tree.ExtraTreeRegressor(max_depth=8, random_state=SEED),
    ensemble.RandomForestRegressor(n_estimators=12, max_depth=6, random_state=SEED),
    ensemble.ExtraTreesRegressor(n_estimators=12, max_depth=6, random_state=SEED),
]
TREE_CLASSIFIERS = [
    tree.DecisionTreeClassifier(max_depth=8, random_state=SEED),
    tree.ExtraTreeClassifier(max_depth=8, random_state=SEED),
    ensemble.RandomForestClassifier(n_estimators=12, max_depth=6, random_state=SEED),
    ensemble.ExtraTreesClassifier(n_estimators=12, max_depth=6, random_state=SEED),
]


def _ids(ests):
    return [type(e).__name__ for e in ests]


@pytest.mark.parametrize("est", TREE_REGRESSORS, ids=_ids(TREE_REGRESSORS))
def test_tree_regressors_match_predict_bit_for_bit_on_held_out_nan_and_probe_rows(est):
    X, y = _data(nan_rate=0.1)  # trained with NaN, so missing_go_to_left is learned
    est.fit(X, y)
    m = portable.import_model(est)
    assert m.estimator.input_dtype == "float32" and m.estimator.split_op == "<="
    rows = {"held_out": _held_out(), "nan": _with_nan(), "probe": _probes(m)}
    assert _probe_coverage(m, rows["probe"]) >= 0.99
    res = _check_all_rows(est, m, est.predict, est.predict, rows)
    assert res == {k: (0.0, 0.0) for k in rows}, res


@pytest.mark.parametrize("est", TREE_CLASSIFIERS, ids=_ids(TREE_CLASSIFIERS))
@pytest.mark.parametrize("n_classes", [2, 3])
def test_tree_classifiers_match_predict_proba_bit_for_bit(est, n_classes):
    X, y = _data(nan_rate=0.1)
    est.fit(X, _labels(y, n_classes))
    m = portable.import_model(est)
    assert m.signature.output_names == tuple(f"probability({c})" for c in range(n_classes))
    rows = {"held_out": _held_out(), "nan": _with_nan(), "probe": _probes(m)}
    res = _check_all_rows(est, m, est.predict_proba, est.predict_proba, rows)
    assert res == {k: (0.0, 0.0) for k in rows}, res
    assert np.array_equal(portable.ir.labels(m, portable.evaluate(m, rows["nan"])),
                          est.predict(rows["nan"]))


@pytest.mark.parametrize("cls", [tree.DecisionTreeRegressor, ensemble.RandomForestRegressor,
                                 ensemble.ExtraTreesRegressor])
def test_multi_output_regression_trees_match_every_target_column(cls):
    X, y = _data(nan_rate=0.05)
    Y = np.column_stack([y, -2 * y, np.cos(y)])
    kw = {"n_estimators": 6} if cls is not tree.DecisionTreeRegressor else {}
    est = cls(max_depth=6, random_state=SEED, **kw).fit(X, Y)
    m = portable.import_model(est)
    assert m.signature.output_names == ("prediction(0)", "prediction(1)", "prediction(2)")
    for X_ in (_held_out(), _with_nan(), _probes(m, n=2000)):
        assert _ulp(est.predict(X_), portable.evaluate(m, X_)) == 0


def test_a_299_level_tree_imports_and_evaluates_without_recursion():
    # y growing geometrically along x makes every best split peel off the largest point.
    n = 300
    X = np.arange(n, dtype=np.float64).reshape(-1, 1)
    y = np.exp2(1.5 * np.arange(n))
    est = tree.DecisionTreeRegressor(random_state=SEED).fit(X, y)
    assert est.get_depth() == n - 1
    m = portable.import_model(est)
    P = _probes(m, n=3000, nan=False)
    assert _ulp(est.predict(P), portable.evaluate(m, P)) == 0


# ----------------------------------------------------------------------------- boosting
def _gb_raw(est, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est._raw_predict(np.ascontiguousarray(X, dtype=np.float32))


GB_CASES = [
    ("regressor_squared_error", ensemble.GradientBoostingRegressor, {}, None),
    ("regressor_huber", ensemble.GradientBoostingRegressor, {"loss": "huber"}, None),
    ("classifier_binary", ensemble.GradientBoostingClassifier, {}, 2),
    ("classifier_multiclass", ensemble.GradientBoostingClassifier, {}, 3),
    ("classifier_init_zero", ensemble.GradientBoostingClassifier, {"init": "zero"}, 3),
]


@pytest.mark.parametrize("name,cls,kw,k", GB_CASES, ids=[c[0] for c in GB_CASES])
def test_gradient_boosting_matches_predictions_and_raw_scores_bit_for_bit(name, cls, kw, k):
    X, y = _data()
    est = cls(n_estimators=25, max_depth=3, learning_rate=0.3, random_state=SEED, **kw)
    est.fit(X, y if k is None else _labels(y, k))
    m = portable.import_model(est)
    predict = est.predict if k is None else est.predict_proba
    rows = {"held_out": _held_out(), "probe": _probes(m, nan=False)}
    assert _probe_coverage(m, rows["probe"]) >= 0.99
    res = _check_all_rows(est, m, predict, lambda X_: _gb_raw(est, X_), rows)
    assert res == {k_: (0.0, 0.0) for k_ in rows}, res


def test_gradient_boosting_exponential_loss_is_exact_with_a_doubled_margin():
    X, y = _data()
    est = ensemble.GradientBoostingClassifier(loss="exponential", n_estimators=20,
                                              random_state=SEED).fit(X, _labels(y, 2))
    m = portable.import_model(est)
    assert m.estimator.post_transform == "logistic"
    X_ = np.vstack([_held_out(), _probes(m, n=2000, nan=False)])
    assert _ulp(est.predict_proba(X_), portable.evaluate(m, X_)) == 0
    assert _ulp(2 * est.decision_function(X_), portable.evaluate(m, X_, output="margin")) == 0


HGB_CASES = [
    ("regressor_squared_error", ensemble.HistGradientBoostingRegressor, {}, None),
    ("regressor_poisson", ensemble.HistGradientBoostingRegressor, {"loss": "poisson"}, None),
    ("classifier_binary", ensemble.HistGradientBoostingClassifier, {}, 2),
    ("classifier_multiclass", ensemble.HistGradientBoostingClassifier, {}, 3),
]


@pytest.mark.parametrize("name,cls,kw,k", HGB_CASES, ids=[c[0] for c in HGB_CASES])
def test_hist_gradient_boosting_matches_bit_for_bit_including_missing_values(name, cls, kw, k):
    X, y = _data(nan_rate=0.15)
    target = np.exp(y / 3) if name.endswith("poisson") else (y if k is None else _labels(y, k))
    est = cls(max_iter=20, max_leaf_nodes=15, random_state=SEED, **kw).fit(X, target)
    m = portable.import_model(est)
    assert m.estimator.input_dtype == "float64"
    predict = est.predict if k is None else est.predict_proba
    rows = {"held_out": _held_out(), "nan": _with_nan(), "probe": _probes(m)}
    assert _probe_coverage(m, rows["probe"]) >= 0.99
    res = _check_all_rows(est, m, predict, est._raw_predict, rows)
    assert res == {k_: (0.0, 0.0) for k_ in rows}, res


def test_hist_gradient_boosting_with_many_classes_has_exact_margins_and_close_probabilities():
    # HistGradientBoosting keeps raw scores Fortran-ordered, so softmax's row sum runs column
    # by column; numpy sums a C-ordered row pairwise once it has 8+ entries. The margins are
    # exact; the probabilities differ by a few ULP (the IR has no field for a summation order).
    X, y = _data()
    est = ensemble.HistGradientBoostingClassifier(max_iter=10, random_state=SEED)
    est.fit(X, _labels(y, 10))
    m = portable.import_model(est)
    X_ = _held_out()
    assert _ulp(est._raw_predict(X_), portable.evaluate(m, X_, output="margin")) == 0
    c = compare(est.predict_proba(X_), portable.evaluate(m, X_))
    assert c["max_rel"] <= 1e-12 and c["label_flips"] == 0, c


# ----------------------------------------------------------------------------- signature, source
def test_signature_takes_dataframe_column_names_classes_and_source():
    X, y = _data()
    df = pd.DataFrame(X, columns=["age", "income", "height", "weight", "score"])
    est = ensemble.RandomForestClassifier(n_estimators=3, random_state=SEED)
    est.fit(df, np.where(y > 0, "yes", "no"))
    m = portable.import_model(est)
    sig = m.signature
    assert sig.feature_names == ("age", "income", "height", "weight", "score")
    assert sig.feature_types == ("float64",) * 5
    assert sig.classes == ("no", "yes") and sig.task == "classification"
    assert sig.output_names == ("probability(no)", "probability(yes)")
    assert (m.source.library, m.source.estimator) == ("scikit-learn", "RandomForestClassifier")
    # A DataFrame in another column order is matched by name.
    shuffled = df[list(reversed(df.columns))]
    assert _ulp(est.predict_proba(df), portable.evaluate(m, shuffled)) == 0


def test_unnamed_inputs_are_called_f0_f1_like_the_xgboost_frontend():
    X, y = _data()
    m = portable.import_model(tree.DecisionTreeRegressor(max_depth=2).fit(X, y))
    assert m.signature.feature_names == ("f0", "f1", "f2", "f3", "f4")


def test_every_tree_estimator_is_listed_for_portable_formats():
    for name in ("DecisionTreeRegressor", "ExtraTreesClassifier", "GradientBoostingRegressor",
                 "HistGradientBoostingClassifier"):
        assert FRONTEND.estimators[name] == ("tree_ensemble",)
    assert FRONTEND.accepts(tree.DecisionTreeRegressor())
    assert not FRONTEND.accepts(np.zeros(1))


# ----------------------------------------------------------------------------- refusals
def test_unfitted_tree_raises_not_fitted():
    with pytest.raises(NotFittedError, match="fit"):
        portable.import_model(ensemble.RandomForestRegressor())


def test_multi_output_classifier_is_refused_with_what_to_do():
    X, y = _data()
    est = tree.DecisionTreeClassifier(max_depth=2).fit(X, np.column_stack([y > 0, y > 1]))
    with pytest.raises(UnsupportedFeatureError, match="one classifier per target"):
        portable.import_model(est)


def test_hist_gradient_boosting_categorical_splits_are_refused():
    rng = np.random.default_rng(SEED)
    X = np.column_stack([rng.integers(0, 5, 300), rng.normal(size=300)]).astype(float)
    est = ensemble.HistGradientBoostingRegressor(max_iter=5, categorical_features=[0])
    est.fit(X, X[:, 0] % 2 + X[:, 1])
    with pytest.raises(UnsupportedFeatureError, match="OneHotEncoder"):
        portable.import_model(est)


def test_gradient_boosting_with_a_non_constant_init_estimator_is_refused():
    X, y = _data()
    est = ensemble.GradientBoostingRegressor(
        n_estimators=3, init=tree.DecisionTreeRegressor(max_depth=2)).fit(X, y)
    with pytest.raises(UnsupportedFeatureError, match="constant initial prediction"):
        portable.import_model(est)


def test_wrong_feature_count_at_evaluate_time_is_an_input_error():
    X, y = _data()
    m = portable.import_model(tree.DecisionTreeRegressor(max_depth=3).fit(X, y))
    with pytest.raises(InputError, match="expects 5"):
        portable.evaluate(m, X[:, :4])
