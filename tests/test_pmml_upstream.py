"""Upstream PMML engine (sklearn2pmml, Java): estimators the IR does not hold, checked
against the trained object; telemetry of failed conversions blocked by default.

Every sklearn2pmml conversion starts a JVM (1-2 s): models are converted once per module.
"""

from __future__ import annotations

import dataclasses
import shutil
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

import portable
from portable.converters import _pmml_upstream as up
from portable.artifact import read_artifact
from portable.errors import (
    ConversionError,
    InputError,
    RuntimeUnavailableError,
    UnknownNameError,
    UnsupportedFeatureError,
)

pytest.importorskip("sklearn2pmml")
pytest.importorskip("jpmml_evaluator")
xgb = pytest.importorskip("xgboost")
pd = pytest.importorskip("pandas")
if shutil.which("java") is None:
    pytest.skip("sklearn2pmml needs `java` on PATH", allow_module_level=True)

from click.testing import CliRunner  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_diabetes  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression, Ridge  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn2pmml.feature_extraction.text import Splitter  # noqa: E402

from portable.cli import main  # noqa: E402

# The engines warn freely (sklearn2pmml: "X is missing feature names"); keep output readable.
pytestmark = pytest.mark.filterwarnings("ignore")

XB, YB = load_breast_cancer(return_X_y=True)
TRAIN, TEST = slice(0, 400), slice(400, None)
WORDS = ("red blue green cat dog bird fast slow big small "
         "café naïve straße école über x-ray e-mail don't (quoted) words!").split()
RNG = np.random.default_rng(0)
DOCS = np.array([" ".join(RNG.choice(WORDS, RNG.integers(3, 9))) for _ in range(500)],
                dtype=object)
YT = np.array([int(any(w in d.split() for w in ("cat", "café", "naïve"))) for d in DOCS])

# Bounds on |PMML - source| (measured: text 0, LR 4.4e-15, XGBoost 1.19e-7).
# Double-precision documents (text, LR): JPMML sums the same terms in another order and uses
# Java's exp; margins reach ~40, so rounding stays far below 1e-12.
# XGBoost documents compute in float (x-mathContext="float"): probabilities are float32, and
# the complement 1 - p rounds at the ULP of values just below 1 (2^-24); XGBoost's own float32
# sigmoid differs by one more such step, hence 2^-22 with margin to spare.
BOUND = {"text": 1e-12, "lr": 1e-12, "xgb": 2.0 ** -22}


def _models():
    text = make_pipeline(TfidfVectorizer(tokenizer=Splitter(), token_pattern=None),
                         LogisticRegression()).fit(DOCS[:400], YT[:400])
    return {
        "text": (text, DOCS[400:].reshape(-1, 1)),
        "xgb": (xgb.XGBClassifier(n_estimators=30, max_depth=4).fit(XB[TRAIN], YB[TRAIN]), XB),
        "lr": (LogisticRegression(max_iter=5000).fit(XB[TRAIN], YB[TRAIN]), XB),
    }


def _source(est, rows):
    rows = [str(v) for v in rows[:, 0]] if rows.dtype == object else rows
    return est.predict_proba(rows), est.predict(rows)


@pytest.fixture(scope="module")
def models():
    return _models()


@pytest.fixture(scope="module")
def exported(models, tmp_path_factory):
    """name -> (bundle, artifact, conversion seconds): one sklearn2pmml run per model."""
    out = {}
    for name, (est, sample) in models.items():
        t = time.perf_counter()
        bundle = portable.api.convert(est, format="pmml", engine="sklearn2pmml", sample=sample)
        seconds = time.perf_counter() - t
        art = bundle.save(tmp_path_factory.mktemp("api") / name)
        out[name] = (bundle, art, seconds)
    return out


