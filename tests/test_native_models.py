"""Trained models shared by the native-code tests, and unit tests of the lowering.

The factories are cached, so every test module of the session trains each model once.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

import portable
from portable.converters.code import printer as P
from portable.converters.code.lower import lower

xgb = pytest.importorskip("xgboost")
pd = pytest.importorskip("pandas")

from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.datasets import make_classification, make_regression  # noqa: E402
from sklearn.ensemble import (ExtraTreesRegressor, GradientBoostingClassifier,  # noqa: E402
                              GradientBoostingRegressor, HistGradientBoostingClassifier,
                              RandomForestClassifier)
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.linear_model import LinearRegression, LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler  # noqa: E402
from sklearn.tree import DecisionTreeRegressor, ExtraTreeClassifier  # noqa: E402


def _data(kind: str, n=400, f=6, nan=0.0, seed=0):
    if kind == "reg":
        X, y = make_regression(n, f, n_informative=4, noise=5, random_state=seed)
    else:
        X, y = make_classification(n, f, n_informative=4, n_classes=3 if kind == "multi" else 2,
                                   random_state=seed)
    X = X.astype(np.float32).astype(np.float64)  # values XGBoost sees exactly
    if nan:
        X[np.random.default_rng(seed).random(X.shape) < nan] = np.nan
    return X, y


def _frame(n=400, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "colour": rng.choice(["red", "green", "blue", "gr\u00fcn"], n),
        "size": rng.choice([1.0, 2.0, 3.0], n),
        "a": rng.normal(size=n),
        "b": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
    })
    y = (df["a"] + (df["colour"] == "red") + 0.5 * df["size"] > 1).astype(int)
    return df, y


def _estimators():
    Xr, yr = _data("reg", nan=0.05)
    Xb, yb = _data("bin", nan=0.05)
    Xm, ym = _data("multi")
    df, yd = _frame()
    pos = np.abs(_data("reg")[1]) / 10
    oh_err = ColumnTransformer([("oh", OneHotEncoder(handle_unknown="error"), ["size"]),
                                ("num", make_pipeline(SimpleImputer(), StandardScaler()), ["a", "b"])])
    oh_ign = ColumnTransformer([("oh", OneHotEncoder(handle_unknown="ignore"), ["colour"]),
                                ("oh2", OneHotEncoder(drop="first"), ["size"]),
                                ("num", make_pipeline(SimpleImputer(), MinMaxScaler(clip=True)), ["a", "b"])])
    return {
        "xgb_reg": lambda: xgb.XGBRegressor(n_estimators=25, max_depth=5).fit(Xr, yr),
        "xgb_binary": lambda: xgb.XGBClassifier(n_estimators=25, max_depth=5).fit(Xb, yb),
        "xgb_multi": lambda: xgb.XGBClassifier(n_estimators=10, max_depth=4).fit(Xm, ym),
        "xgb_poisson": lambda: xgb.XGBRegressor(n_estimators=15, max_depth=4,
                                                objective="count:poisson").fit(Xr, pos),
        "decision_tree_deep": lambda: DecisionTreeRegressor(random_state=0).fit(_data("reg")[0], yr),
        "extra_tree": lambda: ExtraTreeClassifier(max_depth=8, random_state=0).fit(Xm, ym),
        "random_forest": lambda: RandomForestClassifier(12, max_depth=7, random_state=0).fit(Xm, ym),
        "extra_trees": lambda: ExtraTreesRegressor(10, max_depth=6, random_state=0).fit(_data("reg")[0], yr),
        "gradient_boosting": lambda: GradientBoostingClassifier(n_estimators=15, random_state=0).fit(_data("bin")[0], yb),
        "gradient_boosting_reg": lambda: GradientBoostingRegressor(n_estimators=15, random_state=0).fit(_data("reg")[0], yr),
        "hist_gradient_boosting": lambda: HistGradientBoostingClassifier(max_iter=15, random_state=0).fit(Xm, ym),
        "logistic_scaled": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(Xm, ym),
        "linear": lambda: LinearRegression().fit(_data("reg")[0], yr),
        "onehot_error_linear": lambda: make_pipeline(oh_err, LogisticRegression(max_iter=500)).fit(df, yd),
        "onehot_strings_forest": lambda: make_pipeline(oh_ign, RandomForestClassifier(8, max_depth=6, random_state=0)).fit(df, yd),
    }


MODEL_NAMES = tuple(_estimators())


@functools.lru_cache(maxsize=None)
def estimator(name: str):
    """The trained estimator called ``name`` (trained once per test session)."""
    return _estimators()[name]()


@functools.lru_cache(maxsize=None)
def model(name: str):
    """The IR of :func:`estimator` (imported once per test session)."""
    return portable.import_model(estimator(name))


def rows(name: str, kind: str) -> np.ndarray:
    """Rows of one kind for model ``name``: ``probe`` (at and 1 ULP around thresholds),
    ``nan`` (random rows, 30% missing) or ``random``."""
    m = model(name)
    if kind == "probe":
        return portable.probe_rows(m, n=400, seed=1)
    rng = np.random.default_rng(7)
    if "one_hot" in m.step_kinds():  # the frame models: categories from the encoders
        X = portable.probes.sample_rows(m, 60, seed=3)
        if kind == "nan":  # missing values where the pipeline imputes them
            for j, f in enumerate(m.signature.feature_names):
                if f in ("a", "b"):
                    X[rng.random(len(X)) < 0.3, j] = np.nan
        return X
    X = rng.normal(size=(60, m.n_features)) * 2
    if kind == "nan":
        X[rng.random(X.shape) < 0.3] = np.nan
    return X


# ----------------------------------------------------------------------------- lowering tests
def test_perfect_layout_sends_every_row_to_the_same_leaf_as_the_tree():
    prog = lower(model("xgb_reg"))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 6)).astype(np.float32)
    X[rng.random(X.shape) < 0.2] = np.nan
    for t in prog.estimator.trees[:10]:
        f, thr, ml, leaves = t.perfect()
        assert len(f) == (1 << t.depth) - 1 and leaves.shape[0] == 1 << t.depth
        for x in X:
            i = 0  # walk the compact tree
            while i >= 0:
                v = x[t.feature[i]]
                left = t.missing_left[i] if np.isnan(v) else v < t.threshold[i]
                i = int(t.children[i][0 if left else 1])
            s = 0  # walk the padded tree
            for _ in range(t.depth):
                v = x[f[s]]
                left = ml[s] if np.isnan(v) else v < thr[s]
                s = 2 * s + (1 if left else 2)
            assert leaves[s - len(f), 0] == t.leaves[~i, 0]


def test_split_units_respect_node_and_depth_limits_on_a_deep_tree():
    prog = lower(model("decision_tree_deep"))
    t = prog.estimator.trees[0]
    assert t.depth > 15 and t.n_internal > 100
    cut = P.split_units(t, max_nodes=40, max_depth=6)
    # Measure each unit: nodes reachable from its root without crossing another cut.
    for u in np.flatnonzero(cut):
        size, stack, deepest = 0, [(int(u), 1)], 0
        while stack:
            i, d = stack.pop()
            size += 1
            deepest = max(deepest, d)
            for c in t.children[i]:
                if c >= 0 and not cut[c]:
                    stack.append((int(c), d + 1))
        assert size <= 40 and deepest <= 6


def test_float32_literals_are_shortest_and_read_back_exactly():
    v = np.array([0.1, 1 / 3, 3.0, 1e-7, 3.4028235e38, -0.0, 16777217.0], np.float32)
    lits = P.f32_literals(v)
    assert lits[0] == "0.1" and lits[2] == "3.0"
    assert np.array_equal(np.array(lits, np.float32).view(np.int32), v.view(np.int32))
    # The JavaScript/Python spelling is the double equal to the float32: no double rounding.
    assert [float(s) for s in P.f32_as_f64_literals(v)] == v.astype(np.float64).tolist()


def test_lowering_is_deterministic_and_carries_the_fingerprint():
    m = model("onehot_strings_forest")
    a, b = lower(m), lower(m)
    assert a.header["fingerprint"] == m.fingerprint()
    assert len(a.ops) == len(b.ops) and a.features == b.features
    kinds = {type(op).__name__ for op in a.ops}
    assert {"Categorical", "Impute", "Affine"} <= kinds
