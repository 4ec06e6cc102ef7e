"""Upstream ONNX engines (skl2onnx, onnxmltools): coverage beyond the IR, and how many
threshold-probe rows they get wrong where our graph gets none."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import portable
from portable.converters.onnx import OnnxConverter
from portable.converters.upstream import convert_upstream
from portable.errors import ConversionError, RuntimeUnavailableError, UnsupportedFeatureError

pytest.importorskip("onnxruntime")
pytest.importorskip("skl2onnx")
pytest.importorskip("onnxmltools")
xgb = pytest.importorskip("xgboost")
pd = pytest.importorskip("pandas")
from sklearn.datasets import load_breast_cancer  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.tree import DecisionTreeClassifier  # noqa: E402

from portable.runtimes.onnxruntime import OnnxSession  # noqa: E402

XB, YB = load_breast_cancer(return_X_y=True)


# The engines under test warn freely (converter versions, float casts); keep output readable.
pytestmark = pytest.mark.filterwarnings("ignore")


def _wrong_rows(got, ref) -> tuple[int, int]:
    """(label flips, rows whose output moved beyond float32 rounding, i.e. another leaf)."""
    flips = int(np.sum(np.argmax(got, 1) != np.argmax(ref, 1)))
    moved = int(np.sum(np.abs(np.asarray(got, float) - ref).max(axis=1) > 1e-5))
    return flips, moved


@pytest.mark.parametrize("name, make", [
    ("Pipeline(StandardScaler, XGBClassifier)",
     lambda: make_pipeline(StandardScaler(), xgb.XGBClassifier(n_estimators=20, max_depth=4))),
    ("Pipeline(StandardScaler, DecisionTreeClassifier)",
     lambda: make_pipeline(StandardScaler(), DecisionTreeClassifier(max_depth=6, random_state=0))),
])
def test_upstream_flips_labels_on_probe_rows_where_ours_flips_none(name, make):
    est = make().fit(XB, YB)
    m = portable.import_model(est)
    rows = portable.probe_rows(m, n=2000)
    rows = rows[~np.isnan(rows).any(axis=1)]  # skl2onnx's float32 Scaler has no NaN story
    source = est.predict_proba(rows)
    ours = OnnxSession(OnnxConverter().convert(m)["model.onnx"]).predict(rows)
    theirs = OnnxSession(convert_upstream(est, engine="skl2onnx")["model.onnx"]).predict(rows)
    ours_wrong, theirs_wrong = _wrong_rows(ours, source), _wrong_rows(theirs, source)
    print(f"\n{name} on {len(rows)} probe rows: skl2onnx flips {theirs_wrong[0]} labels "
          f"({theirs_wrong[1]} rows on another path); portable flips {ours_wrong[0]} "
          f"({ours_wrong[1]} rows on another path)")
    assert ours_wrong == (0, 0)
    assert np.array_equal(ours, source.astype(ours.dtype))  # bit for bit with scikit-learn
    assert theirs_wrong[0] > 0  # float32 Scaler: rows at a threshold change side


def test_bare_xgboost_through_onnxmltools_is_exact_on_probe_rows():
    est = xgb.XGBClassifier(n_estimators=10, max_depth=3).fit(XB, YB)
    rows = portable.probe_rows(portable.import_model(est), n=500)
    theirs = OnnxSession(convert_upstream(est, engine="onnxmltools")["model.onnx"]).predict(rows)
    assert _wrong_rows(theirs, est.predict_proba(rows.astype(np.float32))) == (0, 0)


def test_models_without_a_frontend_export_through_skl2onnx(tmp_path):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import SVC

    docs = np.array(["a red cat", "the blue dog", "a red dog", "cat and dog"] * 10, dtype=object)
    cases = {
        "svc": (SVC().fit(XB[:200], YB[:200]), XB[200:260]),
        "knn": (KNeighborsRegressor().fit(XB[:200], XB[:200, 0]), XB[200:260]),
        "mlp": (MLPClassifier(max_iter=50, random_state=0).fit(XB[:200], YB[:200]), XB[200:260]),
        # Text has a frontend now, but no ONNX lowering of ours: name the engine.
        "text": (make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(docs, [0, 1] * 20),
                 docs.reshape(-1, 1)),
    }
    for key, (est, sample) in cases.items():
        engine = "skl2onnx" if key == "text" else None
        art = portable.api.export(est, format="onnx", out_dir=tmp_path / key, sample=sample,
                                  engine=engine)
        parity = art.manifest["parity"]
        assert art.manifest["engine"] == "skl2onnx" and parity["checked"], key
        assert parity["prediction"]["label_flips"] == 0, key
        assert parity["prediction"]["max_abs"] < 1e-3, (key, parity)
        session = portable.api.load(tmp_path / key)
        assert session.predict(sample[:3]).shape[0] == 3
        with pytest.raises(UnsupportedFeatureError, match="no 'margin' output"):
            session.predict(sample[:3], output="margin")


def test_engine_option_selects_upstream_for_supported_models_too(tmp_path):
    est = make_pipeline(StandardScaler(), xgb.XGBRegressor(n_estimators=5)).fit(XB, XB[:, 0])
    art = portable.api.export(est, format="onnx", out_dir=tmp_path / "a", engine="skl2onnx",
                              sample=XB[:100])
    assert art.manifest["engine"] == "skl2onnx" and art.manifest["parity"]["checked"]
    ours = portable.api.export(est, format="onnx", out_dir=tmp_path / "b", engine="portable")
    assert ours.manifest["parity"]["prediction"]["max_ulp"] == 0


def test_dataframe_fitted_xgboost_converts_and_the_caller_keeps_its_names():
    df = pd.DataFrame(XB[:, :5], columns=[f"x{i + 8}" for i in range(5)])
    est = xgb.XGBClassifier(n_estimators=5, max_depth=3).fit(df, YB)
    files = convert_upstream(est, engine="onnxmltools")
    assert est.get_booster().feature_names == list(df.columns)
    got = OnnxSession(files["model.onnx"]).predict(df)
    assert _wrong_rows(got, est.predict_proba(df)) == (0, 0)


def test_column_transformer_with_strings_gets_one_input_per_column():
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"color": rng.choice(["red", "blue"], 200), "x": rng.normal(size=200)})
    y = (df["x"] > 0).astype(int)
    est = make_pipeline(ColumnTransformer([("oh", OneHotEncoder(), ["color"]),
                                           ("sc", StandardScaler(), ["x"])]),
                        LogisticRegression()).fit(df, y)
    files = convert_upstream(est, engine="skl2onnx", sample=df)
    got = OnnxSession(files["model.onnx"]).predict(df)
    assert np.abs(got - est.predict_proba(df)).max() < 1e-6


def test_failures_are_portable_errors(monkeypatch):
    with pytest.raises(ConversionError, match="Unknown ONNX engine"):
        convert_upstream(DecisionTreeClassifier().fit(XB, YB), engine="tf2onnx")
    with pytest.raises(ConversionError, match="skl2onnx could not convert"):
        convert_upstream(object(), engine="skl2onnx", n_features=3)
    monkeypatch.setitem(sys.modules, "skl2onnx", None)  # import now raises ImportError
    with pytest.raises(RuntimeUnavailableError, match=r'pip install "portable\[onnx\]"'):
        convert_upstream(DecisionTreeClassifier().fit(XB, YB), engine="skl2onnx")


@pytest.mark.parametrize("suffix", [".json", ".ubj"])
def test_xgboost_model_files_go_to_onnxmltools_as_a_booster(tmp_path, suffix):
    est = xgb.XGBClassifier(n_estimators=5, max_depth=3).fit(XB, YB)
    path = tmp_path / f"model{suffix}"
    est.save_model(path)
    art = portable.api.export(str(path), format="onnx", out_dir=tmp_path / "a",
                              engine="onnxmltools", sample=XB[:100])
    assert art.manifest["source"]["estimator"] == "Booster"
    assert art.manifest["parity"]["prediction"]["label_flips"] == 0
    got = portable.api.load(tmp_path / "a").predict(XB[:50])
    assert np.abs(got - est.predict_proba(XB[:50])).max() < 1e-6
    with pytest.raises(ConversionError, match="not a portable IR model"):
        portable.api.convert(portable.import_model(est), format="onnx", engine="skl2onnx")
