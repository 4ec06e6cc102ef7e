"""`portable package --target lambda`: a dependency-free zip whose handler answers API
Gateway proxy events (REST v1, HTTP API v2) with the model's predictions."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from _serving_helpers import SMALL_VERIFY, data, xgb_classifier
from portable.packaging import package
from portable.packaging.lambda_ import loaded_handler, sample_events

pytest.importorskip("xgboost")


@pytest.fixture(scope="module")
def lam(tmp_path_factory):
    from portable.converters import CONVERTERS
    try:
        CONVERTERS.get("python")
    except ImportError:
        pytest.skip("the python converter is not importable yet")
    root = tmp_path_factory.mktemp("lambda")
    clf = xgb_classifier()
    pkg = package(clf, target="lambda", out_dir=root / "pkg", verify_options=SMALL_VERIFY)
    unzipped = root / "unzipped"
    with zipfile.ZipFile(pkg.path / "lambda.zip") as z:
        z.extractall(unzipped)
    with loaded_handler(unzipped) as fn:
        yield {"clf": clf, "pkg": pkg, "dir": unzipped, "fn": fn.lambda_handler}


def _csv(X):
    return "".join(",".join(repr(float(v)) for v in r) + "\n" for r in X)


def _events(body, ctype="text/csv", accept="text/csv"):
    return sample_events(body, ctype, accept).values()


def test_zip_is_deterministic_and_holds_only_the_model_handler_and_codec(lam, tmp_path):
    pkg = lam["pkg"]
    again = package(lam["clf"], target="lambda", out_dir=tmp_path / "again",
                    verify_options=SMALL_VERIFY)
    assert (pkg.path / "lambda.zip").read_bytes() == (again.path / "lambda.zip").read_bytes()
    with zipfile.ZipFile(pkg.path / "lambda.zip") as z:
        names = z.namelist()
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in z.infolist())
    assert {"lambda_function.py", "portable_codecs.py", "portable_model/__init__.py"} <= set(names)
    assert {n.split("/")[0] for n in names} == {"lambda_function.py", "portable_codecs.py",
                                                "portable_model"}
    assert pkg.manifest["handler"] == "lambda_function.lambda_handler"
    assert pkg.manifest["gate"]["passed"] and pkg.manifest["gate"]["format"] == "python"


def test_handler_runs_without_numpy_or_portable(lam):
    """Lambda's runtime has neither: block both imports and answer an event."""
    event = next(iter(_events(_csv(data(n=3)[0]))))
    code = ("import sys, json; sys.modules['numpy'] = None; sys.modules['portable'] = None\n"
            "import lambda_function\n"
            f"r = lambda_function.lambda_handler(json.loads({json.dumps(json.dumps(event))}), None)\n"
            "print(json.dumps(r))")
    out = subprocess.run([sys.executable, "-c", code], cwd=lam["dir"], capture_output=True,
                         text=True, check=True, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ""})
    resp = json.loads(out.stdout)
    assert resp["statusCode"] == 200 and resp["body"].count("\n") == 3


def _interpreter(version: str):
    """A working python<version>: pyenv's versions folder first (its shims refuse versions
    that are not selected), then PATH."""
    import glob
    import os
    import shutil

    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    found = sorted(glob.glob(f"{root}/versions/{version}.*/bin/python{version}"))
    for exe in found + [shutil.which(f"python{version}")]:
        if exe and subprocess.run([exe, "-c", "pass"], capture_output=True).returncode == 0:
            return exe
    return None


