"""The CLI turns every user error into a message and exit code 2, never a traceback."""

import json

import pytest
from click.testing import CliRunner

from portable.cli import main


@pytest.fixture
def run():
    runner = CliRunner()

    def _run(*args):
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)
    return _run


def test_empty_file_is_a_clear_error(run, tmp_path):
    p = tmp_path / "model.json"
    p.write_bytes(b"")
    r = run("inspect", p)
    assert r.exit_code == 2
    assert "is empty" in r.output and "Traceback" not in r.output


def test_unknown_extension_lists_the_supported_ones(run, tmp_path):
    p = tmp_path / "model.h5"
    p.write_bytes(b"\x89HDF")
    r = run("inspect", p)
    assert r.exit_code == 2
    assert "Unknown model file extension '.h5'" in r.output and ".ubj" in r.output


def test_missing_file_and_corrupt_pickle(run, tmp_path):
    r = run("inspect", tmp_path / "nope.pkl")
    assert r.exit_code == 2 and "No such model file" in r.output
    p = tmp_path / "model.pkl"
    p.write_bytes(b"\x80\x04\x95garbage-not-a-pickle")
    r = run("inspect", p)
    assert r.exit_code == 2 and "not a readable pickle" in r.output


def test_pickled_unsupported_object_names_what_is_supported(run, tmp_path):
    import joblib
    p = tmp_path / "model.joblib"
    joblib.dump({"not": "a model"}, p)
    r = run("inspect", p)
    assert r.exit_code == 2
    assert "Cannot import 'dict'" in r.output and "Supported:" in r.output


def test_help_warns_that_pickles_run_code(run):
    r = run("--help")
    assert r.exit_code == 0 and "runs code" in r.output


def test_formats_matrix_is_json_with_every_supported_estimator(run):
    r = run("formats", "--json")
    assert r.exit_code == 0, r.output
    matrix = json.loads(r.output)
    assert "XGBRegressor" in matrix and "RandomForestClassifier" in matrix
    assert all("onnx" in row for row in matrix.values())


def test_text_pipeline_through_skl2onnx_with_a_one_column_sample_csv(run, tmp_path):
    import csv

    import joblib
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from portable.corpus import reviews

    docs, y = reviews(200, seed=0)
    joblib.dump(make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(docs, y),
                tmp_path / "text.joblib")
    with open(tmp_path / "sample.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["review"])
        w.writerows([d] for d in docs[:40])
    r = run("export", str(tmp_path / "text.joblib"), "--format", "onnx", "--engine", "skl2onnx",
            "--sample", str(tmp_path / "sample.csv"), "-o", str(tmp_path / "out"), "--json")
    assert r.exit_code == 0, r.output
    parity = json.loads(r.output)["parity"]
    assert parity["rows"] == 40 and parity["prediction"]["label_flips"] == 0, parity
    assert "shape_mismatch" not in parity["prediction"]


def test_a_parity_shape_mismatch_is_reported_as_a_failure_not_a_crash():
    from portable.cli import _parity_failed, _parity_line

    p = {"checked": True, "runtime": "onnxruntime", "rows": 5, "reference": "source object",
         "prediction": {"rows": 1, "shape_mismatch": [[1, 2], [5, 2]], "label_flips": 1,
                        "max_abs": float("inf"), "max_ulp": float("inf")}}
    assert "FAILED" in _parity_line(p) and "[1, 2]" in _parity_line(p)
    assert _parity_failed(p, "classification")
