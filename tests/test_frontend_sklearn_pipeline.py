"""Preprocessing, ColumnTransformer and Pipeline imports reproduce scikit-learn exactly.

Transforms are compared on their own (IR step vs ``transform``) and inside pipelines ending
in a tree (bit for bit, also on probe rows whose *transformed* value sits at and one float32
ULP around each split threshold) or a linear model.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn import linear_model as lm
from sklearn import tree
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    MaxAbsScaler,
    MinMaxScaler,
    OneHotEncoder,
    PolynomialFeatures,
    RobustScaler,
    StandardScaler,
)

import portable
from portable.errors import InputError, NotFittedError, UnsupportedFeatureError, UnsupportedModelError
from portable.ir.evaluate import apply_transform, prepare_input
from portable.parity import compare

SEED = 0


# ----------------------------------------------------------------------------- data & helpers
def _numeric(n=300, d=4, seed=SEED, nan_rate=0.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * np.array([1.0, 30.0, 0.01, 5.0])[:d] + np.array([0, 100, 0, -3])[:d]
    y = (X[:, 0] > 0) ^ (X[:, 1] > 100)
    if nan_rate:
        X[rng.random(X.shape) < nan_rate] = np.nan
    return X, y.astype(int)


def _frame(n=400, seed=SEED):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "age": rng.normal(40, 12, n),
        "city": rng.choice(["paris", "oslo", "lima"], n),
        "income": rng.lognormal(10, 1, n),
        "rooms": rng.integers(1, 5, n).astype(float),
        "noise": rng.normal(size=n),
    })
    df.loc[rng.random(n) < 0.1, "age"] = np.nan
    y = ((df["age"].fillna(40) > 38) ^ (df["city"] == "oslo")).astype(int)
    return df, y


def _ulp(ref, got):
    ref = np.asarray(ref, dtype=np.float64)
    c = compare(ref.reshape(len(ref), -1), np.asarray(got, dtype=np.float64))
    assert "shape_mismatch" not in c, c
    return c["max_ulp"]


def _transformed(model, X):
    Z = prepare_input(model.signature, X)
    for step in model.transforms:
        Z = apply_transform(step, Z)
    return np.asarray(Z, dtype=np.float64)


def _probe_coverage(model, P):
    """Share of finite split thresholds that the probes straddle as tightly as possible.

    float32 estimators: transformed values one float32 ULP apart on either side. float64
    estimators behind a scaler: one raw double may move the transformed value by more than
    one ULP, so the probes are the adjacent raw doubles where the decision flips; accept a
    gap of 1e-12 relative. One-hot columns can only be 0 or 1: both must appear.
    """
    ens = model.estimator
    Z = _transformed(model, P)
    f32 = ens.input_dtype == "float32"
    if f32:
        Z = Z.astype(np.float32).astype(np.float64)
    pairs = {(int(f), float(t)) for t in ens.trees
             for f, t in zip(t.feature[t.left != -1], t.threshold[t.left != -1]) if np.isfinite(t)}
    hit = 0
    for f, t in pairs:
        col = Z[:, f][~np.isnan(Z[:, f])]
        below, above = col[col <= t], col[col > t]
        if not (below.size and above.size):
            continue
        lo, hi = below.max(), above.min()
        if set(np.unique(col)) <= {0.0, 1.0}:
            hit += 1
        elif f32:
            hit += float(np.nextafter(np.float32(lo), np.float32(np.inf))) == hi
        else:
            hit += (hi - lo) <= 1e-12 * max(1.0, abs(t))
    return hit / len(pairs)


def _accepted(P):
    """Probe rows scikit-learn accepts: no infinities, nothing that overflows float32 (the
    probes around a +inf "missing vs present" threshold)."""
    num = np.array([[isinstance(v, (float, np.floating)) for v in row] for row in P])
    vals = np.where(num, P, 0.0).astype(np.float64)
    with np.errstate(over="ignore"):
        ok = np.isnan(vals) | np.isfinite(vals.astype(np.float32))
    return P[ok.all(axis=1)]


def _as_frame(P, model):
    df = pd.DataFrame(P, columns=model.signature.feature_names)
    for name, t in zip(model.signature.feature_names, model.signature.feature_types):
        if t != "string":
            df[name] = df[name].astype(np.float64)
    return df


# ----------------------------------------------------------------------------- scalers
SCALERS = [
    StandardScaler(), StandardScaler(with_mean=False), StandardScaler(with_std=False),
    MinMaxScaler(), MinMaxScaler(feature_range=(-2, 3), clip=True),
    MaxAbsScaler(), MaxAbsScaler(clip=True),
    RobustScaler(), RobustScaler(with_centering=False, quantile_range=(10, 90)),
]


@pytest.mark.parametrize("scaler", SCALERS, ids=[repr(s) for s in SCALERS])
def test_each_scaler_transforms_bit_for_bit_and_pipelines_match_on_probe_rows(scaler):
    # Fitted without NaN (no "missing vs present" splits at +inf); NaN rows still pass
    # through the scaler and follow missing_go_to_left.
    X, y = _numeric()
    pipe = make_pipeline(scaler, tree.DecisionTreeClassifier(max_depth=6, random_state=SEED))
    pipe.fit(X, y)
    m = portable.import_model(pipe)
    X_new, _ = _numeric(seed=SEED + 1, nan_rate=0.1)
    X_new[:5] *= 50  # outside the training range: MinMaxScaler / MaxAbsScaler clip here
    assert _ulp(pipe[0].transform(X_new), apply_transform(m.transforms[0], X_new)) == 0
    P = _accepted(portable.probe_rows(m, n=3000))
    assert _probe_coverage(m, P) >= 0.95
    for rows in (X_new, P):
        assert _ulp(pipe.predict_proba(rows), portable.evaluate(m, rows)) == 0
    lin = make_pipeline(scaler, lm.Ridge()).fit(X, X[:, 0] - X[:, 1])
    ml = portable.import_model(lin)
    rows = X_new[~np.isnan(X_new).any(axis=1)]
    assert _ulp(lin.predict(rows), portable.evaluate(ml, rows)) == 0


# ----------------------------------------------------------------------------- imputer
IMPUTERS = [
    SimpleImputer(strategy="mean"), SimpleImputer(strategy="median"),
    SimpleImputer(strategy="most_frequent"), SimpleImputer(strategy="constant", fill_value=-7.5),
    SimpleImputer(strategy="mean", keep_empty_features=True),
]


@pytest.mark.parametrize("imputer", IMPUTERS, ids=[repr(i) for i in IMPUTERS])
def test_simple_imputer_fills_and_drops_columns_like_scikit_learn(imputer):
    X, y = _numeric(nan_rate=0.2)
    X[:, 2] = np.nan  # all missing during fit: dropped unless keep_empty_features / constant
    X[:, 3] = np.round(X[:, 3])  # repeated values, so most_frequent is meaningful
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Skipping features without any observed values"
        pipe = make_pipeline(imputer, tree.DecisionTreeClassifier(max_depth=5, random_state=SEED))
        pipe.fit(X, y)
        m = portable.import_model(pipe)
        X_new, _ = _numeric(seed=SEED + 1, nan_rate=0.3)
        ref_t = pipe[0].transform(X_new)
        P = _accepted(portable.probe_rows(m, n=2000))
        ref_p = [pipe.predict_proba(r) for r in (X_new, P)]
    assert _ulp(ref_t, apply_transform(m.transforms[0], X_new)) == 0
    assert _probe_coverage(m, P) >= 0.95
    for ref, rows in zip(ref_p, (X_new, P)):
        assert _ulp(ref, portable.evaluate(m, rows)) == 0


# ----------------------------------------------------------------------------- one-hot
OHE_CASES = [
    ("error_dense", dict(sparse_output=False)),
    ("ignore_sparse", dict(handle_unknown="ignore")),
    ("drop_first", dict(drop="first", sparse_output=False)),
    ("drop_if_binary_ignore", dict(drop="if_binary", handle_unknown="ignore")),
    ("infrequent_if_exist_without_infrequent", dict(handle_unknown="infrequent_if_exist")),
]


@pytest.mark.parametrize("name,kw", OHE_CASES, ids=[c[0] for c in OHE_CASES])
def test_one_hot_encoder_on_string_and_numeric_columns_matches(name, kw):
    rng = np.random.default_rng(SEED)
    X = np.empty((300, 3), dtype=object)
    X[:, 0] = rng.choice(["red", "green", "blue"], 300)
    X[:, 1] = rng.choice(["yes", "no"], 300)
    X[:, 2] = rng.choice([1.0, 2.0, 5.0, np.nan], 300)  # numeric with NaN as a category
    y = ((X[:, 0] == "red") ^ (X[:, 2] == 5.0)).astype(int)
    ohe = OneHotEncoder(**kw)
    pipe = make_pipeline(ohe, lm.LogisticRegression()).fit(X, y)
    m = portable.import_model(pipe)
    assert m.signature.feature_types == ("string", "string", "float64")
    ref = pipe[0].transform(X)
    ref = ref.toarray() if hasattr(ref, "toarray") else ref
    assert _ulp(ref, apply_transform(m.transforms[0], X)) == 0
    c = compare(pipe.predict_proba(X), portable.evaluate(m, X))
    # A sparse one-hot matrix makes scikit-learn sum the non-zeros in order (scipy), the
    # evaluator uses the dense BLAS product: equal to a few ULP, inside the 1e-12 contract.
    assert c["max_rel"] <= 1e-12 and c["label_flips"] == 0
    if kw.get("sparse_output", True) is False:
        assert c["max_ulp"] == 0, c
    unknown = np.array([["purple", "yes", 7.0]], dtype=object)
    if ohe.handle_unknown == "error":
        with pytest.raises(InputError, match="purple"):
            portable.evaluate(m, unknown)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert _ulp(pipe.predict_proba(unknown), portable.evaluate(m, unknown)) == 0


# ----------------------------------------------------------------------------- ColumnTransformer
def _column_transformer(remainder="passthrough", sparse=False):
    # sparse_threshold=1: with a sparse encoder the whole output stays a CSR matrix.
    return ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), ["age", "income"]),
        ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=sparse), ["city"]),
        ("keep", "passthrough", ["rooms"]),
        ("gone", "drop", ["noise"]),
    ], remainder=remainder, sparse_threshold=1.0 if sparse else 0.3)


@pytest.mark.parametrize("final", [tree.DecisionTreeClassifier(max_depth=6, random_state=SEED),
                                   RandomForestClassifier(n_estimators=8, max_depth=5, random_state=SEED),
                                   HistGradientBoostingClassifier(max_iter=15, random_state=SEED),
                                   lm.LogisticRegression(max_iter=1000)],
                         ids=lambda e: type(e).__name__)
def test_column_transformer_by_name_matches_on_frames_probes_and_missing_values(final):
    df, y = _frame()
    pipe = make_pipeline(_column_transformer(), final).fit(df, y)
    m = portable.import_model(pipe)
    sig = m.signature
    assert sig.feature_names == ("age", "city", "income", "rooms", "noise")
    assert sig.feature_types == ("float64", "string", "float64", "float64", "float64")
    assert m.source.estimator == (
        "Pipeline(ColumnTransformer(num=SimpleImputer+StandardScaler, cat=OneHotEncoder, "
        f"keep=passthrough, gone=drop), {type(final).__name__})")
    new, _ = _frame(seed=SEED + 1)
    new.loc[:3, "city"] = "rome"  # unknown category: handle_unknown="ignore"
    assert _ulp(pipe.predict_proba(new), portable.evaluate(m, new[list(reversed(new.columns))])) == 0
    if isinstance(final, lm.LogisticRegression):
        return
    P = _as_frame(_accepted(portable.probe_rows(m, n=3000)), m)
    assert _probe_coverage(m, P) >= 0.95
    assert _ulp(pipe.predict_proba(P), portable.evaluate(m, P)) == 0


@pytest.mark.parametrize("remainder", ["drop", "passthrough"])
def test_column_transformer_by_index_on_arrays_with_remainder(remainder):
    X, y = _numeric(nan_rate=0.1)
    ct = ColumnTransformer([("imp", SimpleImputer(), [0, 2]), ("mm", MinMaxScaler(), [1])],
                           remainder=remainder)
    pipe = make_pipeline(ct, tree.DecisionTreeClassifier(max_depth=6, random_state=SEED)).fit(X, y)
    m = portable.import_model(pipe)
    X_new, _ = _numeric(seed=SEED + 1, nan_rate=0.1)
    assert _ulp(pipe[0].transform(X_new), apply_transform(m.transforms[0], X_new)) == 0
    for rows in (X_new, _accepted(portable.probe_rows(m, n=2000))):
        assert _ulp(pipe.predict_proba(rows), portable.evaluate(m, rows)) == 0


def test_sparse_column_transformer_output_into_a_linear_model_is_within_contract():
    df, y = _frame()
    pipe = make_pipeline(_column_transformer(sparse=True), lm.LogisticRegression(max_iter=1000))
    pipe.fit(df, y)
    assert pipe[0].sparse_output_  # scikit-learn feeds a CSR matrix to the linear model
    m = portable.import_model(pipe)
    assert "sparse matrix" in m.source.detail  # the caveat travels with the model
    c = compare(pipe.predict_proba(df), portable.evaluate(m, df))
    assert c["max_rel"] <= 1e-12 and c["label_flips"] == 0, c


def test_passthrough_steps_vanish_and_nested_pipelines_are_flattened():
    X, y = _numeric(nan_rate=0.1)
    pipe = Pipeline([("skip", "passthrough"),
                     ("pre", make_pipeline(SimpleImputer(), RobustScaler())),
                     ("model", lm.LogisticRegression())]).fit(X, y)
    m = portable.import_model(pipe)
    assert [s.kind for s in m.steps] == ["imputer", "scaler", "linear"]
    assert m.source.estimator == "Pipeline(SimpleImputer, RobustScaler, LogisticRegression)"
    X_new, _ = _numeric(seed=SEED + 1, nan_rate=0.2)
    assert _ulp(pipe.predict_proba(X_new), portable.evaluate(m, X_new)) == 0


def test_transformers_are_listed_for_portable_formats_with_their_ir_kind():
    from portable.frontends.sklearn import FRONTEND

    kinds = FRONTEND.estimators
    assert kinds["StandardScaler"] == kinds["MinMaxScaler"] == ("scaler",)
    assert kinds["SimpleImputer"] == ("imputer",) and kinds["OneHotEncoder"] == ("one_hot",)
    assert kinds["ColumnTransformer"] == ("column_transformer",)
    assert {"tree_ensemble", "linear"} <= set(kinds["Pipeline"])


@pytest.mark.parametrize("scaler", [MaxAbsScaler(), StandardScaler(with_mean=False),
                                    RobustScaler(with_centering=False)], ids=repr)
def test_scalers_fed_a_sparse_matrix_multiply_by_the_reciprocal_like_scikit_learn(scaler):
    # On CSR input scikit-learn scales with x * (1 / scale_), which differs from x / scale_
    # in the last bit for some x; the frontend emits the reciprocal product then.
    df, y = _frame()
    ct = ColumnTransformer([("num", SimpleImputer(), ["age", "income", "noise"]),
                            ("cat", OneHotEncoder(), ["city"])], sparse_threshold=1.0)
    pipe = make_pipeline(ct, scaler, tree.DecisionTreeClassifier(max_depth=6, random_state=SEED))
    pipe.fit(df, y)
    m = portable.import_model(pipe)
    assert m.transforms[1].multiply is not None and m.transforms[1].divide is None
    new, _ = _frame(seed=SEED + 1)
    ref = pipe[:-1].transform(new).toarray()
    assert _ulp(ref, apply_transform(m.transforms[1], apply_transform(m.transforms[0], new.to_numpy(dtype=object)))) == 0
    P = _as_frame(_accepted(portable.probe_rows(m, n=2000)), m)
    for rows in (new, P):
        assert _ulp(pipe.predict_proba(rows), portable.evaluate(m, rows)) == 0


# ----------------------------------------------------------------------------- XGBoost as final step
def test_pipeline_ending_in_xgboost_uses_the_pipeline_inputs():
    xgb = pytest.importorskip("xgboost")
    pytest.importorskip("portable.frontends.xgboost")
    df, y = _frame()
    pipe = make_pipeline(_column_transformer(), xgb.XGBClassifier(n_estimators=8, max_depth=3))
    pipe.fit(df, y)
    m = portable.import_model(pipe)
    assert m.signature.feature_names == tuple(df.columns)
    assert m.signature.feature_types[1] == "string" and m.signature.classes == (0, 1)
    assert m.source.estimator.endswith("XGBClassifier)")
    P = _as_frame(_accepted(portable.probe_rows(m, n=2000)), m)
    for rows in (df, P):
        c = compare(pipe.predict_proba(rows), portable.evaluate(m, rows), dtype=np.float32)
        assert c["max_ulp"] == 0, c


def test_xgboost_fed_a_sparse_matrix_reads_its_zeros_as_missing_bit_for_bit():
    xgb = pytest.importorskip("xgboost")
    from portable.source import source_predict

    df, y = _frame()
    pipe = make_pipeline(_column_transformer(sparse=True), xgb.XGBClassifier(n_estimators=3))
    pipe.fit(df, y)
    m = portable.import_model(pipe)
    assert [s.kind for s in m.steps][-2:] == ["zero_as_missing", "tree_ensemble"]
    for stage in ("margin", "prediction"):
        ref = source_predict(pipe, m, df, output=stage)
        r = compare(ref, portable.evaluate(m, df, output=stage), classification=True)
        assert r["max_ulp"] == 0 and r["label_flips"] == 0, (stage, r)


# ----------------------------------------------------------------------------- refusals
def test_transformer_alone_is_not_a_model():
    X, _ = _numeric()
    with pytest.raises(UnsupportedFeatureError, match="Pipeline that ends with an estimator"):
        portable.import_model(StandardScaler().fit(X))


def test_pipeline_ending_in_a_transformer_is_refused():
    X, _ = _numeric()
    with pytest.raises(UnsupportedFeatureError, match="final estimator"):
        portable.import_model(make_pipeline(StandardScaler(), MinMaxScaler()).fit(X))


def test_unsupported_transformer_in_a_pipeline_is_named():
    X, y = _numeric()
    pipe = make_pipeline(PolynomialFeatures(), lm.Ridge()).fit(X, y)
    with pytest.raises(UnsupportedModelError, match="PolynomialFeatures.*StandardScaler"):
        portable.import_model(pipe)


@pytest.mark.parametrize("step,match", [
    (SimpleImputer(add_indicator=True), "add_indicator"),
    (SimpleImputer(missing_values=-1.0), "missing_values"),
])
def test_imputer_settings_without_an_ir_form_are_refused(step, match):
    X, y = _numeric(nan_rate=0.1)
    if step.missing_values == -1.0:
        X = np.nan_to_num(X, nan=-1.0)
    pipe = make_pipeline(step, tree.DecisionTreeClassifier(max_depth=2)).fit(X, y)
    with pytest.raises(UnsupportedFeatureError, match=match):
        portable.import_model(pipe)


def test_infrequent_categories_are_refused_with_what_to_do():
    df, y = _frame()
    pipe = make_pipeline(
        ColumnTransformer([("cat", OneHotEncoder(max_categories=2), ["city"])]),
        lm.LogisticRegression()).fit(df, y)
    with pytest.raises(UnsupportedFeatureError, match="min_frequency=None"):
        portable.import_model(pipe)


def test_unfitted_pipeline_raises_not_fitted():
    with pytest.raises(NotFittedError):
        portable.import_model(Pipeline([("s", StandardScaler()), ("m", lm.Ridge())]))


def test_wrong_column_count_at_evaluate_time_is_an_input_error():
    X, y = _numeric()
    m = portable.import_model(make_pipeline(StandardScaler(), lm.Ridge()).fit(X, y))
    with pytest.raises(InputError):
        portable.evaluate(m, X[:, :3])
