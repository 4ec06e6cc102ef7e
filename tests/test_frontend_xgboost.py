"""The XGBoost frontend reproduces XGBoost's own numbers.

Margins must equal ``Booster.predict(DMatrix(X), output_margin=True)`` bit for bit (0 float32
ULP) and predictions must be within 4 float32 ULP of XGBoost's, on held-out rows, rows with
~15% NaN (models are trained with NaN too) and threshold-probe rows (features exactly at each
split threshold and one float32 ULP either side).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import subprocess
import sys
import time

import numpy as np
import pytest

xgb = pytest.importorskip("xgboost")
from sklearn.datasets import make_classification, make_regression  # noqa: E402

import portable  # noqa: E402
from portable.errors import ModelLoadError, NotFittedError, UnsupportedFeatureError  # noqa: E402
from portable.frontends import FRONTENDS  # noqa: E402
from portable.frontends import _ubjson  # noqa: E402
from portable.parity import compare  # noqa: E402

FE = FRONTENDS.get("xgboost")
SMALL = dict(n_estimators=12, max_depth=4, learning_rate=0.3, tree_method="hist", n_jobs=1,
             random_state=0)
RF = dict(n_estimators=8, max_depth=4, n_jobs=1, random_state=0)
NAN_RATE = 0.15
MAX_PRED_ULP = 4


# ----------------------------------------------------------------------------- data
def _with_nan(X, seed):
    X = X.copy()
    X[np.random.default_rng(seed).random(X.shape) < NAN_RATE] = np.nan
    return X


def _data(kind: str):
    """(X_train with NaN, y_train, X_test clean) for a target kind; fixed seeds."""
    if kind in ("binary", "multi"):
        X, y = make_classification(700, 6, n_informative=4, n_redundant=1,
                                   n_classes=2 if kind == "binary" else 3, random_state=1)
    else:
        X, y = make_regression(700, 6, n_informative=4, noise=5.0, random_state=2)
        if kind == "positive":  # poisson / gamma / tweedie / cox
            y = np.exp(y / y.std())
        elif kind == "unit":  # reg:logistic
            y = 1.0 / (1.0 + np.exp(-y / y.std()))
        elif kind == "cox":  # negative label = censored
            y = np.exp(y / y.std()) * np.where(np.arange(y.size) % 5 == 0, -1, 1)
        elif kind == "multi_target":
            y = np.column_stack([y, 0.5 * y + X[:, 0], -y])
    return _with_nan(X[:500], seed=3), y[:500], X[500:]


# ----------------------------------------------------------------------------- cases
# name -> (data kind, estimator factory, or xgb.train parameters for a Booster)
def _fit(est, kind):
    X, y, _ = _data(kind)
    if isinstance(est, xgb.XGBRanker):
        return est.fit(X, y, qid=np.arange(len(y)) // 50)
    return est.fit(X, y)


def _train(params, kind, rounds=12):
    X, y, _ = _data(kind)
    return xgb.train({"max_depth": 4, "eta": 0.3, "nthread": 1, "seed": 0, **params},
                     xgb.DMatrix(X, label=y), rounds)


def _reg(**kw):
    return lambda: xgb.XGBRegressor(**SMALL, **kw)


def _clf(**kw):
    return lambda: xgb.XGBClassifier(**SMALL, **kw)


CASES = {
    "XGBRegressor/reg:squarederror": ("reg", _reg()),
    "XGBRegressor/reg:logistic": ("unit", _reg(objective="reg:logistic")),
    "XGBRegressor/count:poisson": ("positive", _reg(objective="count:poisson")),
    "XGBRegressor/reg:tweedie": ("positive", _reg(objective="reg:tweedie")),
    "XGBRegressor/reg:gamma": ("positive", _reg(objective="reg:gamma")),
    "XGBRegressor/reg:absoluteerror": ("reg", _reg(objective="reg:absoluteerror")),
    "XGBRegressor/reg:pseudohubererror": ("reg", _reg(objective="reg:pseudohubererror")),
    "XGBRegressor/reg:quantileerror(3 alphas)": ("reg", _reg(
        objective="reg:quantileerror", quantile_alpha=[0.2, 0.5, 0.8])),
    "XGBRegressor/multi-target": ("multi_target", _reg()),
    "XGBRegressor/multi_output_tree": ("multi_target", _reg(multi_strategy="multi_output_tree")),
    "XGBClassifier/binary:logistic": ("binary", _clf()),
    "XGBClassifier/binary:logitraw": ("binary", _clf(objective="binary:logitraw")),
    "XGBClassifier/multi:softprob": ("multi", _clf()),
    "XGBClassifier/multi:softmax": ("multi", _clf(objective="multi:softmax")),
    "XGBRFRegressor/reg:squarederror": ("reg", lambda: xgb.XGBRFRegressor(**RF)),
    "XGBRFClassifier/binary:logistic": ("binary", lambda: xgb.XGBRFClassifier(**RF)),
    "XGBRFClassifier/multi:softprob": ("multi", lambda: xgb.XGBRFClassifier(**RF)),
    "XGBRanker/rank:pairwise": ("reg", lambda: xgb.XGBRanker(objective="rank:pairwise", **SMALL)),
    "Booster/reg:squarederror": ("reg", lambda: {"objective": "reg:squarederror"}),
    "Booster/binary:logistic": ("binary", lambda: {"objective": "binary:logistic"}),
    "Booster/multi:softmax": ("multi", lambda: {"objective": "multi:softmax", "num_class": 3}),
    "Booster/multi:softprob(num_parallel_tree=3)": ("multi", lambda: {
        "objective": "multi:softprob", "num_class": 3, "num_parallel_tree": 3, "subsample": 0.8}),
    "Booster/survival:cox": ("cox", lambda: {"objective": "survival:cox"}),
}


@functools.lru_cache(maxsize=None)
def fitted(case: str):
    kind, make = CASES[case]
    spec = make()
    obj = _train(spec, kind) if isinstance(spec, dict) else _fit(spec, kind)
    return obj, portable.import_model(obj)


def _booster(obj):
    return obj if isinstance(obj, xgb.Booster) else obj.get_booster()


def xgb_margin(obj, X) -> np.ndarray:
    """Booster.predict(DMatrix, output_margin=True) over the trees the object predicts with."""
    rng = (0, 0)
    if not isinstance(obj, xgb.Booster) and _booster(obj).attr("best_iteration") is not None:
        rng = (0, obj.best_iteration + 1)  # what the scikit-learn API uses
    out = _booster(obj).predict(xgb.DMatrix(X), output_margin=True, iteration_range=rng)
    return out.reshape(len(X), -1)


def xgb_prediction(obj, X) -> np.ndarray:
    """XGBoost's own prediction in the IR's layout."""
    b = _booster(obj)
    objective = json.loads(b.save_config())["learner"]["objective"]["name"]
    if objective == "multi:softmax":  # XGBoost's C++ softmax of the same margins
        b = b.copy()
        b.set_param({"objective": "multi:softprob"})
        return b.predict(xgb.DMatrix(X)).reshape(len(X), -1)
    if isinstance(obj, xgb.Booster) or objective == "binary:logitraw":
        out = b.predict(xgb.DMatrix(X)).reshape(len(X), -1)
        return np.hstack([1 - out, out]) if objective == "binary:logistic" else out
    if isinstance(obj, xgb.XGBClassifier):
        return obj.predict_proba(X)
    return obj.predict(X).reshape(len(X), -1)


def rows(case: str, which: str) -> np.ndarray:
    _, _, X_test = _data(CASES[case][0])
    if which == "held_out":
        return X_test
    if which == "nan":
        return _with_nan(X_test, seed=4)
    return portable.probe_rows(fitted(case)[1], n=1500, seed=0, background=_with_nan(X_test, 4))


ROW_KINDS = ("held_out", "nan", "probes")


def _ulp(reference, got) -> float:
    """Largest float32 ULP distance between two arrays of the same shape."""
    return compare(np.asarray(reference), np.asarray(got), dtype=np.float32)["max_ulp"]


@pytest.mark.parametrize("which", ROW_KINDS)
@pytest.mark.parametrize("case", list(CASES))
def test_margin_matches_xgboost_bit_for_bit(case, which):
    obj, m = fitted(case)
    X = rows(case, which)
    got = portable.evaluate(m, X, output="margin")
    assert got.dtype == np.float32
    res = compare(xgb_margin(obj, X), got, dtype=np.float32)
    assert res["max_ulp"] == 0, res


@pytest.mark.parametrize("which", ROW_KINDS)
@pytest.mark.parametrize("case", list(CASES))
def test_prediction_within_4_float32_ulp_of_xgboost(case, which):
    obj, m = fitted(case)
    X = rows(case, which)
    res = compare(xgb_prediction(obj, X), portable.evaluate(m, X), dtype=np.float32,
                  classification=m.signature.task == "classification")
    assert res["max_ulp"] <= MAX_PRED_ULP, res
    assert res["label_flips"] == 0, res


def test_probe_rows_sit_on_thresholds_so_a_wrong_split_op_is_caught():
    obj, m = fitted("XGBClassifier/multi:softprob")
    X = rows("XGBClassifier/multi:softprob", "probes")
    wrong = dataclasses.replace(m, steps=(dataclasses.replace(m.estimator, split_op="<="),))
    # the probes discriminate "<" from "<="
    assert _ulp(xgb_margin(obj, X), portable.evaluate(wrong, X, output="margin")) > 0


def test_multi_softmax_labels_are_the_argmax_of_the_ir_probabilities():
    obj, m = fitted("XGBClassifier/multi:softmax")
    X = rows("XGBClassifier/multi:softmax", "nan")
    assert m.signature.prediction_kind == "probability"
    np.testing.assert_array_equal(portable.ir.labels(m, portable.evaluate(m, X)), obj.predict(X))
    # scikit-learn's predict_proba for multi:softmax is scipy's softmax of the margin
    res = compare(obj.predict_proba(X), portable.evaluate(m, X), dtype=np.float32)
    assert res["max_ulp"] <= 8, res


def test_signature_and_source_describe_the_model():
    obj, m = fitted("XGBClassifier/multi:softprob")
    s = m.signature
    assert s.feature_names == tuple(f"f{i}" for i in range(6))
    assert s.feature_types == ("float32",) * 6
    assert (s.task, s.classes, s.prediction_kind) == ("classification", (0, 1, 2), "probability")
    assert s.output_names == ("probability(0)", "probability(1)", "probability(2)")
    assert m.source == portable.ir.Source("xgboost", xgb.__version__, "XGBClassifier",
                                          "multi:softprob")
    e = m.estimator
    assert (e.split_op, e.input_dtype, e.threshold_dtype, e.accumulate_dtype) == (
        "<", "float32", "float32", "float32")
    assert [t.output_offset for t in e.trees[:6]] == [0, 1, 2, 0, 1, 2]
    raw = fitted("XGBClassifier/binary:logitraw")[1].signature
    assert (raw.prediction_kind, raw.output_names, raw.classes) == (
        "decision", ("decision",), (0, 1))
    reg = fitted("XGBRegressor/reg:logistic")[1]
    assert (reg.signature.task, reg.estimator.post_transform) == ("regression", "logistic")


def test_logistic_base_score_margin_uses_xgboost_float32_logit():
    # base_score is saved as a probability; XGBoost's margin is -logf(1/p - 1) in float32.
    obj, m = fitted("Booster/binary:logistic")
    saved = json.loads(obj.save_config())["learner"]["learner_model_param"]["base_score"]
    p = np.float32(saved.strip("[]"))
    assert m.estimator.base_score[0] != p
    X = np.full((1, 6), np.nan)
    first = dataclasses.replace(m.estimator, trees=m.estimator.trees[:1])
    # one tree + base: equal to XGBoost's first-round margin bit for bit
    one = obj.predict(xgb.DMatrix(X), output_margin=True, iteration_range=(0, 1))
    got = portable.evaluate(dataclasses.replace(m, steps=(first,)), X, output="margin")
    assert got[0, 0] == one[0]


def test_dataframe_fitted_model_keeps_feature_names_and_reads_columns_by_name():
    pd = pytest.importorskip("pandas")
    X, y, X_test = _data("reg")
    cols = ["age", "height", "weight", "x 1", "é", "last"]
    est = xgb.XGBRegressor(**SMALL).fit(pd.DataFrame(X, columns=cols), y)
    m = portable.import_model(est)
    assert m.signature.feature_names == tuple(cols)
    shuffled = pd.DataFrame(X_test, columns=cols)[cols[::-1]]
    res = compare(est.predict(pd.DataFrame(X_test, columns=cols)).reshape(-1, 1),
                  portable.evaluate(m, shuffled), dtype=np.float32)
    assert res["max_ulp"] == 0


@pytest.mark.parametrize("case", ["XGBClassifier/multi:softprob", "XGBRegressor/reg:gamma",
                                  "XGBRFClassifier/binary:logistic", "Booster/multi:softmax",
                                  "XGBRegressor/multi_output_tree", "XGBRanker/rank:pairwise"])
def test_json_and_ubj_files_give_the_same_ir_as_the_live_object(case, tmp_path):
    obj, m = fitted(case)
    prints = {m.fingerprint()}
    for ext in ("json", "ubj"):
        obj.save_model(tmp_path / f"model.{ext}")
        from_file = portable.import_model(tmp_path / f"model.{ext}")
        assert from_file.source == m.source
        prints.add(from_file.fingerprint())
    assert len(prints) == 1


def test_json_node_array_shortcut_reads_what_json_reads_even_on_tricky_files(tmp_path):
    obj, m = fitted("XGBClassifier/multi:softprob")
    b = obj.get_booster()
    b.set_attr(note='"left_children":[1, 2]')  # escaped quotes: not a node array
    doc = json.loads(b.save_raw("json"))
    b.set_attr(note=None)
    tricky = json.loads(json.dumps(doc))
    # a key that ends in "left_children" followed by an array: the shortcut must fall back
    tricky["extra"] = {'"left_children': [1, 2], "x": '"split_conditions":[0.5]'}
    variants = {"xgboost.json": json.dumps(doc).encode(),
                "pretty.json": json.dumps(doc, indent=2).encode(),
                "compact.json": json.dumps(doc, separators=(",", ":")).encode(),
                "tricky.json": json.dumps(tricky).encode()}
    for name, data in variants.items():
        (tmp_path / name).write_bytes(data)
        got = portable.import_model(tmp_path / name)
        assert portable.ir.fingerprint(dataclasses.replace(got, source=m.source)) == \
            m.fingerprint(), name


def test_files_import_without_xgboost_installed(tmp_path):
    obj, m = fitted("XGBClassifier/binary:logistic")
    obj.save_model(tmp_path / "m.json")
    obj.save_model(tmp_path / "m.ubj")
    code = (
        "import sys; sys.modules['xgboost'] = None\n"
        "import portable\n"
        f"a = portable.import_model({str(tmp_path / 'm.json')!r})\n"
        f"b = portable.import_model({str(tmp_path / 'm.ubj')!r})\n"
        "assert 'xgboost' not in [k for k, v in sys.modules.items() if v is not None]\n"
        "print(a.fingerprint(), b.fingerprint())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [m.fingerprint()] * 2


def test_booster_and_sklearn_wrapper_import_the_same_ensemble():
    obj, m = fitted("XGBClassifier/binary:logistic")
    mb = portable.import_model(obj.get_booster())
    assert mb.source.estimator == "Booster"
    assert mb.signature == m.signature
    assert portable.ir.fingerprint(dataclasses.replace(mb, source=m.source)) == m.fingerprint()


def test_early_stopping_wrapper_keeps_best_iteration_trees_booster_keeps_all(tmp_path):
    X, y, X_test = _data("multi")
    est = xgb.XGBClassifier(n_estimators=60, max_depth=3, learning_rate=0.9, n_jobs=1,
                            early_stopping_rounds=3, random_state=0)
    est.fit(X[:350], y[:350], eval_set=[(X[350:], y[350:])], verbose=False)
    rounds = est.get_booster().num_boosted_rounds()
    assert est.best_iteration + 1 < rounds  # early stopping did stop after the best round
    m, mb = portable.import_model(est), portable.import_model(est.get_booster())
    assert m.estimator.n_trees == 3 * (est.best_iteration + 1)
    assert mb.estimator.n_trees == 3 * rounds
    Xn = _with_nan(X_test, 5)
    assert _ulp(est.predict_proba(Xn), portable.evaluate(m, Xn)) <= 1
    full = est.get_booster().predict(xgb.DMatrix(Xn), output_margin=True)
    assert _ulp(full, portable.evaluate(mb, Xn, output="margin")) == 0
    # a file saved by the wrapper predicts as the wrapper does after load_model
    est.save_model(tmp_path / "es.ubj")
    reloaded = xgb.XGBClassifier()
    reloaded.load_model(tmp_path / "es.ubj")
    mf = portable.import_model(tmp_path / "es.ubj")
    assert mf.fingerprint() == m.fingerprint()
    assert _ulp(reloaded.predict_proba(Xn), portable.evaluate(mf, Xn)) <= 1


def test_depth_40_tree_imports_and_evaluates_bit_for_bit():
    # y = 3**i: the best split always peels off the largest point, so the tree is a chain.
    X = np.arange(80, dtype=np.float64)[:, None]
    y = 3.0 ** np.arange(80) / 3.0 ** 40
    b = xgb.train({"tree_method": "exact", "max_depth": 60, "lambda": 0, "min_child_weight": 0,
                   "eta": 1.0, "base_score": 0.0, "nthread": 1}, xgb.DMatrix(X, label=y), 1)
    m = portable.import_model(b)
    assert m.estimator.max_depth() >= 40
    P = np.vstack([X, portable.probe_rows(m, n=400)])
    res = compare(b.predict(xgb.DMatrix(P), output_margin=True).reshape(-1, 1),
                  portable.evaluate(m, P, output="margin"), dtype=np.float32)
    assert res["max_ulp"] == 0


def test_exact_method_pruned_nodes_are_dropped_and_the_margin_is_exact():
    X, y, X_test = _data("reg")
    b = xgb.train({"tree_method": "exact", "gamma": 2000.0, "max_depth": 6, "nthread": 1},
                  xgb.DMatrix(X, label=y), 10)
    deleted = [int(t["tree_param"]["num_deleted"]) for t in
               json.loads(b.save_raw("json"))["learner"]["gradient_booster"]["model"]["trees"]]
    assert sum(deleted) > 0  # the pruner left unreachable nodes in the saved arrays
    m = portable.import_model(b)
    Xn = np.vstack([_with_nan(X_test, 6), portable.probe_rows(m, n=600)])
    res = compare(b.predict(xgb.DMatrix(Xn), output_margin=True).reshape(-1, 1),
                  portable.evaluate(m, Xn, output="margin"), dtype=np.float32)
    assert res["max_ulp"] == 0


@pytest.mark.slow
def test_2000_trees_of_depth_10_import_in_under_5_seconds(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(2000, 20)), rng.normal(size=2000)  # noise: every tree grows deep
    b = xgb.train({"max_depth": 10, "tree_method": "hist", "nthread": 2, "eta": 0.02,
                   "lambda": 0.0, "min_child_weight": 0}, xgb.DMatrix(X, label=y), 2000)
    b.save_model(tmp_path / "big.json")
    b.save_model(tmp_path / "big.ubj")
    timings = {}
    for label, source in (("Booster", b), (".json", tmp_path / "big.json"),
                          (".ubj", tmp_path / "big.ubj")):
        t0 = time.perf_counter()
        m = portable.import_model(source)
        timings[label] = time.perf_counter() - t0
    nodes = sum(t.n_nodes for t in m.estimator.trees)
    print(f"\n2,000 trees, depth {m.estimator.max_depth()}, {nodes} nodes: import "
          + ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()))
    assert m.estimator.n_trees == 2000 and m.estimator.max_depth() == 10
    assert max(timings.values()) < 5.0, timings
    Xt = rng.normal(size=(200, 20))
    res = compare(b.predict(xgb.DMatrix(Xt), output_margin=True).reshape(-1, 1),
                  portable.evaluate(m, Xt, output="margin"), dtype=np.float32)
    assert res["max_ulp"] == 0


# ----------------------------------------------------------------------------- refusals
@pytest.mark.parametrize("content", [
    b"", b"   \n", b"{", b'{"learner": {"gradient_booster": ', b"not a model at all",
    b"\x00\x01\x02\xff" * 10, b"[1, 2, 3]", b"{}", b'{"learner": 5}',
    b'{"learner": {"gradient_booster": {"name": "gbtree", "model": {}}}}', b"[" * 100_000,
], ids=["empty", "blank", "truncated-brace", "truncated-json", "text", "binary", "json-list",
        "empty-object", "learner-not-dict", "no-trees", "deep-nesting"])
@pytest.mark.parametrize("ext", [".json", ".ubj"])
def test_corrupt_empty_or_foreign_files_raise_model_load_error(tmp_path, content, ext):
    p = tmp_path / f"bad{ext}"
    p.write_bytes(content)
    with pytest.raises(ModelLoadError):
        portable.import_model(p)
    if content.strip():
        with pytest.raises(ModelLoadError, match="bad"):
            FE.import_file(p)


@pytest.mark.parametrize("ext", ["json", "ubj"])
def test_truncated_and_bit_flipped_model_files_raise_model_load_error(tmp_path, ext):
    obj, _ = fitted("XGBRegressor/reg:squarederror")
    obj.save_model(tmp_path / f"m.{ext}")
    data = (tmp_path / f"m.{ext}").read_bytes()
    for i, bad in enumerate([data[: len(data) // 2], data[:-1], data[:50], data + b"trailing"]):
        p = tmp_path / f"cut{i}.{ext}"
        p.write_bytes(bad)
        with pytest.raises(ModelLoadError):
            portable.import_model(p)
    doc = json.loads(obj.get_booster().save_raw("json"))
    doc["learner"]["gradient_booster"]["model"]["trees"][0]["left_children"][0] = 10**6
    (tmp_path / "broken.json").write_text(json.dumps(doc))
    with pytest.raises(ModelLoadError, match="not a consistent XGBoost model"):
        portable.import_model(tmp_path / "broken.json")


@pytest.mark.filterwarnings("ignore::UserWarning")  # gblinear: "max_depth not used"
@pytest.mark.parametrize("params, match", [
    ({"booster": "gblinear"}, "gblinear"),
    ({"booster": "dart", "rate_drop": 0.1}, "dart"),
    ({"objective": "binary:hinge"}, "binary:hinge.*Supported"),
])
def test_unsupported_booster_or_objective_raises_unsupported_feature_error(params, match, tmp_path):
    b = _train(params, "binary", rounds=3)
    with pytest.raises(UnsupportedFeatureError, match=match):
        portable.import_model(b)
    b.save_model(tmp_path / "u.json")
    with pytest.raises(UnsupportedFeatureError, match=match):
        portable.import_model(tmp_path / "u.json")


def test_categorical_splits_and_custom_objectives_are_refused():
    pd = pytest.importorskip("pandas")
    X, y, _ = _data("reg")
    df = pd.DataFrame(X[:, :2], columns=["a", "b"])
    df["c"] = pd.Categorical(np.where(y > 0, "hi", "lo"))
    est = xgb.XGBRegressor(enable_categorical=True, **SMALL).fit(df, y)
    with pytest.raises(UnsupportedFeatureError, match="categorical"):
        portable.import_model(est)

    def squared(y_true, y_pred):
        return y_pred - y_true, np.ones_like(y_pred)

    custom = xgb.XGBRegressor(objective=squared, n_estimators=2).fit(X[:, :2], y)
    with pytest.raises(UnsupportedFeatureError, match="custom"):
        portable.import_model(custom)


def test_multi_label_classifier_is_refused_with_the_supported_objectives():
    X, y, _ = _data("binary")
    Y = np.column_stack([y, 1 - y, (np.nan_to_num(X[:, 0]) > 0).astype(int)])
    est = xgb.XGBClassifier(**SMALL).fit(X, Y)
    with pytest.raises(UnsupportedFeatureError, match="multi-label"):
        portable.import_model(est)


def test_unfitted_estimators_and_empty_boosters_raise_not_fitted_error():
    for est in (xgb.XGBRegressor(), xgb.XGBClassifier(), xgb.XGBRFClassifier(), xgb.Booster()):
        with pytest.raises(NotFittedError):
            portable.import_model(est)


def test_accepts_xgboost_objects_only_and_never_imports_xgboost_to_decide():
    obj, _ = fitted("XGBRegressor/reg:squarederror")
    assert FE.accepts(obj) and FE.accepts(obj.get_booster())
    assert not FE.accepts(xgb.DMatrix(np.zeros((1, 2)))) and not FE.accepts(object())
    code = ("import sys\nfrom sklearn.linear_model import LinearRegression\n"
            "from portable.frontends import FRONTENDS\n"
            "assert not FRONTENDS.get('xgboost').accepts(LinearRegression())\n"
            "assert 'xgboost' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert set(FE.estimators) >= {"XGBRegressor", "XGBClassifier", "XGBRFRegressor",
                                  "XGBRFClassifier", "Booster"}


# ----------------------------------------------------------------------------- UBJSON
def test_ubjson_decoder_reads_spec_forms_without_recursion():
    doc = (b"{" + b"i\x01a" + b"[$d#i\x02" + np.array([1.5, -2], ">f4").tobytes()
           + b"i\x01b" + b"[#U\x02" + b"SU\x02hiN" + b"T" + b"i\x01c" + b"[ZFC" + b"x]" + b"}")
    out = _ubjson.loads(doc)
    assert out["a"].tolist() == [1.5, -2.0] and out["b"] == ["hi", True]
    assert out["c"] == [None, False, "x"]
    deep = b"[" * 50_000 + b"]" * 50_000
    value = _ubjson.loads(deep)
    assert isinstance(value, list)
    for bad in (b"[$d#L" + (2**40).to_bytes(8, "big"), b"{i\x01a", b"[]]", b"S", b"?"):
        with pytest.raises(_ubjson.UBJSONError):
            _ubjson.loads(bad)
