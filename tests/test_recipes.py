"""``portable train``: every recipe trains, writes its folder, and is reproducible from its seed.

XGBoost recipe models must import from ``model.json`` with margins bit-identical (0 ULP) to
the trained object's own predictions on the saved test split.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

pytest.importorskip("xgboost")
from click.testing import CliRunner  # noqa: E402

import portable  # noqa: E402
from portable.commands.recipes import COMMANDS, train as train_cmd  # noqa: E402
from portable.corpus import reviews  # noqa: E402
from portable.errors import InputError, UnknownNameError  # noqa: E402
from portable.parity import compare  # noqa: E402
from portable.recipes import RECIPES, train  # noqa: E402

CASES = {  # id -> (recipe, params, metric, lowest acceptable test value)
    "house-prices": ("house-prices", {}, "r2", 0.8),
    "iris": ("iris-multiclass", {}, "accuracy", 0.85),
    "sentiment": ("sentiment", {}, "accuracy", 0.75),
    "sentiment-logistic": ("sentiment", {"variant": "logistic"}, "accuracy", 0.75),
}
COMMON_FILES = {"metrics.json", "recipe.json", "train.csv", "validation.csv", "test.csv"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Each case trained twice with seed 0, into two folders."""
    out = {}
    for case, (recipe, params, _, _) in CASES.items():
        runs = [train(recipe, out_dir=tmp_path_factory.mktemp(f"{case}-{k}"), seed=0, **params)
                for k in range(2)]
        out[case] = runs
    return out


@pytest.mark.parametrize("case", CASES)
def test_recipe_writes_its_files_and_meets_its_metric(trained, case):
    res = trained[case][0]
    names = {p.name for p in res.out_dir.iterdir()}
    model_files = {"model.json"} if res.recipe != "sentiment" else {
        "model.joblib", "model.skops", "vocabulary.json"}
    assert COMMON_FILES | model_files <= names
    _, _, metric, floor = CASES[case]
    assert res.metrics["test"][metric] > floor, res.metrics
    assert set(res.metrics) == {"validation", "test"}
    saved = json.loads((res.out_dir / "metrics.json").read_text())
    assert saved["validation"] == res.metrics["validation"] and saved["test"] == res.metrics["test"]
    assert sum(saved["rows"].values()) == {"house-prices": 4000, "iris-multiclass": 150,
                                           "sentiment": 3000}[res.recipe]
    info = json.loads((res.out_dir / "recipe.json").read_text())
    assert info["recipe"] == res.recipe and info["seed"] == 0 and info["params"] == res.params
    assert {"python", "numpy", "scikit-learn"} <= set(info["versions"])


@pytest.mark.parametrize("case", CASES)
def test_same_seed_same_metrics_and_files(trained, case):
    a, b = trained[case]
    assert a.metrics == b.metrics
    for name in ("metrics.json", "train.csv", "validation.csv", "test.csv"):
        assert (a.out_dir / name).read_bytes() == (b.out_dir / name).read_bytes(), name


def test_another_seed_changes_the_split():
    a = train("iris-multiclass", seed=0)
    b = train("iris-multiclass", seed=1)
    assert not np.array_equal(a.splits.y_test, b.splits.y_test)


def test_split_proportions_follow_the_seed_walkthrough(trained):
    rows = trained["house-prices"][0].splits.sizes()
    assert rows["test"] == pytest.approx(4000 / 3, abs=1)
    assert rows["validation"] == pytest.approx(4000 * 2 / 9, abs=1)


def _read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


@pytest.mark.parametrize("case", ["house-prices", "iris"])
def test_xgboost_model_json_imports_with_bit_exact_margins(trained, case):
    res = trained[case][0]
    header, rows = _read_csv(res.out_dir / "test.csv")
    assert header == [*res.splits.columns, res.splits.target]
    X = np.array([[float(v) if v else np.nan for v in r[:-1]] for r in rows])
    np.testing.assert_array_equal(X, res.splits.X_test)  # CSV round-trips exactly (NaN too)
    m = portable.import_model(res.out_dir / "model.json")
    assert list(m.signature.feature_names) == res.splits.columns
    classification = res.recipe != "house-prices"
    margin = np.asarray(res.model.predict(X, output_margin=True)).reshape(len(X), -1)
    r = compare(margin, portable.evaluate(m, X, output="margin"), classification=classification)
    assert r["max_ulp"] == 0, r
    pred = (res.model.predict_proba(X) if classification else res.model.predict(X))
    r = compare(np.asarray(pred).reshape(len(X), -1), portable.evaluate(m, X),
                classification=classification)
    assert r["max_ulp"] <= 4 and r["label_flips"] == 0, r


def test_house_prices_data_has_missing_cells(trained):
    assert np.isnan(trained["house-prices"][0].splits.X_train).any()


