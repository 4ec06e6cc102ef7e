"""Model files of every supported kind load into the same IR as the live object."""

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import portable
from portable.cli import main
from portable.errors import ModelLoadError


@pytest.fixture(scope="module")
def forest():
    X, y = make_classification(300, 5, random_state=0)
    return make_pipeline(StandardScaler(), RandomForestClassifier(8, max_depth=4, random_state=0)).fit(X, y), X


def test_joblib_and_skops_files_import_to_the_live_objects_ir(forest, tmp_path):
    import joblib
    import skops.io as sio

    est, X = forest
    live = portable.import_model(est)
    joblib.dump(est, tmp_path / "m.joblib")
    sio.dump(est, tmp_path / "m.skops")
    for name in ("m.joblib", "m.skops"):
        m = portable.import_model(tmp_path / name)
        assert m.fingerprint() == live.fingerprint(), name
        np.testing.assert_array_equal(portable.evaluate(m, X), est.predict_proba(X))


class Sneaky(StandardScaler):
    """A user-defined class: loading it would import and run its module's code."""


def test_skops_refuses_untrusted_types(tmp_path):
    import skops.io as sio

    X, y = make_classification(50, 4, random_state=0)
    sio.dump(make_pipeline(Sneaky(), RandomForestClassifier(2)).fit(X, y), tmp_path / "f.skops")
    with pytest.raises(ModelLoadError, match="does not trust.*Sneaky"):
        portable.import_model(tmp_path / "f.skops")


def test_xgboost_json_and_ubj_files_import_identically(tmp_path):
    import xgboost as xgb

    X, y = make_classification(300, 5, random_state=1)
    est = xgb.XGBClassifier(n_estimators=10, max_depth=3).fit(X, y)
    est.save_model(tmp_path / "m.json")
    est.save_model(tmp_path / "m.ubj")
    a = portable.import_model(tmp_path / "m.json")
    b = portable.import_model(tmp_path / "m.ubj")
    assert a.fingerprint() == b.fingerprint() == portable.import_model(est).fingerprint()


def test_inspect_prints_trees_depth_leaves_and_classes(forest, tmp_path):
    import joblib

    est, _ = forest
    joblib.dump(est, tmp_path / "m.joblib")
    r = CliRunner().invoke(main, ["inspect", str(tmp_path / "m.joblib"), "--json"])
    assert r.exit_code == 0, r.output
    import json
    info = json.loads(r.output)
    rf = est[-1]
    assert info["trees"] == 8
    assert info["max_depth"] == max(t.get_depth() for t in rf.estimators_)
    assert info["leaves"] == sum(t.get_n_leaves() for t in rf.estimators_)
    assert info["classes"] == ["0", "1"] and info["steps"] == ["scaler", "tree_ensemble"]
    r = CliRunner().invoke(main, ["inspect", str(tmp_path / "m.joblib")])
    assert r.exit_code == 0 and "tree_ensemble" in r.output


def test_unfitted_estimator_is_a_not_fitted_error():
    from portable.errors import NotFittedError

    with pytest.raises(NotFittedError):
        portable.import_model(RandomForestClassifier())
