"""portable.verify and `portable verify`: every route against the source library and the
reference evaluator, per stage, with tolerances, skipped routes, budgets and localisation."""

from __future__ import annotations

import dataclasses
import json
import os
import time

import numpy as np
import pytest
from click.testing import CliRunner

import portable
from portable.commands.harness import verify as verify_cmd
from portable.converters import CONVERTERS
from portable.runtimes import RUNTIMES
from portable.verify import (DEFAULT_TOLERANCES, _merge, parse_tolerances, tolerance_for,
                             verify)

xgb = pytest.importorskip("xgboost")
pytest.importorskip("onnxruntime")
from sklearn.datasets import make_classification, make_regression  # noqa: E402

SMALL = {"n_rows": 300, "n_nan": 100, "n_probe": 400}


# The engines under test warn freely (converter versions, float casts); keep output readable.
pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture(scope="module")
def binary():
    X, y = make_classification(n_samples=500, n_features=6, random_state=0)
    return xgb.XGBClassifier(n_estimators=15, max_depth=3, n_jobs=1, random_state=0).fit(X, y)


@pytest.fixture(scope="module")
def regressor():
    X, y = make_regression(n_samples=500, n_features=5, random_state=0)
    return xgb.XGBRegressor(n_estimators=10, max_depth=3, n_jobs=1, random_state=0).fit(X, y)


class _NudgedSession:
    """A runtime whose tree 4, node 0 compares against a threshold one float32 ULP higher."""

    def __init__(self, model):
        ens = model.estimator
        tree = ens.trees[4]
        thr = tree.threshold.copy()
        thr[0] = np.nextafter(thr[0], np.float32(np.inf))
        self.model = dataclasses.replace(model, steps=(dataclasses.replace(
            ens, trees=ens.trees[:4] + (dataclasses.replace(tree, threshold=thr),)
            + ens.trees[5:]),))

    def predict(self, X, output="prediction"):
        return portable.evaluate(self.model, X, output=output)

    def close(self):
        pass


class NudgedRuntime:
    name, formats = "nudged", ("onnx",)

    @classmethod
    def available(cls):
        return None

    def load(self, artifact):  # ignores the artifact: evaluates the nudged IR
        return _NudgedSession(NudgedRuntime.model)


@pytest.fixture
def nudged(monkeypatch, regressor):
    NudgedRuntime.model = portable.import_model(regressor)
    monkeypatch.setitem(RUNTIMES._builtins, "nudged", "test_verify:NudgedRuntime")
    monkeypatch.setitem(RUNTIMES._loaded, "nudged", NudgedRuntime)
    return NudgedRuntime.model


def test_onnx_matches_source_and_reference_bit_for_bit_on_every_row_kind(binary):
    res = verify(binary, formats=["onnx"], **SMALL)
    assert res["passed"] and res["source"]["status"] == "passed"
    route = res["routes"]["onnx/onnxruntime"]
    assert route["status"] == "passed" and route["subsampled"] is None
    assert set(route["results"]["vs_reference"]) == {"held_out", "nan", "probes"}
    for part in ("vs_reference", "vs_source"):
        for kind, stages in route["results"][part].items():
            assert set(stages) >= {"prediction", "label"}, (part, kind)
            assert stages["label"]["label_flips"] == 0
            assert stages["label"]["rows"] == route["rows"][kind]["compared"]
            assert stages["prediction"]["max_ulp"] <= 4
    for kind, stages in route["results"]["vs_reference"].items():
        assert stages["margin"]["max_ulp"] == 0 and stages["margin"]["max_abs"] == 0.0
        n = route["rows"][kind]
        assert n["compared"] == n["available"] == res["rows"][kind]
    assert res["rows"] == {"held_out": 300, "nan": 100, "probes": res["rows"]["probes"]}
    assert 100 < res["rows"]["probes"] <= 400
    json.dumps(res)  # JSON-ready