@pytest.mark.parametrize("case", ["sentiment", "sentiment-logistic"])
def test_sentiment_pipeline_vocabulary_and_text_splits(trained, case):
    res = trained[case][0]
    vec = res.model.named_steps["vectorizer"]
    assert vec.token_pattern == r"(?u)\b\w+\b" and vec.lowercase and vec.ngram_range == (1, 1)
    doc = json.loads((res.out_dir / "vocabulary.json").read_text())
    assert doc["vocabulary"] == {t: int(i) for t, i in vec.vocabulary_.items()}
    assert doc["token_pattern"] == vec.token_pattern
    header, rows = _read_csv(res.out_dir / "validation.csv")
    assert header == ["text", "label"]
    assert [r[0] for r in rows] == list(res.splits.X_validation)
    import joblib
    again = joblib.load(res.out_dir / "model.joblib")
    np.testing.assert_array_equal(again.predict_proba(rows[0][:1]),
                                  res.model.predict_proba(rows[0][:1]))


def test_sentiment_pipeline_imports_exactly(trained):
    res = trained["sentiment"][0]
    m = portable.import_model(res.model)
    X = np.array(res.splits.X_test[:200], dtype=object).reshape(-1, 1)
    r = compare(res.model.predict_proba(list(X[:, 0])), portable.evaluate(m, X),
                classification=True)
    assert r["label_flips"] == 0 and r["max_ulp"] <= 4, r


TEXT_ROUTES = {"onnx/onnxruntime", "pmml/jpmml", "python/cpython", "java/jvm", "javascript/node"}


@pytest.mark.slow
@pytest.mark.parametrize("case", ["sentiment", "sentiment-logistic"])
def test_sentiment_verifies_with_zero_flips_on_every_route_that_supports_text(trained, case):
    v = portable.verify(trained[case][0].model, n_rows=300, n_nan=100, n_probe=400, seed=0)
    routes = v["routes"]
    assert {r for r, e in routes.items() if e["status"] == "passed"} == TEXT_ROUTES, {
        r: (e["status"], e.get("reason")) for r, e in routes.items()}
    for r in set(routes) - TEXT_ROUTES:  # C and PFA say why they cannot
        assert routes[r]["status"] == "skipped" and "text" in routes[r]["reason"], routes[r]
    for r in TEXT_ROUTES:
        for against in ("vs_reference", "vs_source"):
            for kind, stages in routes[r]["results"][against].items():
                assert stages["label"]["label_flips"] == 0, (r, against, kind)
                if case == "sentiment" and against == "vs_reference":
                    assert stages["margin"]["max_ulp"] == 0, (r, kind)  # float32 trees


def test_corpus_is_reproducible_balanced_and_varied():
    a, ya = reviews(400, seed=3)
    b, yb = reviews(400, seed=3)
    assert a == b and np.array_equal(ya, yb)
    assert reviews(400, seed=4)[0] != a
    assert 0.4 < ya.mean() < 0.6
    assert len(set(a)) == len(a)
    assert any("not" in t.split() for t in a) and any("<br />" in t for t in a)
    assert reviews(0)[0] == []
    with pytest.raises(InputError):
        reviews(-1)


def test_unknown_recipe_lists_the_known_ones():
    with pytest.raises(UnknownNameError) as e:
        train("boston", seed=0)
    for name in RECIPES.names():
        assert name in str(e.value)


@pytest.mark.parametrize("recipe, params, words", [
    ("iris-multiclass", {"depth": 3}, "Unknown parameter(s) 'depth'"),
    ("iris-multiclass", {"max_depth": "three"}, "expects an integer"),
    ("iris-multiclass", {"max_depth": 2.5}, "expects an integer"),
    ("sentiment", {"variant": "svm"}, "no variant 'svm'"),
    ("sentiment", {"rows": 200, "vectorizer": "hashing"}, "'vectorizer' must be one of"),
    ("house-prices", {"grow_policy": "widest"}, "'grow_policy' must be one of depthwise"),
    ("house-prices", {"rows": 5}, "rows must be >= 30"),
    ("iris-multiclass", {"subsample": 2.0}, "XGBoost refused the parameters"),
])
def test_bad_parameters_are_clear_input_errors(recipe, params, words):
    with pytest.raises(InputError) as e:
        train(recipe, seed=0, **params)
    assert words in str(e.value)


def test_cli_string_parameters_are_cast_to_the_defaults_types(tmp_path):
    r = CliRunner().invoke(train_cmd, ["iris-multiclass", "-o", tmp_path, "--param",
                                       "max_depth=2", "--param", "eta=0.3", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["params"]["max_depth"] == 2 and out["params"]["eta"] == 0.3
    assert "model.json" in out["files"] and out["metrics"]["test"]["accuracy"] > 0.85


def test_cli_train_prints_metrics_and_files(tmp_path):
    r = CliRunner().invoke(train_cmd, ["sentiment", "--variant", "logistic", "--param",
                                       "rows=600", "-o", tmp_path / "out"])
    assert r.exit_code == 0, r.output
    assert "accuracy" in r.output and "wrote" in r.output
    assert (tmp_path / "out" / "model.joblib").exists()


@pytest.mark.parametrize("args, words", [
    (["nope", "-o", "x"], "Unknown recipe 'nope'. Known: house-prices"),
    (["iris-multiclass", "-o", "x", "--param", "max_depth"], "--param takes NAME=VALUE"),
])
def test_cli_bad_input_exits_2_with_a_message(tmp_path, args, words):
    r = CliRunner().invoke(train_cmd, [str(a) for a in args])
    assert r.exit_code == 2 and words in r.output and "Traceback" not in r.output


def test_commands_list():
    assert [c.name for c in COMMANDS] == ["train", "tune"]