@pytest.mark.parametrize("name", ["text", "xgb", "lr"])
def test_export_matches_the_source_object(exported, models, name):
    bundle, art, seconds = exported[name]
    est, sample = models[name]
    m = art.manifest
    assert (m["format"], m["route"], m["runtime"], m["engine"]) == (
        "pmml", "document", "jpmml", "sklearn2pmml")
    assert m["options"] == {"engine": "sklearn2pmml"}
    assert m["environment"]["sklearn2pmml"] == "0.133.1"
    assert m["conversion"]["telemetry"] == "blocked"
    parity = m["parity"]
    assert parity["checked"] and parity["reference"] == "source object"
    assert parity["rows"] == min(len(sample), 300)
    assert parity["prediction"]["label_flips"] == 0
    assert parity["prediction"]["max_abs"] <= BOUND[name], parity
    # The loaded artifact on every row we have (held-out rows included), and its labels.
    session = portable.load(art.path)
    got = session.predict(sample)
    ref, labels = _source(est, sample)
    flips = int(np.sum(got.argmax(1) != ref.argmax(1)))
    err = float(np.abs(got - ref).max())
    print(f"\n{name}: conversion {seconds:.2f} s, {len(sample)} rows, max abs {err:.3g}, "
          f"label flips {flips}")
    assert flips == 0 and err <= BOUND[name]
    assert np.array_equal(session.labels(sample).astype(labels.dtype), labels)
    with pytest.raises(UnsupportedFeatureError, match="no 'margin' output"):
        session.predict(sample[:2], output="margin")
    # The caller's estimator is not escaped in place (sklearn2pmml's wrapper would).
    for step in getattr(est, "steps", [(None, est)]):
        assert not hasattr(step[1], "_sklearn_tags")


def test_xgboost_document_is_exact_on_threshold_probe_rows(exported, models):
    est, _ = models["xgb"]
    rows = portable.probe_rows(portable.import_model(est), n=2000)
    got = portable.load(exported["xgb"][1].path).predict(rows)
    ref = est.predict_proba(rows.astype(np.float32))
    assert int(np.sum(got.argmax(1) != ref.argmax(1))) == 0
    assert float(np.abs(got - ref).max()) <= BOUND["xgb"]


