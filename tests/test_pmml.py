"""PMML export, evaluated by JPMML-Evaluator, against the reference evaluator.

The model zoo and the parity check live here and are shared with tests/test_pfa.py.
Every family the frontends support is exported and run on held-out rows, held-out rows
with NaN (where the estimator takes NaN) and threshold-probe rows. Asserted:

* 0 label flips;
* tree margins bit-exact (0 ULP); linear margins within the dot product's float64
  rounding;
* predictions within the float32 rounding of the margin: the change that moving each
  margin by one float32 ULP makes through the (exact) link, plus 2 ULP of the row's
  largest output.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import portable
from portable import ir
from portable.ir.evaluate import apply_transform, post_transform, prepare_input
from portable.parity import compare

NS = {"p": "http://www.dmg.org/PMML-4_4"}


# ----------------------------------------------------------------------------- model zoo
def _data(kind: str, nan: bool, seed: int = 0):
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
    from sklearn.model_selection import train_test_split

    if kind.startswith("mixed"):
        rng = np.random.default_rng(seed)
        n = 400
        X = np.empty((n, 4), dtype=object)
        X[:, 0] = rng.choice(["red", "green", "blue"], n)
        X[:, 1] = rng.choice(["S", "M", "L", "XL"], n)
        X[:, 2:] = rng.normal(size=(n, 2)).astype(np.float32).astype(np.float64)
        y = ((X[:, 0] == "red") + X[:, 2].astype(float) - X[:, 3].astype(float) / 2 > .5)
        y = np.where(X[:, 1] == "XL", 2, y.astype(int)) if kind == "mixed3" else y.astype(int)
    else:
        loader = {"reg": load_diabetes, "bin": load_breast_cancer, "multi": load_iris}[kind]
        X, y = loader(return_X_y=True)
        X = X.astype(np.float32).astype(np.float64)  # training values: exact float32 thresholds
        if nan:
            X = X.copy()
            X[np.random.default_rng(seed).random(X.shape) < 0.15] = np.nan
    return train_test_split(X, y, test_size=0.3, random_state=seed)


def _cases() -> dict:
    """name -> (data kind, takes NaN, factory). Small models: the suite stays fast."""
    import xgboost as xgb
    from sklearn import compose, ensemble as en, impute, linear_model as lm, svm
    from sklearn import pipeline as pl, preprocessing as pp, tree as tr

    def onehot_ct(**kw):
        return compose.ColumnTransformer(
            [("oh", pp.OneHotEncoder(**kw), [0, 1]), ("sc", pp.StandardScaler(), [2, 3])])

    return {
        "xgb_reg": ("reg", True, lambda: xgb.XGBRegressor(n_estimators=20, max_depth=3)),
        "xgb_binary": ("bin", True, lambda: xgb.XGBClassifier(n_estimators=20, max_depth=3)),
        "xgb_multi": ("multi", True, lambda: xgb.XGBClassifier(n_estimators=10, max_depth=3)),
        "xgb_poisson": ("reg", True, lambda: xgb.XGBRegressor(
            objective="count:poisson", n_estimators=10, max_depth=3)),
        "dt_reg": ("reg", True, lambda: tr.DecisionTreeRegressor(max_depth=5)),
        "rf_reg": ("reg", True, lambda: en.RandomForestRegressor(8, max_depth=5, random_state=0)),
        "rf_binary": ("bin", True, lambda: en.RandomForestClassifier(
            8, max_depth=5, random_state=0)),
        "et_multi": ("multi", False, lambda: en.ExtraTreesClassifier(
            8, max_depth=4, random_state=0)),
        "gb_reg": ("reg", False, lambda: en.GradientBoostingRegressor(
            n_estimators=15, max_depth=3)),
        "gb_binary": ("bin", False, lambda: en.GradientBoostingClassifier(
            n_estimators=15, max_depth=3)),
        "gb_multi": ("multi", False, lambda: en.GradientBoostingClassifier(
            n_estimators=8, max_depth=3)),
        "hgb_reg": ("reg", True, lambda: en.HistGradientBoostingRegressor(max_iter=15)),
        "hgb_binary": ("bin", True, lambda: en.HistGradientBoostingClassifier(max_iter=15)),
        "hgb_multi": ("multi", True, lambda: en.HistGradientBoostingClassifier(max_iter=8)),
        "hgb_poisson": ("reg", True, lambda: en.HistGradientBoostingRegressor(
            loss="poisson", max_iter=10)),
        "ridge": ("reg", False, lambda: lm.Ridge()),
        "linsvc_binary": ("bin", False, lambda: pl.make_pipeline(
            pp.StandardScaler(), svm.LinearSVC())),
        "logreg_binary": ("bin", False, lambda: pl.make_pipeline(
            pp.StandardScaler(), lm.LogisticRegression(max_iter=500))),
        "logreg_multi": ("multi", False, lambda: pl.make_pipeline(
            pp.StandardScaler(), lm.LogisticRegression(max_iter=500))),
        "linsvc_multi": ("multi", False, lambda: pl.make_pipeline(
            pp.RobustScaler(), svm.LinearSVC())),
        "imputer_scaler_gb": ("reg", True, lambda: pl.make_pipeline(
            impute.SimpleImputer(), pp.StandardScaler(),
            en.GradientBoostingRegressor(n_estimators=10))),
        "minmax_clip_rf": ("multi", True, lambda: pl.make_pipeline(
            pp.MinMaxScaler(clip=True), en.RandomForestClassifier(5, random_state=0))),
        "scaler_xgb": ("bin", True, lambda: pl.make_pipeline(
            pp.StandardScaler(), xgb.XGBClassifier(n_estimators=10, max_depth=3))),
        "onehot_scaler_logreg": ("mixed", False, lambda: pl.make_pipeline(
            onehot_ct(handle_unknown="ignore"), lm.LogisticRegression(max_iter=500))),
        "onehot_rf_multi": ("mixed3", False, lambda: pl.make_pipeline(
            compose.ColumnTransformer([("oh", pp.OneHotEncoder(drop="first"), [0, 1])],
                                      remainder="passthrough"),
            en.RandomForestClassifier(5, max_depth=4, random_state=0))),
    }


CASES = sorted(_cases())


@functools.lru_cache(maxsize=None)
def fitted(name: str):
    """(estimator, IR model, {rows kind: X}) for a zoo case, fitted once per process."""
    from threadpoolctl import threadpool_limits

    kind, takes_nan, make = _cases()[name]
    nan = bool(takes_nan)  # with NaN in training, so that the NaN branches are real
    Xtr, Xte, ytr, _ = _data(kind, nan)
    # One thread: OpenMP start-up on a busy 2-core machine took seconds per first fit.
    with threadpool_limits(1):
        est = make().fit(Xtr, ytr)
    rows = {"heldout": _data(kind, False)[1], "nan": Xte} if nan else {"heldout": Xte}
    model = portable.import_model(est)
    rows["probe"] = portable.probe_rows(model, n=240)
    return est, model, rows


def tolerance(model: ir.Model, X) -> tuple[np.ndarray, np.ndarray]:
    """(margin tolerance, prediction tolerance) per cell, as described in the docstring."""
    est = model.estimator
    margin = ir.evaluate(model, X, output="margin")
    pred = ir.evaluate(model, X)
    dt = pred.dtype
    if isinstance(est, ir.TreeEnsemble):
        m_tol = np.zeros(margin.shape)
    else:
        Z = prepare_input(model.signature, X)
        for step in model.transforms:
            Z = apply_transform(step, Z)
        Z = np.asarray(Z, dtype=np.float64)
        terms = np.abs(Z) @ np.abs(est.coef).T + np.abs(est.intercept)
        m_tol = (Z.shape[1] + 1) * np.finfo(np.float64).eps * terms

    def link(m):  # in float64: the true sensitivity, not float32's quantised one
        out = post_transform(est.post_transform, m, np.dtype(np.float64))
        return np.hstack([1 - out, out]) if out.shape[1] == 1 and pred.shape[1] == 2 else out

    m64 = margin.astype(np.float64)
    base = link(m64)
    p_tol = np.zeros(pred.shape)
    for j in range(margin.shape[1]):
        step = np.zeros(margin.shape)
        step[:, j] = np.spacing(np.abs(margin[:, j].astype(np.float32))).astype(np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            moved = np.maximum(np.abs(link(m64 + step) - base), np.abs(link(m64 - step) - base))
        p_tol += np.nan_to_num(moved, nan=np.inf)
    # Plus 2 ULP of the row's largest output: p0 = 1 - p1 inherits p1's rounding.
    p_tol += 2 * np.spacing(np.abs(pred).max(axis=1, keepdims=True).astype(dt)).astype(float)
    return m_tol, p_tol


def check_parity(model: ir.Model, X, margin, pred) -> dict:
    """Assert the parity contract for one row set; return the measured numbers."""
    cls = model.signature.task == "classification"
    ref_m = ir.evaluate(model, X, output="margin")
    ref_p = ir.evaluate(model, X)
    assert pred.shape == ref_p.shape and margin.shape == ref_m.shape
    cm = compare(ref_m, margin, classification=cls)
    cp = compare(ref_p, pred, classification=cls)
    m_tol, p_tol = tolerance(model, X)
    dm = np.abs(ref_m.astype(np.float64) - margin.astype(np.float64))
    dp = np.abs(ref_p.astype(np.float64) - pred.astype(np.float64))
    assert cp["label_flips"] == 0
    assert np.all(dm <= m_tol), f"margin off by {dm.max():.3g} (tolerance {m_tol.max():.3g})"
    assert np.all(dp <= p_tol), (
        f"prediction off by {dp.max():.3g} > the margin's float32 rounding "
        f"({p_tol.ravel()[np.argmax(dp - p_tol)]:.3g}) at row {int(np.argmax(dp.max(1)))}")
    return {"margin_ulp": cm["max_ulp"], "pred_ulp": cp["max_ulp"], "flips": cp["label_flips"],
            "dtype": cp["ulp_dtype"], "rows": len(ref_p)}


# ----------------------------------------------------------------------------- fixtures
def _session(model: ir.Model, tmp_path, **options):
    from portable.api import convert

    bundle = convert(model, format="pmml", **options)
    art = bundle.save(tmp_path / "pmml", check=False)
    return portable.api.load(art.path)


# ----------------------------------------------------------------------------- parity
@pytest.mark.parametrize("name", CASES)
def test_jpmml_matches_the_reference_on_heldout_nan_and_threshold_rows(name, jpmml, tmp_path):
    _, model, rows = fitted(name)
    session = _session(model, tmp_path)  # load() also verifies the embedded golden rows
    try:
        for kind, X in rows.items():
            stats = check_parity(model, X, session.predict(X, output="margin"),
                                 session.predict(X))
            if isinstance(model.estimator, ir.TreeEnsemble):
                assert stats["margin_ulp"] == 0, (kind, stats)
            if model.estimator.post_transform == "identity":
                assert stats["pred_ulp"] == stats["margin_ulp"], (kind, stats)
    finally:
        session.close()


def test_xgboost_float32_links_stay_within_a_few_ulp(jpmml, tmp_path):
    # JPMML's float exp is (float) Math.pow(2.7182817f, x): a few ULP from a correct expf.
    _, model, rows = fitted("xgb_multi")
    s = _session(model, tmp_path)
    for X in rows.values():
        c = compare(ir.evaluate(model, X), s.predict(X))
        assert c["ulp_dtype"] == "float32" and c["max_ulp"] <= 8


def test_sklearn_float64_thresholds_are_exact_for_float32_inputs(jpmml, tmp_path):
    # x32 <= t  iff  x32 <= floor32(t): the document holds floor32(t) for a float field.
    t = float(np.float32(0.1)) + 1e-12  # strictly between two float32 values
    ens = ir.TreeEnsemble(
        trees=(ir.Tree(np.array([0, -1, -1], np.int32), np.array([t, 0, 0]),
                       np.array([1, -1, -1], np.int32), np.array([2, -1, -1], np.int32),
                       np.array([False, False, False]), np.array([[0.0], [1.0], [2.0]])),),
        n_features=1, n_outputs=1, base_score=np.zeros(1), split_op="<=",
        input_dtype="float32", threshold_dtype="float64", accumulate_dtype="float64")
    sig = ir.Signature(("x",), ("float64",), "regression", ("prediction",), "value")
    model = ir.Model(sig, (ens,), ir.Source("test", "0", "Stump"))
    f = np.float32(0.1)
    X = np.array([[float(np.nextafter(f, np.float32(0)))], [float(f)], [0.1], [t],
                  [float(np.nextafter(f, np.float32(1)))], [np.nan]])
    got = _session(model, tmp_path).predict(X)[:, 0]
    assert got.tolist() == ir.evaluate(model, X)[:, 0].tolist() == [1, 1, 1, 1, 2, 2]


# ----------------------------------------------------------------------------- document
def _doc(model) -> ET.Element:
    from portable.converters.pmml import to_pmml

    # Our own bytes, no DTD: ElementTree resolves no external entities.
    return ET.fromstring(to_pmml(model))


def test_xgboost_document_declares_float_semantics_and_default_children():
    _, model, _ = fitted("xgb_binary")
    root = _doc(model)
    fields = root.findall("p:DataDictionary/p:DataField", NS)
    assert {f.get("dataType") for f in fields[:-1]} == {"float"}
    models = [el for el in root.iter() if el.tag.endswith(("TreeModel", "MiningModel",
                                                           "RegressionModel"))]
    assert models and all(m.get("x-mathContext") == "float" for m in models)
    trees = root.findall(".//p:TreeModel", NS)
    assert all(t.get("missingValueStrategy") == "defaultChild" for t in trees)
    inner = [n for n in root.iter("{%s}Node" % NS["p"]) if n.find("p:Node", NS) is not None]
    assert inner and all(n.get("defaultChild") for n in inner)
    assert root.find(".//p:ModelVerification/p:InlineTable/p:row", NS) is not None
    outs = [o.get("name") for o in root.findall("p:MiningModel/p:Output/p:OutputField", NS)]
    assert outs == ["probability(0)", "probability(1)", "margin(0)", "label"]


def test_transforms_become_derived_fields_in_sklearn_order():
    _, model, _ = fitted("onehot_scaler_logreg")
    root = _doc(model)
    derived = root.findall("p:TransformationDictionary/p:DerivedField", NS)
    names = [d.get("name") for d in derived]
    assert "f0=red" in names and "scaled(f2)" in names
    scaled = derived[names.index("scaled(f2)")].find("p:Apply", NS)
    assert scaled.get("function") == "/" and scaled.find("p:Apply", NS).get("function") == "-"


def test_export_needs_no_jvm_and_is_deterministic():
    code = textwrap.dedent("""
        import sys, numpy as np, xgboost as xgb, portable
        from portable.converters.pmml import to_pmml
        rng = np.random.default_rng(0)
        X = rng.normal(size=(300, 5)); y = X[:, 0] + rng.normal(size=300)
        m = portable.import_model(xgb.XGBRegressor(n_estimators=30, max_depth=4).fit(X, y))
        assert to_pmml(m) == to_pmml(m)
        bad = [k for k in sys.modules if k.split('.')[0] in ('jpmml_evaluator', 'py4j', 'jpype')]
        print('loaded:', bad)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr
    assert "loaded: []" in out.stdout