@pytest.mark.parametrize("version", ["3.8", "3.12"])
def test_zip_runs_on_other_pythons_lambda_offers(lam, version):
    """The same event under another CPython (stdlib only, as in Lambda's runtime)."""
    exe = _interpreter(version)
    if exe is None:
        pytest.skip(f"python{version} is not installed here")
    event = next(iter(_events("0.1,0.2,0.3,0.4,0.5\n,,,,\n", "text/csv", "application/json")))
    code = ("import json, sys, lambda_function\n"
            "print(json.dumps(lambda_function.lambda_handler(json.load(sys.stdin), None)))")
    out = subprocess.run([exe, "-E", "-s", "-c", code], cwd=lam["dir"], input=json.dumps(event),
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    resp = json.loads(out.stdout)
    local = lam["fn"](event, None)
    assert resp == local and len(json.loads(resp["body"])["predictions"]) == 2


def test_v1_and_v2_events_csv_json_and_base64_give_the_models_predictions(lam):
    X, _ = data(n=40, seed=7)
    X[::5, 3] = np.nan
    want = lam["clf"].predict_proba(X).astype(np.float32)
    csv_ = _csv(X).replace("nan", "")
    bodies = [(csv_, "text/csv", False),
              (json.dumps({"instances": [[None if v != v else v for v in r] for r in X.tolist()]}),
               "application/json", False),
              (base64.b64encode(csv_.encode()).decode(), "text/csv; charset=utf-8", True)]
    for body, ctype, b64 in bodies:
        for version, event in zip(("v1", "v2"), _events(body, ctype, "application/json")):
            event = {**event, "isBase64Encoded": b64}
            r = lam["fn"](event, None)
            assert r["statusCode"] == 200, (version, ctype, r)
            assert r["headers"]["Content-Type"] == "application/json"
            got = np.array(json.loads(r["body"])["predictions"], np.float32)
            assert np.array_equal(got, want), (version, ctype)


def test_errors_are_json_with_status_and_never_raise(lam):
    fn = lam["fn"]
    cases = [(("1,2,3,4,5\n1,2,x,4,5\n", "text/csv", "text/csv"), 400, "CSV row 2, column 3"),
             (("1,2,3\n", "text/csv", "text/csv"), 400, "3 columns"),
             (("{not json", "application/json", "text/csv"), 400, "not valid JSON"),
             (("1,2,3,4,5", "application/xml", "text/csv"), 415, "application/xml"),
             (("1,2,3,4,5", "text/csv", "application/x-npy"), 406, "text/csv")]
    for (body, ctype, accept), status, words in cases:
        for event in _events(body, ctype, accept):
            r = fn(event, None)
            assert r["statusCode"] == status, (body, r)
            assert r["headers"]["Content-Type"] == "application/json"
            assert words in json.loads(r["body"])["error"]
    v1, v2 = _events("1,2,3,4,5", "text/csv", "text/csv")
    assert fn({**v1, "isBase64Encoded": True, "body": "@@not base64@@"}, None)["statusCode"] == 400
    assert fn({**v1, "httpMethod": "PUT"}, None)["statusCode"] == 405
    info = fn({**v2, "requestContext": {"http": {"method": "GET"}}, "body": None}, None)
    assert info["statusCode"] == 200 and json.loads(info["body"])["features"] == [f"f{i}" for i in range(5)]
    assert fn({**v1, "body": "x" * (6 * 1024 * 1024 + 1)}, None)["statusCode"] == 413


def test_samples_in_the_package_replay_exactly(lam):
    pkg = lam["pkg"]
    assert {s["payload"] for s in pkg.manifest["samples"]} == {"v1", "v2"}
    for s in pkg.manifest["samples"]:
        event = json.loads((pkg.path / s["event"]).read_text())
        want = json.loads((pkg.path / s["response"]).read_text())
        assert lam["fn"](event, None) == want and want["statusCode"] == 200


def test_lambda_agrees_with_the_python_artifact(lam, tmp_path):
    import portable
    art = portable.export(lam["clf"], format="python", out_dir=tmp_path / "py")
    X = portable.probe_rows(portable.import_model(lam["clf"]), n=200)
    want = portable.load(art.path).predict(X)
    body = _csv(X).replace("nan", "")
    r = lam["fn"](next(iter(_events(body))), None)
    got = np.array([[float(v) for v in line.split(",")] for line in r["body"].splitlines()],
                   np.float32)
    assert np.array_equal(got, want)