def test_every_route_is_run_or_reported_as_skipped_with_its_reason(binary, monkeypatch):
    from portable.runtimes.titus import TitusRuntime

    monkeypatch.setitem(CONVERTERS._builtins, "fakefmt", "portable.no_such_module:Fake")
    monkeypatch.setattr(TitusRuntime, "available",
                        classmethod(lambda cls: "titus2 is not installed (test)"))
    res = verify(binary, n_rows=100, n_nan=50, n_probe=100)
    routes = res["routes"]
    assert {r["format"] for r in routes.values()} >= {"onnx", "pmml", "pfa", "fakefmt"}
    assert routes["pfa/titus"]["status"] == "skipped"
    assert routes["pfa/titus"]["reason"] == "titus2 is not installed (test)"
    assert routes["fakefmt"]["status"] == "skipped"
    assert "not available here" in routes["fakefmt"]["reason"]
    for r in routes.values():
        assert r["status"] in ("passed", "skipped"), r
        assert r["status"] == "passed" or r["reason"]  # never silent


def test_a_runtime_off_by_one_ulp_fails_and_the_node_is_named(regressor, nudged):
    res = verify(regressor, formats=["onnx"], runtimes=["nudged"], **SMALL)
    good, bad = res["routes"]["onnx/onnxruntime"], res["routes"]["onnx/nudged"]
    assert good["status"] == "passed" and bad["status"] == "failed" and not res["passed"]
    probes = bad["results"]["vs_reference"]["probes"]["margin"]
    assert probes["mismatched_rows"] >= 1 and probes["max_ulp"] > 4
    assert "probes.margin" in bad["reason"]
    d = bad["divergences"][0]
    print("\n" + d["message"])
    assert (d["tree"], d["node"], d["hypothesis"], d["explained"]) == (4, 0, "threshold", True)
    assert d["threshold_repr"]["float32"] == d["value_repr"]["float32"]
    assert (d["reference_side"], d["runtime_side"]) == ("right", "left")


def test_tolerances_parse_layer_and_can_admit_a_known_difference(regressor, nudged):
    tol = parse_tolerances(["onnx/nudged.margin.max_abs=1e3", "onnx/nudged.prediction.max_abs=1e3",
                            "onnx.prediction.max_ulp=none"])
    assert tol["onnx/nudged"]["margin"] == {"max_abs": 1000.0}
    merged = _merge(DEFAULT_TOLERANCES, tol)
    bounds = tolerance_for(merged, ["onnx/nudged", "portable", "onnx", "nudged"], "prediction")
    assert bounds == {"max_abs": 1000.0, "max_rel": 1e-12}  # max_ulp removed by "onnx"
    res = verify(regressor, formats=["onnx"], runtimes=["nudged"], tolerances=tol, **SMALL)
    assert res["routes"]["onnx/nudged"]["status"] == "passed" and res["passed"]
    for bad in (["onnx.margin"], ["onnx.stage.max_abs=1"], ["onnx.margin.worst=1"],
                ["onnx.margin.max_abs=x"]):
        with pytest.raises(portable.PortableError, match="FORMAT.STAGE.METRIC|not a number"):
            parse_tolerances(bad)


def test_a_frontend_bug_shows_as_source_vs_reference_failure(regressor, monkeypatch):
    import portable.api

    real = portable.api.import_model

    def shifted(obj):  # a frontend that gets the base score wrong (IR input passes through)
        m = real(obj)
        if isinstance(obj, portable.ir.Model):
            return m
        ens = dataclasses.replace(m.estimator, base_score=m.estimator.base_score + np.float32(1))
        return dataclasses.replace(m, steps=(ens,))

    monkeypatch.setattr(portable.api, "import_model", shifted)
    res = verify(regressor, formats=["onnx"], **SMALL)
    assert res["source"]["status"] == "failed" and "frontend" in res["source"]["reason"]
    assert res["routes"]["onnx/onnxruntime"]["status"] == "failed"  # vs source, not vs reference
    vs_ref = res["routes"]["onnx/onnxruntime"]["results"]["vs_reference"]
    assert all(st["margin"]["max_ulp"] == 0 for st in vs_ref.values())
    assert not res["passed"]