def test_tampered_golden_rows_fail_verification_at_load(jpmml, tmp_path):
    from portable.converters.pmml import to_pmml
    from portable.errors import ArtifactError
    from portable.runtimes.jpmml import JpmmlSession

    _, model, _ = fitted("gb_reg")
    doc = to_pmml(model).decode()
    i = doc.index("<y0>") + 4
    j = doc.index("</y0>")
    bad = doc[:i] + repr(float(doc[i:j]) + 1.0) + doc[j:]
    with pytest.raises(ArtifactError, match="ModelVerification"):
        JpmmlSession(bad.encode(), model.signature)
    JpmmlSession(doc.encode(), model.signature).close()


def test_unknown_category_is_an_input_error_when_the_encoder_says_error(jpmml, tmp_path):
    from portable.errors import InputError

    _, model, rows = fitted("onehot_rf_multi")  # OneHotEncoder(drop="first"): unknown = error
    s = _session(model, tmp_path)
    X = rows["heldout"][:3].copy()
    X[1, 0] = "purple"
    with pytest.raises(InputError, match="row 1"):
        s.predict(X)


# ----------------------------------------------------------------------------- runtime
def test_unavailable_runtime_names_the_extra_and_java(monkeypatch, tmp_path):
    import shutil

    from portable.errors import RuntimeUnavailableError
    from portable.runtimes import jpmml as mod

    monkeypatch.setattr(shutil, "which", lambda name: None)
    why = mod.JpmmlRuntime.available()
    assert 'pip install "portable[pmml]"' in why and "Java" in why and "`java`" in why
    _, model, _ = fitted("ridge")
    from portable.api import convert
    art = convert(model, format="pmml").save(tmp_path / "a", check=False)
    with pytest.raises(RuntimeUnavailableError, match="portable\\[pmml\\]"):
        portable.api.load(art.path)