@pytest.mark.parametrize("name", ["text", "xgb", "lr"])
def test_cli_export(models, tmp_path, capfd, name):
    import joblib

    est, sample = models[name]
    joblib.dump(est, tmp_path / "model.joblib")
    columns = ["text"] if name == "text" else [f"f{i}" for i in range(sample.shape[1])]
    pd.DataFrame(sample[:200], columns=columns).to_csv(tmp_path / "sample.csv", index=False)
    r = CliRunner().invoke(main, ["export", str(tmp_path / "model.joblib"), "--format", "pmml",
                                  "--engine", "sklearn2pmml", "--sample",
                                  str(tmp_path / "sample.csv"), "-o", str(tmp_path / "out"),
                                  "--json"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "Recommended PMML deployment tools" not in r.output  # no banner, no Java logs
    terminal = capfd.readouterr()  # what reached file descriptors 1 and 2 (the JVM's too)
    assert "INFO:" not in r.output + terminal.out + terminal.err
    assert "WARNING:" not in r.output + terminal.out + terminal.err
    art = read_artifact(tmp_path / "out")
    assert art.manifest["engine"] == "sklearn2pmml"
    assert art.manifest["parity"]["prediction"]["label_flips"] == 0
    got = portable.load(tmp_path / "out").predict(sample)
    ref, _ = _source(est, sample)
    assert int(np.sum(got.argmax(1) != ref.argmax(1))) == 0
    assert float(np.abs(got - ref).max()) <= BOUND[name]


def test_regressor_prediction_comes_from_the_target_field(tmp_path):
    X, y = load_diabetes(return_X_y=True)
    est = Ridge().fit(X[:300], y[:300])
    art = portable.export(est, format="pmml", engine="sklearn2pmml", out_dir=tmp_path / "r",
                          sample=X)
    assert art.manifest["parity"]["prediction"]["max_abs"] < 1e-9
    got = portable.load(tmp_path / "r").predict(X)
    assert got.shape == (len(X), 1)
    assert float(np.abs(got[:, 0] - est.predict(X)).max()) < 1e-9  # values ~25-346
    with pytest.raises(InputError, match="only for classifiers"):
        portable.load(tmp_path / "r").labels(X[:2])


def test_unsupported_estimator_fails_with_javas_message_no_artifact_and_no_telemetry(
        tmp_path, monkeypatch, capfd):
    from sklearn.gaussian_process import GaussianProcessClassifier

    est = GaussianProcessClassifier().fit(XB[:60, :4], YB[:60])
    calls = []
    real_run = subprocess.run

    def spy(cmd, **kw):
        port = int(next(a for a in cmd if a.startswith("-Dhttps.proxyPort=")).split("=")[1])
        probe = socket.socket()
        try:  # the port the JVM's HTTPS client is sent to refuses connections
            refused = probe.connect_ex(("127.0.0.1", port)) != 0
        finally:
            probe.close()
        calls.append((cmd, kw["env"], refused))
        return real_run(cmd, **kw)

    monkeypatch.setattr(up.subprocess, "run", spy)
    monkeypatch.delenv(up.TELEMETRY_ENV, raising=False)
    monkeypatch.setenv("SKLEARN2PMML_ENVIRONMENT", "python: leaked from the caller")
    out = tmp_path / "out"
    t = time.perf_counter()
    with pytest.raises(ConversionError) as info:
        portable.export(est, format="pmml", engine="sklearn2pmml", out_dir=out)
    seconds = time.perf_counter() - t
    msg = str(info.value)
    assert "sklearn2pmml could not convert GaussianProcessClassifier" in msg
    assert "GaussianProcessClassifier) is not a supported Estimator" in msg  # Java's words
    assert "\tat " not in msg  # stack frames are left out
    assert not out.exists() and list(tmp_path.iterdir()) == []
    (cmd, env, refused), = calls
    assert cmd[0].endswith("java") and "com.sklearn2pmml.Main" in cmd
    assert "-Dhttps.proxyHost=127.0.0.1" in cmd and "-Dhttp.proxyHost=127.0.0.1" in cmd
    assert cmd.index("-Dhttps.proxyHost=127.0.0.1") < cmd.index("com.sklearn2pmml.Main")
    assert refused and "SKLEARN2PMML_ENVIRONMENT" not in env
    captured = capfd.readouterr()  # Java's logs did not reach the terminal
    assert "SEVERE" not in captured.out + captured.err
    print(f"\nfailed conversion, telemetry blocked: {seconds:.2f} s")


def test_telemetry_opt_out_runs_sklearn2pmml_as_upstream_does(monkeypatch):
    calls = []

    def fake(cmd, **kw):  # no JVM: only what would be run is of interest here
        calls.append((cmd, kw["env"]))
        return subprocess.CompletedProcess(cmd, 255, "", "SEVERE: Failed to convert\nboom")

    monkeypatch.setattr(up.subprocess, "run", fake)
    est = LogisticRegression().fit(XB[:50, :3], YB[:50])
    monkeypatch.setenv(up.TELEMETRY_ENV, "allow")
    with pytest.raises(ConversionError, match="(?s)exit code 255.*boom"):
        up.convert_sklearn2pmml(est)
    monkeypatch.setenv(up.TELEMETRY_ENV, "")
    with pytest.raises(ConversionError):
        up.convert_sklearn2pmml(est)
    (allowed, allowed_env), (blocked, blocked_env) = calls
    assert not any(a.startswith(("-Dhttps.", "-Dhttp.")) for a in allowed)
    assert "python: " in allowed_env["SKLEARN2PMML_ENVIRONMENT"]
    assert "-Dhttps.proxyHost=127.0.0.1" in blocked
    assert "SKLEARN2PMML_ENVIRONMENT" not in blocked_env


def test_a_jvm_that_overruns_the_timeout_is_stopped():
    est = LogisticRegression().fit(XB[:50, :3], YB[:50])
    t = time.perf_counter()
    with pytest.raises(ConversionError, match="did not finish .* within 0.05 s"):
        up.convert_sklearn2pmml(est, timeout=0.05)
    assert time.perf_counter() - t < 10


def test_default_token_pattern_mismatch_is_caught_by_the_parity_check(tmp_path):
    # token_pattern becomes a Java regex, where \w is ASCII-only: "café" loses its "é".
    est = make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(DOCS[:400], YT[:400])
    art = portable.export(est, format="pmml", engine="sklearn2pmml", out_dir=tmp_path / "t",
                          sample=np.array(["red café", "blue naïve dog", "école green cat",
                                           "big x-ray"], dtype=object).reshape(-1, 1))
    parity = art.manifest["parity"]["prediction"]
    print(f"\ndefault token_pattern on non-ASCII words: max abs {parity['max_abs']:.3g}, "
          f"label flips {parity['label_flips']}")
    assert parity["max_abs"] > 0.01


def test_rows_jpmml_refuses_fail_the_export_and_write_nothing(exported, tmp_path):
    bundle = exported["text"][0]
    # l2 norm of a document with no known term is 0/0 in PMML; scikit-learn scores it.
    rows = np.array(["red cat", "zzz qqq"], dtype=object).reshape(-1, 1)
    with pytest.raises(ConversionError, match="cannot score the sample rows.*row 1"):
        dataclasses.replace(bundle, rows=rows).save(tmp_path / "bad")
    assert list(tmp_path.iterdir()) == []


def test_engine_names_and_estimators_refused_before_java_starts(monkeypatch):
    est = LogisticRegression().fit(XB[:50, :3], YB[:50])
    with pytest.raises(UnknownNameError, match="portable, sklearn2pmml"):
        portable.api.convert(est, format="pmml", engine="jpmml")
    from sklearn.svm import LinearSVC
    with pytest.raises(ConversionError, match="only the predicted label of LinearSVC"):
        portable.api.convert(LinearSVC().fit(XB[:50, :3], YB[:50]), format="pmml",
                             engine="sklearn2pmml")
    booster = xgb.XGBClassifier(n_estimators=2).fit(XB[:50], YB[:50]).get_booster()
    with pytest.raises(ConversionError, match="not a bare XGBoost Booster"):
        portable.api.convert(booster, format="pmml", engine="sklearn2pmml")
    monkeypatch.setattr(up.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeUnavailableError, match="`java` executable"):
        up.convert_sklearn2pmml(est)
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, "sklearn2pmml", None)
    with pytest.raises(RuntimeUnavailableError, match=r'pip install "portable\[sklearn2pmml\]"'):
        up.convert_sklearn2pmml(est)


def test_engine_portable_still_uses_our_own_pmml_converter(tmp_path):
    est = LogisticRegression().fit(XB[:100, :4], YB[:100])
    art = portable.export(est, format="pmml", out_dir=tmp_path / "own", engine="portable")
    assert "engine" not in art.manifest and art.manifest["options"] == {}
    assert art.manifest["parity"]["checked"]
    assert b"SkLearn2PMML" not in (art.path / "model.pmml").read_bytes()
    assert portable.load(art.path).predict(XB[:5, :4], output="margin").shape == (5, 1)


def test_verify_runs_sklearn2pmml_as_an_upstream_route(models):
    est, _ = models["xgb"]
    v = portable.verify(est, formats=["pmml"], engines=["sklearn2pmml"], n_rows=200,
                        n_nan=100, n_probe=300, seed=0)
    ours, theirs = v["routes"]["pmml/jpmml"], v["routes"]["pmml[sklearn2pmml]/jpmml"]
    assert ours["status"] == theirs["status"] == "passed", (ours, theirs)
    for kind, stages in theirs["results"]["vs_source"].items():
        assert "margin" not in stages  # sklearn2pmml's documents have no margin output
        assert stages["label"]["label_flips"] == 0, kind
        assert stages["prediction"]["max_abs"] <= 2.0 ** -22, kind
    with pytest.raises(portable.errors.UnknownNameError, match="sklearn2pmml"):
        portable.verify(est, formats=["pmml"], engines=["jpmml-sklearn"], n_rows=10)