def test_a_slow_runtime_gets_a_seeded_subsample_and_says_so(regressor):
    res = verify(regressor, formats=["onnx"], budget=1e-9, **SMALL)
    r = res["routes"]["onnx/onnxruntime"]
    assert r["status"] == "passed" and "budget" in r["subsampled"]
    for kind, n in r["rows"].items():
        assert n["compared"] == min(20, n["available"])  # the floor per row kind
    again = verify(regressor, formats=["onnx"], budget=1e-9, **SMALL)["routes"]["onnx/onnxruntime"]
    assert again["rows"] == r["rows"]  # same seed: same rows


def test_multiclass_labels_and_the_user_held_out_rows_are_compared():
    X, y = make_classification(n_samples=400, n_features=6, n_informative=4, n_classes=3,
                               random_state=1)
    est = xgb.XGBClassifier(n_estimators=6, max_depth=3, n_jobs=1).fit(X, y)
    res = verify(est, formats=["onnx"], data=X[:123], n_nan=40, n_probe=200)
    r = res["routes"]["onnx/onnxruntime"]
    assert res["rows"]["held_out"] == 123 and res["settings"]["data"] == "given"
    assert r["results"]["vs_source"]["held_out"]["label"]["label_flips"] == 0
    assert r["results"]["vs_source"]["held_out"]["prediction"]["rows"] == 123
    assert res["passed"]


def test_cli_verify_json_report_and_exit_codes(regressor, nudged, tmp_path):
    path = tmp_path / "m.json"
    regressor.save_model(path)  # an XGBoost file: the source is read back as a Booster
    ok = CliRunner().invoke(verify_cmd, [str(path), "--formats", "onnx", "--rows", "200",
                                         "--probes", "200", "--json",
                                         "--report", str(tmp_path / "r.html")])
    assert ok.exit_code == 0, ok.output
    res = json.loads(ok.output.split("wrote ")[0])
    assert res["source"]["available"] and res["source"]["status"] == "passed"
    assert (tmp_path / "r.html").read_text().count("<svg") >= 2
    bad = CliRunner().invoke(verify_cmd, [str(path), "--formats", "onnx", "--runtimes", "nudged",
                                          "--rows", "200", "--probes", "1000"])
    assert bad.exit_code == 1 and "tree 4 node 0" in bad.output.replace("\n", " ")
    usage = CliRunner().invoke(verify_cmd, [str(path), "--tolerance", "onnx.x.max_abs=1"])
    assert usage.exit_code == 2 and "FORMAT.STAGE.METRIC" in usage.output


@pytest.mark.slow
def test_harness_verifies_a_500_tree_model_on_10000_rows_in_under_60_seconds():
    """Every available route (JVM start included) on 10,000 held-out rows + NaN + probe rows.
    Which routes exist decides the time: the result prints them."""
    X, y = make_regression(n_samples=14000, n_features=50, n_informative=30, noise=10,
                           random_state=1)
    X = X.astype(np.float32)
    est = xgb.XGBRegressor(n_estimators=500, max_depth=6, learning_rate=0.1, tree_method="hist",
                           max_bin=64, n_jobs=os.cpu_count(), random_state=0)
    est.fit(X[:4000], y[:4000])
    t = time.perf_counter()
    res = verify(est, data=X[4000:])
    took = time.perf_counter() - t
    ran = {k: (r["status"], r.get("seconds"), r.get("subsampled") is not None)
           for k, r in res["routes"].items() if r["status"] != "skipped"}
    print(f"\nverify of a 500-tree model on {res['rows']} rows: {took:.1f} s; routes {ran}")
    assert res["rows"]["held_out"] == 10_000 and res["passed"]
    assert took < 60