def test_batches_go_to_the_jvm_in_one_call_and_empty_input_works(jpmml, tmp_path):
    _, model, rows = fitted("xgb_reg")
    s = _session(model, tmp_path)
    calls = []
    real = s._ev.evaluateAll
    s._ev.evaluateAll = lambda df, **kw: calls.append(len(df)) or real(df, **kw)
    X = np.vstack([rows["heldout"]] * 4)
    assert s.predict(X).shape == (len(X), 1) and calls == [len(X)]
    assert s.predict(X[:0]).shape == (0, 1)
    assert s.predict(X[0]).shape == (1, 1)  # one 1-D row


_CHILD = textwrap.dedent("""
    import os, signal, sys, numpy as np, portable
    from sklearn.linear_model import LinearRegression
    from portable.api import export, load
    from portable.runtimes.jpmml import jvm_pid
    est = LinearRegression().fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0])
    export(est, format="pmml", out_dir=sys.argv[1], check=False)
    s = load(sys.argv[1])
    assert abs(s.predict(np.array([[3.0]]))[0, 0] - 3.0) < 1e-12
    print(jvm_pid(), flush=True)
    if sys.argv[2] == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
""")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("how", ["exit", "kill"])
def test_no_java_process_outlives_a_predicting_process(how, jpmml, tmp_path):
    if not os.path.isdir("/proc"):
        pytest.skip("needs /proc")
    out = subprocess.run([sys.executable, "-c", _CHILD, str(tmp_path / "a"), how],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == (0 if how == "exit" else -9), out.stderr
    pids = [int(p) for p in out.stdout.split()]
    assert len(pids) == 1, out.stdout  # exactly one JVM was spawned for the process
    deadline = time.time() + 15
    while _alive(pids[0]) and time.time() < deadline:
        time.sleep(0.1)
    assert not _alive(pids[0]), f"JVM {pids[0]} outlived its Python process ({how})"


# ----------------------------------------------------------------------------- pypmml
def test_pypmml_disagrees_at_xgboost_thresholds_where_jpmml_does_not(jpmml, tmp_path):
    """pypmml compares in double: float32 threshold rows flip. Shown, not hidden."""
    pypmml = pytest.importorskip("pypmml")
    import pandas as pd
    import xgboost as xgb

    from portable.converters.pmml import to_pmml

    Xtr, Xte, ytr, _ = _data("bin", False)
    model = portable.import_model(xgb.XGBClassifier(n_estimators=20, max_depth=3).fit(Xtr, ytr))
    pm = pypmml.Model.fromString(to_pmml(model, verification=False).decode())
    names = list(model.signature.feature_names)
    jittered = Xte * (1 + np.random.default_rng(0).normal(size=Xte.shape) * 1e-3)
    probes = portable.probe_rows(model, n=240, nan=False)
    got = {k: pm.predict(pd.DataFrame(X, columns=names))[names and list(
        model.signature.output_names)].to_numpy(float) for k, X in
        (("jittered", jittered), ("probe", probes))}
    ok = compare(ir.evaluate(model, jittered), got["jittered"], classification=True)
    bad = compare(ir.evaluate(model, probes), got["probe"], classification=True)
    assert ok["label_flips"] == 0 and ok["max_abs"] < 1e-6
    assert bad["label_flips"] > 0 and bad["max_abs"] > 0.1
    s = _session(model, tmp_path)
    assert compare(ir.evaluate(model, probes), s.predict(probes),
                   classification=True)["label_flips"] == 0


# ----------------------------------------------------------------------------- edge cases
def odd_names_model():
    """A tree fitted on a DataFrame whose column names are not XML/Avro-safe."""
    import pandas as pd
    from sklearn.tree import DecisionTreeClassifier

    Xtr, _, ytr, _ = _data("multi", False)
    cols = ["sepal length (cm)", "x<y & \"z\"", "1st", "ünï-cödé"]
    return portable.import_model(DecisionTreeClassifier(max_depth=4, random_state=0).fit(
        pd.DataFrame(Xtr, columns=cols), ytr)), pd.DataFrame(Xtr[:40], columns=cols)


def test_deep_trees_and_odd_feature_names(jpmml, tmp_path):
    from _ir_factory import chain_tree

    deep = chain_tree(400)
    X = np.arange(-1, 402, dtype=np.float64).reshape(-1, 1)
    assert np.array_equal(_session(deep, tmp_path / "deep").predict(X), ir.evaluate(deep, X))
    model, df = odd_names_model()
    s = _session(model, tmp_path / "odd")
    assert np.array_equal(s.predict(df), ir.evaluate(model, df))
    assert np.array_equal(s.predict(df[df.columns[::-1]]), ir.evaluate(model, df))  # by name


def nan_split_model() -> ir.Model:
    """HistGradientBoosting's missing-values-only split: threshold +inf, ``x <= inf``."""
    trees = []
    for dl in (True, False):
        trees.append(ir.Tree(np.array([0, -1, -1], np.int32), np.array([np.inf, 0, 0]),
                             np.array([1, -1, -1], np.int32), np.array([2, -1, -1], np.int32),
                             np.array([dl, False, False]),
                             np.array([[0.0], [1.0], [10.0]]) * (1 + 99 * (not dl))))
    ens = ir.TreeEnsemble(tuple(trees), n_features=1, n_outputs=1, base_score=np.zeros(1),
                          split_op="<=", input_dtype="float64", threshold_dtype="float64",
                          accumulate_dtype="float64")
    sig = ir.Signature(("x",), ("float64",), "regression", ("prediction",), "value")
    return ir.Model(sig, (ens,), ir.Source("test", "0", "NanSplit"))


def test_infinite_thresholds_and_inputs(jpmml, tmp_path):
    model = nan_split_model()
    X = np.array([[0.0], [1e300], [-np.inf], [np.inf], [np.nan]])
    got = _session(model, tmp_path).predict(X)
    assert got[:, 0].tolist() == ir.evaluate(model, X)[:, 0].tolist() == [101] * 4 + [1001]
