"""Our ONNX graphs reproduce ``portable.evaluate`` under onnxruntime: every row takes the same
leaf in every tree, 0 label flips, and the few ULP that remain are measured and bounded.

Run with ``-s`` to see the parity table (estimator x rows x max ULP x flips x path changes).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import portable
from portable import ir
from portable.converters.onnx import OnnxConverter
from portable.errors import ConversionError, InputError, UnsupportedFeatureError
from portable.ir.evaluate import apply_transform, leaf_indices, prepare_input
from portable.parity import compare

ort = pytest.importorskip("onnxruntime")
xgb = pytest.importorskip("xgboost")
pd = pytest.importorskip("pandas")
from sklearn import compose, ensemble as E, impute, linear_model as L, pipeline  # noqa: E402
from sklearn import preprocessing as P, svm, tree  # noqa: E402

from portable.runtimes.onnxruntime import OnnxRuntime, OnnxSession  # noqa: E402

# ----------------------------------------------------------------------------- data
_rng = np.random.default_rng(0)
N = 360
X = _rng.normal(size=(N, 5)).round(2)  # rounded: ties, so thresholds sit between equal values
X[:, 4] = _rng.integers(0, 4, N)
XN = X.copy()
XN[_rng.random(X.shape) < 0.1] = np.nan
YR = 3 * X[:, 0] + np.sin(X[:, 1]) + X[:, 4] + 0.1 * _rng.normal(size=N)
YB = (X[:, 0] + X[:, 2] > 0).astype(int)
YM = np.digitize(X[:, 0] + X[:, 3], [-0.7, 0.7])
POS = np.abs(YR) + 0.1
TR = slice(0, 260)
HELD = slice(260, None)
COLORS = np.array(["red", "green", "blue"])[_rng.integers(0, 3, N)]
DF = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "color": COLORS, "k": X[:, 4]})
YC = (X[:, 0] + (COLORS == "red") > 0.3).astype(int)

_XK = dict(n_estimators=6, max_depth=3)
_SK = dict(max_depth=4, random_state=0)
_mk = pipeline.make_pipeline

# name -> (factory, training frame); held-out/NaN/probe rows are derived from the frame.
ZOO = {
    "XGBRegressor squarederror": lambda: xgb.XGBRegressor(**_XK).fit(XN[TR], YR[TR]),
    "XGBRegressor pseudohubererror": lambda: xgb.XGBRegressor(
        objective="reg:pseudohubererror", **_XK).fit(XN[TR], YR[TR]),
    "XGBRegressor absoluteerror": lambda: xgb.XGBRegressor(
        objective="reg:absoluteerror", **_XK).fit(XN[TR], YR[TR]),
    "XGBRegressor quantileerror": lambda: xgb.XGBRegressor(
        objective="reg:quantileerror", quantile_alpha=0.3, **_XK).fit(XN[TR], YR[TR]),
    "XGBRegressor squaredlogerror": lambda: xgb.XGBRegressor(
        objective="reg:squaredlogerror", **_XK).fit(XN[TR], POS[TR]),
    "XGBRegressor reg:logistic": lambda: xgb.XGBRegressor(
        objective="reg:logistic", **_XK).fit(XN[TR], YB[TR]),
    "XGBRegressor poisson": lambda: xgb.XGBRegressor(
        objective="count:poisson", **_XK).fit(XN[TR], np.round(POS[TR])),
    "XGBRegressor tweedie": lambda: xgb.XGBRegressor(objective="reg:tweedie", **_XK).fit(
        XN[TR], POS[TR]),
    "XGBRegressor gamma": lambda: xgb.XGBRegressor(objective="reg:gamma", **_XK).fit(
        XN[TR], POS[TR]),
    "XGBRegressor cox": lambda: xgb.XGBRegressor(objective="survival:cox", **_XK).fit(
        XN[TR], np.where(YB[TR] > 0, POS[TR], -POS[TR])),
    "XGBClassifier binary": lambda: xgb.XGBClassifier(**_XK).fit(XN[TR], YB[TR]),
    "XGBClassifier logitraw": lambda: xgb.XGBClassifier(
        objective="binary:logitraw", **_XK).fit(XN[TR], YB[TR]),
    "XGBClassifier softprob": lambda: xgb.XGBClassifier(**_XK).fit(XN[TR], YM[TR]),
    "XGBClassifier softmax": lambda: xgb.XGBClassifier(
        objective="multi:softmax", **_XK).fit(XN[TR], YM[TR]),
    "XGBRFClassifier": lambda: xgb.XGBRFClassifier(**_XK).fit(XN[TR], YM[TR]),
    "XGBRanker": lambda: xgb.XGBRanker(**_XK).fit(XN[TR], YM[TR], qid=np.repeat(np.arange(26), 10)),
    "DecisionTreeRegressor": lambda: tree.DecisionTreeRegressor(**_SK).fit(XN[TR], YR[TR]),
    "DecisionTreeClassifier": lambda: tree.DecisionTreeClassifier(**_SK).fit(XN[TR], YM[TR]),
    "ExtraTreeRegressor": lambda: tree.ExtraTreeRegressor(**_SK).fit(X[TR], YR[TR]),
    "ExtraTreeClassifier": lambda: tree.ExtraTreeClassifier(**_SK).fit(X[TR], YB[TR]),
    "RandomForestRegressor": lambda: E.RandomForestRegressor(5, **_SK).fit(XN[TR], YR[TR]),
    "RandomForestClassifier binary": lambda: E.RandomForestClassifier(5, **_SK).fit(XN[TR], YB[TR]),
    "RandomForestClassifier multi": lambda: E.RandomForestClassifier(5, **_SK).fit(XN[TR], YM[TR]),
    "ExtraTreesRegressor": lambda: E.ExtraTreesRegressor(5, **_SK).fit(X[TR], YR[TR]),
    "ExtraTreesClassifier": lambda: E.ExtraTreesClassifier(5, **_SK).fit(X[TR], YM[TR]),
    "GradientBoostingRegressor": lambda: E.GradientBoostingRegressor(n_estimators=8).fit(X[TR], YR[TR]),
    "GradientBoostingClassifier binary": lambda: E.GradientBoostingClassifier(
        n_estimators=8).fit(X[TR], YB[TR]),
    "GradientBoostingClassifier multi": lambda: E.GradientBoostingClassifier(
        n_estimators=8).fit(X[TR], YM[TR]),
    "HistGradientBoostingRegressor": lambda: E.HistGradientBoostingRegressor(max_iter=8).fit(
        XN[TR], YR[TR]),
    "HistGradientBoostingClassifier binary": lambda: E.HistGradientBoostingClassifier(
        max_iter=8).fit(XN[TR], YB[TR]),
    "HistGradientBoostingClassifier multi": lambda: E.HistGradientBoostingClassifier(
        max_iter=8).fit(XN[TR], YM[TR]),
    "LinearRegression": lambda: L.LinearRegression().fit(X[TR], YR[TR]),
    "Ridge": lambda: L.Ridge().fit(X[TR], YR[TR]),
    "Lasso": lambda: L.Lasso(alpha=0.01).fit(X[TR], YR[TR]),
    "ElasticNet": lambda: L.ElasticNet(alpha=0.01).fit(X[TR], YR[TR]),
    "LogisticRegression binary": lambda: L.LogisticRegression().fit(X[TR], YB[TR]),
    "LogisticRegression multi": lambda: L.LogisticRegression().fit(X[TR], YM[TR]),
    "SGDClassifier hinge": lambda: L.SGDClassifier(random_state=0).fit(X[TR], YM[TR]),
    "SGDClassifier log_loss": lambda: L.SGDClassifier(loss="log_loss", random_state=0).fit(
        X[TR], YB[TR]),
    "SGDRegressor": lambda: L.SGDRegressor(random_state=0).fit(X[TR], YR[TR]),
    "LinearSVR": lambda: svm.LinearSVR().fit(X[TR], YR[TR]),
    "LinearSVC binary": lambda: svm.LinearSVC().fit(X[TR], YB[TR]),
    "LinearSVC multi": lambda: svm.LinearSVC().fit(X[TR], YM[TR]),
    "StandardScaler+DecisionTreeClassifier": lambda: _mk(
        P.StandardScaler(), tree.DecisionTreeClassifier(**_SK)).fit(X[TR], YM[TR]),
    "StandardScaler+XGBClassifier": lambda: _mk(
        P.StandardScaler(), xgb.XGBClassifier(**_XK)).fit(X[TR], YM[TR]),
    "MinMaxScaler(clip)+RandomForestRegressor": lambda: _mk(
        P.MinMaxScaler(clip=True), E.RandomForestRegressor(4, **_SK)).fit(X[TR], YR[TR]),
    "RobustScaler+GradientBoostingClassifier": lambda: _mk(
        P.RobustScaler(), E.GradientBoostingClassifier(n_estimators=6)).fit(X[TR], YB[TR]),
    "MaxAbsScaler+LogisticRegression": lambda: _mk(P.MaxAbsScaler(), L.LogisticRegression()).fit(
        X[TR], YM[TR]),
    "SimpleImputer+StandardScaler+HistGradientBoosting": lambda: _mk(
        impute.SimpleImputer(), P.StandardScaler(),
        E.HistGradientBoostingRegressor(max_iter=6)).fit(XN[TR], YR[TR]),
    "SimpleImputer(median)+DecisionTreeRegressor": lambda: _mk(
        impute.SimpleImputer(strategy="median"), tree.DecisionTreeRegressor(**_SK)).fit(
        XN[TR], YR[TR]),
    "ColumnTransformer(OneHot strings+ints, StandardScaler)+LogisticRegression": lambda: _mk(
        compose.ColumnTransformer([("oh", P.OneHotEncoder(), ["color", "k"]),
                                   ("sc", P.StandardScaler(), ["a", "b"])]),
        L.LogisticRegression()).fit(DF.iloc[TR], YC[TR]),
    "OneHotEncoder(strings, sparse)+XGBClassifier": lambda: _mk(  # sparse: 0 means missing
        P.OneHotEncoder(), xgb.XGBClassifier(**_XK)).fit(DF[["color"]].iloc[TR], YC[TR]),
    "ColumnTransformer(OneHot drop=first ignore, passthrough)+DecisionTree": lambda: _mk(
        compose.ColumnTransformer([("oh", P.OneHotEncoder(handle_unknown="ignore", drop="first"),
                                    ["color"])], remainder="passthrough"),
        tree.DecisionTreeClassifier(**_SK)).fit(DF.iloc[TR], YC[TR]),
}

PARITY: list[tuple] = []


@pytest.fixture(scope="module", autouse=True)
def _print_parity_table():
    yield
    if PARITY:
        print("\n| estimator | rows | n | margin max ULP | prediction max ULP | max abs | "
              "flips | path changes |\n|---|---|---|---|---|---|---|---|")
        for row in PARITY:
            print("| " + " | ".join(str(v) for v in row) + " |")


def _model(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return portable.import_model(ZOO[name]())


def _row_sets(name, m) -> dict:
    frame = "ColumnTransformer" in name or "strings" in name
    held = DF.iloc[HELD][list(m.signature.feature_names)] if frame else X[HELD]
    sets = {"held-out": held}
    if not frame and not isinstance(m.estimator, ir.LinearModel):
        nan = np.array(held, dtype=float)
        nan[np.random.default_rng(1).random(nan.shape) < 0.2] = np.nan
        sets["NaN"] = nan
    sets["probe"] = portable.probe_rows(m, n=300)
    return sets


def _leaves(m, rows):
    Z = prepare_input(m.signature, rows)
    for step in m.transforms:
        Z = apply_transform(step, Z)
    return leaf_indices(m.estimator, Z)


@pytest.mark.parametrize("name", list(ZOO))
def test_graph_takes_the_reference_path_and_flips_no_label(name):
    m = _model(name)
    trees = isinstance(m.estimator, ir.TreeEnsemble)
    session = OnnxSession(OnnxConverter().convert(m, leaves=trees)["model.onnx"])
    cls = m.signature.task == "classification"
    for kind, rows in _row_sets(name, m).items():
        ref = {o: portable.evaluate(m, rows, output=o) for o in ("margin", "prediction")}
        got = {o: session.predict(rows, output=o) for o in ("margin", "prediction")}
        cm, cp = compare(ref["margin"], got["margin"]), compare(ref["prediction"], got["prediction"])
        for o in ref:
            assert got[o].dtype == ref[o].dtype and got[o].shape == ref[o].shape
        flips = int(np.sum(ir.labels(m, ref["prediction"]) != session.labels(rows))) if cls else 0
        paths = int(np.any(_leaves(m, rows) != session.leaves(rows), axis=1).sum()) if trees else "-"
        PARITY.append((name, kind, len(rows), f"{cm['max_ulp']:.0f}",
                       f"{cp['max_ulp']:.0f} ({cp['ulp_dtype']})", f"{cp['max_abs']:.2g}", flips, paths))
        assert flips == 0
        if trees:
            assert paths == 0
            assert cm["max_ulp"] == 0  # same leaves, same order, same dtype: bit for bit
            # The graph's expf is correctly rounded, the reference's is glibc's (they differ
            # on ~0.06% of inputs, up to 8 ULP in a 1-p column); ORT's double exp differs
            # from numpy's by <= 2 ULP.
            assert cp["max_ulp"] <= 8
        else:
            _assert_dot_rounding(m, rows, ref["margin"], got["margin"])
            assert cp["max_abs"] <= 1e-12


def _assert_dot_rounding(m, rows, ref, got):
    """A dot product summed in another order differs by at most n * eps * sum |x_i w_i|."""
    Z = prepare_input(m.signature, rows)
    for step in m.transforms:
        Z = apply_transform(step, Z)
    est = m.estimator
    scale = np.abs(np.asarray(Z, float)) @ np.abs(est.coef.T) + np.abs(est.intercept)
    bound = (est.n_features + 2) * np.finfo(np.float64).eps * scale
    assert np.all(np.abs(ref - got) <= bound)


# ----------------------------------------------------------------------------- the artifact
@pytest.fixture(scope="module")
def xgb_multi():
    return _model("XGBClassifier softprob")


def test_bytes_are_deterministic_and_metadata_carries_signature_io_and_golden(xgb_multi):
    import json

    import onnx

    a = OnnxConverter().convert(xgb_multi)["model.onnx"]
    assert a == OnnxConverter().convert(xgb_multi)["model.onnx"]
    proto = onnx.load_from_string(a)
    onnx.checker.check_model(proto, full_check=True)
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta["portable.signature"]) == xgb_multi.signature.to_dict()
    io = json.loads(meta["portable.io"])
    assert io["outputs"] == {"label": "label", "margin": "margin", "prediction": "probabilities"}
    assert {n.op_type for n in proto.graph.node} >= {"TreeEnsembleRegressor", "ArgMax"}
    assert "ZipMap" not in {n.op_type for n in proto.graph.node}
    golden = json.loads(meta["portable.golden"])
    got = OnnxSession(a).predict(np.array(golden["inputs"], dtype=float))
    assert np.array_equal(got, np.array(golden["prediction"], dtype=np.float32))


def test_export_writes_an_admitted_artifact_that_load_serves(tmp_path, xgb_multi):
    art = portable.api.export(xgb_multi, format="onnx", out_dir=tmp_path / "a")
    assert sorted(p.name for p in art.path.iterdir()) == ["model.onnx", "portable.json"]
    parity = art.manifest["parity"]
    assert parity["checked"] and parity["runtime"] == "onnxruntime"
    assert parity["margin"]["max_ulp"] == 0 and parity["prediction"]["label_flips"] == 0
    session = portable.api.load(tmp_path / "a")
    frame = pd.DataFrame(X[HELD][:, ::-1], columns=list(xgb_multi.signature.feature_names)[::-1])
    assert np.array_equal(session.predict(frame), portable.evaluate(xgb_multi, X[HELD]))
    assert session.predict(X[0]).shape == (1, 3)  # a 1-D row is one row
    assert session.predict(X[:0]).shape == (0, 3)
    with pytest.raises(InputError, match="Unknown output"):
        session.predict(X[:2], output="proba")
    session.close()


def test_float32_kernel_keeps_sklearn_splits_exact_by_rounding_thresholds():
    m = _model("RandomForestClassifier multi")
    files = OnnxConverter().convert(m, tree_dtype="float32", leaves=True)
    session = OnnxSession(files["model.onnx"])
    rows = portable.probe_rows(m, n=400)
    assert np.array_equal(session.leaves(rows), _leaves(m, rows))  # f32floor(t) with <=
    # Only the leaf sums lose precision (float32 instead of float64).
    assert compare(portable.evaluate(m, rows), session.predict(rows))["max_abs"] < 1e-6


def test_float32_kernel_is_refused_for_float64_comparisons():
    with pytest.raises(UnsupportedFeatureError, match="HistGradientBoosting"):
        OnnxConverter().convert(_model("HistGradientBoostingRegressor"), tree_dtype="float32")


def test_unknown_categories_follow_handle_unknown():
    strict = _model("ColumnTransformer(OneHot strings+ints, StandardScaler)+LogisticRegression")
    s = OnnxSession(OnnxConverter().convert(strict)["model.onnx"])
    bad = DF.iloc[:2].copy()
    bad["color"] = ["red", "purple"]
    with pytest.raises(InputError, match="color"):
        s.predict(bad)
    bad = DF.iloc[:2].copy()
    bad["k"] = [1.0, 7.5]
    with pytest.raises(InputError, match="k"):
        s.predict(bad)
    lax = _model("ColumnTransformer(OneHot drop=first ignore, passthrough)+DecisionTree")
    s = OnnxSession(OnnxConverter().convert(lax)["model.onnx"])
    bad = DF.iloc[:3].copy()
    bad["color"] = ["purple", None, "red"]
    assert np.array_equal(s.predict(bad), portable.evaluate(lax, bad))


def test_base_score_is_added_first_and_single_leaf_trees_are_kept():
    leaf = ir.Tree(np.array([-1], np.int32), np.zeros(1), np.array([-1], np.int32),
                   np.array([-1], np.int32), np.zeros(1, bool), np.array([[0.25, -0.5]]))
    split = ir.Tree(np.array([0, -1, -1], np.int32), np.array([0.1, 0, 0]),
                    np.array([1, -1, -1], np.int32), np.array([2, -1, -1], np.int32),
                    np.array([True, False, False]), np.array([[0, 0], [1e-17, 1], [3, 1e-17]]))
    for dt in ("float64", "float32"):
        d = np.dtype(dt)
        trees = tuple(ir.Tree(t.feature, t.threshold.astype(d), t.left, t.right, t.default_left,
                              t.value.astype(d)) for t in (leaf, split, split))
        ens = ir.TreeEnsemble(trees, 1, 2, np.array([1.0, -1.0], d), "<", dt, dt, dt)
        sig = ir.Signature(("x",), (dt,), "regression", ("y0", "y1"), "value")
        m = ir.Model(sig, (ens,), ir.Source("test", "0", "Hand"))
        s = OnnxSession(OnnxConverter().convert(m)["model.onnx"])
        rows = np.array([[0.0], [0.1], [np.nextafter(0.1, 1)], [np.nan], [5.0]])
        assert np.array_equal(s.predict(rows), portable.evaluate(m, rows))


def test_options_and_availability():
    m = _model("LinearSVC binary")
    with pytest.raises(ConversionError, match="trained object"):
        OnnxConverter().convert(m, engine="skl2onnx")
    assert OnnxRuntime.available() is None
    assert OnnxConverter.supports >= {"tree_ensemble", "linear", "one_hot", "column_transformer"}
    labels = OnnxSession(OnnxConverter().convert(m)["model.onnx"], threads=2).labels(X[:5])
    assert np.array_equal(labels, ir.labels(m, portable.evaluate(m, X[:5])))


def test_bad_options_and_thread_settings_are_portable_errors(monkeypatch):
    m = _model("Ridge")
    with pytest.raises(ConversionError, match="Unknown ONNX option"):
        OnnxConverter().convert(m, opset=12)
    with pytest.raises(UnsupportedFeatureError, match="tree_dtype"):
        OnnxConverter().convert(_model("DecisionTreeRegressor"), tree_dtype="float16")
    data = OnnxConverter().convert(m)["model.onnx"]
    monkeypatch.setenv("PORTABLE_ORT_THREADS", "two")
    with pytest.raises(InputError, match="PORTABLE_ORT_THREADS"):
        OnnxSession(data)
    monkeypatch.setenv("PORTABLE_ORT_THREADS", "2")
    assert np.array_equal(OnnxSession(data).predict(X[:4]), OnnxSession(data, threads=1).predict(X[:4]))


@pytest.mark.parametrize("y, kind", [(np.where(YB, "yes", "no"), "O"), (YB.astype(bool), "b"),
                                     (YB * 2.0, "f"), (YB + 3, "i")],
                         ids=["string", "bool", "float", "int"])
def test_label_output_keeps_the_class_labels_and_their_type(y, kind):
    m = portable.import_model(L.LogisticRegression().fit(X[TR], y[TR]))
    labels = OnnxSession(OnnxConverter().convert(m)["model.onnx"]).labels(X[HELD])
    expected = ir.labels(m, portable.evaluate(m, X[HELD]))
    assert labels.dtype.kind == kind
    assert list(labels) == list(expected)
