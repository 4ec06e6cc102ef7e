"""`portable package --target sagemaker`: archives AWS's containers accept, byte-stable,
checked before they ship, and the scikit-learn handlers driven by AWS's own toolkit."""

from __future__ import annotations

import gzip
import io
import json
import pickle
import sys
import tarfile

import numpy as np
import pytest
from click.testing import CliRunner

from _serving_helpers import SMALL_GATE, SMALL_VERIFY, data, logistic, xgb_classifier, xgb_multiclass
from portable.commands.serving import package as package_cmd
from portable.packaging import GateFailedError, PackagingError, package, read_package
from portable.packaging.unpack import members

xgb = pytest.importorskip("xgboost")


pytestmark = pytest.mark.filterwarnings("ignore:.*Unknown file format")


@pytest.fixture(scope="module")
def clf():
    return xgb_classifier()


@pytest.fixture(scope="module")
def xgb_pkg(clf, tmp_path_factory):
    return package(clf, flavor="xgboost-builtin", out_dir=tmp_path_factory.mktemp("p") / "xgb",
                   verify_options=SMALL_GATE)


@pytest.fixture(scope="module")
def skl_pkg(tmp_path_factory):
    model = logistic()
    pkg = package(model, flavor="sklearn", out_dir=tmp_path_factory.mktemp("p") / "skl",
                  region="us-west-2", verify_options=SMALL_GATE)
    return model, pkg


def _tar_headers(data: bytes):
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as t:
        return t.getmembers()


# ----------------------------------------------------------------------------- xgboost
def test_xgboost_builtin_ships_one_booster_json_that_a_plain_booster_loads_identically(
        xgb_pkg, clf, tmp_path):
    files = members((xgb_pkg.path / "model.tar.gz").read_bytes())
    assert list(files) == ["xgboost-model"]           # the container loads every file
    assert json.loads(files["xgboost-model"])["learner"]  # JSON, not a pickle
    path = tmp_path / "xgboost-model"
    path.write_bytes(files["xgboost-model"])
    # Exactly the container's loader: pickle.load first (fails on JSON), then load_model.
    with pytest.raises(Exception):
        with open(path, "rb") as fh:
            pickle.load(fh)
    booster = xgb.Booster()
    booster.load_model(str(path))
    booster.set_param("nthread", 1)
    X, _ = data(n=500, seed=3)
    X[::7, 2] = np.nan
    got = booster.predict(xgb.DMatrix(X, missing=np.nan), validate_features=False)
    want = clf.get_booster().predict(xgb.DMatrix(X, missing=np.nan))
    assert np.array_equal(got, want)                   # bit for bit, NaN rows included
    assert np.array_equal(got, clf.predict_proba(X)[:, 1])


def test_xgboost_builtin_manifest_image_env_and_gate(xgb_pkg):
    m = xgb_pkg.manifest
    assert m["gate"]["passed"] and not m["gate"]["forced"]
    assert all(k["mismatched_rows"] == 0 and k["max_abs"] == 0.0
               for k in m["gate"]["kinds"].values())
    assert m["container"]["image"] == ("683313688378.dkr.ecr.us-east-1.amazonaws.com/"
                                       "sagemaker-xgboost:3.0-5")
    tmpl = json.loads((xgb_pkg.path / "create-model.json").read_text())
    assert tmpl["PrimaryContainer"]["Image"] == m["container"]["image"]
    assert tmpl["PrimaryContainer"]["ModelDataUrl"] == "${MODEL_DATA_URL}"
    assert tmpl["PrimaryContainer"]["Environment"] == {"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv"}
    assert m["content_types"]["request"] == ["text/csv"]
    assert m["archive"]["members"]["xgboost-model"]["bytes"] > 0
    assert "portable-package.json" not in members((xgb_pkg.path / "model.tar.gz").read_bytes())


def test_xgboost_builtin_multiclass_and_early_stopping_ship_the_trees_predict_uses(tmp_path):
    X, y = data(n=600)
    es = xgb.XGBClassifier(n_estimators=200, max_depth=3, early_stopping_rounds=3).fit(
        X[:400], y[:400], eval_set=[(X[400:], y[400:])], verbose=False)
    assert es.best_iteration < 199
    pkg = package(es, flavor="xgboost-builtin", out_dir=tmp_path / "es", verify_options=SMALL_GATE)
    shipped = xgb.Booster()
    shipped.load_model(bytearray(members((pkg.path / "model.tar.gz").read_bytes())["xgboost-model"]))
    assert shipped.num_boosted_rounds() == es.best_iteration + 1
    assert np.array_equal(shipped.predict(xgb.DMatrix(X)), es.predict_proba(X)[:, 1])
    multi = package(xgb_multiclass(), flavor="xgboost-builtin", out_dir=tmp_path / "m",
                    verify_options=SMALL_GATE)
    assert multi.manifest["gate"]["passed"]
    rows = (multi.path / "samples/response.csv").read_text().splitlines()
    assert all(len(r.split(",")) == 3 for r in rows)  # one probability per class


def test_archives_are_byte_identical_and_hygienic(clf, tmp_path):
    a = package(clf, flavor="xgboost-builtin", out_dir=tmp_path / "a", verify_options=SMALL_GATE)
    b = package(clf, flavor="xgboost-builtin", out_dir=tmp_path / "b", verify_options=SMALL_GATE)
    da, db = (a.path / "model.tar.gz").read_bytes(), (b.path / "model.tar.gz").read_bytes()
    assert da == db
    assert da[4:8] == b"\0\0\0\0"                      # gzip header mtime 0
    assert gzip.decompress(da)                          # and a valid gzip stream
    for pkg in (a,):
        for m in _tar_headers(da):
            assert m.mtime == 0 and m.uid == 0 and m.gid == 0 and m.uname == "" and m.gname == ""
            assert not m.issym() and not m.islnk() and not m.name.startswith(("/", "./"))
    assert a.manifest["archive"]["sha256"] == b.manifest["archive"]["sha256"]


def test_sklearn_archive_layout_environment_and_checksums(skl_pkg):
    model, pkg = skl_pkg
    data_ = (pkg.path / "model.tar.gz").read_bytes()
    names = [m.name for m in _tar_headers(data_)]
    assert names == ["code", "code/inference.py", "model.joblib"]   # sorted, at the root
    env = json.loads((pkg.path / "create-model.json").read_text())["PrimaryContainer"]["Environment"]
    assert env["SAGEMAKER_PROGRAM"] == "inference.py"
    assert env["SAGEMAKER_SUBMIT_DIRECTORY"] == "/opt/ml/model/code"
    assert env["SAGEMAKER_REGION"] == "us-west-2"
    assert pkg.manifest["container"]["image"] == (
        "246618743249.dkr.ecr.us-west-2.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3")
    assert any("scikit-learn" in w for w in pkg.manifest["warnings"])  # 1.9 pickle vs 1.2 image
    assert read_package(pkg.path).manifest == pkg.manifest             # checksums verify
    (pkg.path / "samples" / "request.csv").write_bytes(b"tampered\n")
    with pytest.raises(Exception, match="checksum"):
        read_package(pkg.path)


def _script(pkg, tmp_path):
    from portable.packaging.unpack import extract
    from portable.serving.handlers import ScriptHandler

    return ScriptHandler(extract(pkg.path / "model.tar.gz", tmp_path / "model"))


def test_sklearn_handlers_take_every_content_type_and_keep_float64(tmp_path):
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3)) * 1e4
    lin = LinearRegression().fit(X, X @ [1.5, -2.25, 3.125] + 7.0)
    pkg = package(lin, flavor="sklearn", out_dir=tmp_path / "lin", verify_options=SMALL_GATE)
    h = _script(pkg, tmp_path)
    want = lin.predict(X).reshape(-1, 1)
    assert not np.array_equal(lin.predict(X.astype(np.float32)), lin.predict(X))  # float32 would differ
    csv_body = "".join(",".join(repr(float(v)) for v in r) + "\n" for r in X).encode()
    buf = io.BytesIO()
    np.save(buf, X)
    cases = [(csv_body, "text/csv; charset=utf-8"), (csv_body, "text/csv"),
             (json.dumps(X.tolist()).encode(), "application/json"),
             (json.dumps({"instances": X.tolist()}).encode(), "application/json"),
             ("".join(json.dumps(r) + "\n" for r in X.tolist()).encode(), "application/jsonlines"),
             (buf.getvalue(), "application/x-npy")]
    for body, ctype in cases:
        got = h.handle(body, ctype, "text/csv").body.decode().split()
        assert np.array_equal(np.array(got, float).reshape(-1, 1), want), ctype
    one = h.handle(csv_body.split(b"\n")[0], "text/csv", "application/json")  # a single row
    assert json.loads(one.body)["predictions"] == [[float(want[0, 0])]]


def test_gate_failure_writes_nothing_and_force_records_it(clf, tmp_path):
    impossible = {**SMALL_VERIFY, "tolerances": {"onnx": {s: {"max_abs": -1.0, "max_rel": -1.0,
                                                              "max_ulp": -1.0}
                                                          for s in ("margin", "prediction")}}}
    with pytest.raises(GateFailedError, match="parity gate"):
        package(clf, flavor="onnx", out_dir=tmp_path / "no", verify_options=impossible)
    assert not (tmp_path / "no").exists()
    forced = package(clf, flavor="onnx", out_dir=tmp_path / "yes", force=True,
                     verify_options=impossible)
    assert forced.manifest["gate"] == {**forced.manifest["gate"], "passed": False, "forced": True}


def test_onnx_bring_your_own_container_build_context(clf, tmp_path):
    pkg = package(clf, flavor="onnx", out_dir=tmp_path / "onnx", verify_options=SMALL_VERIFY)
    assert sorted(members((pkg.path / "model.tar.gz").read_bytes())) == ["model.onnx", "portable.json"]
    docker = (pkg.path / "container" / "Dockerfile").read_text()
    entry = [l for l in docker.splitlines() if l.startswith("ENTRYPOINT")]
    assert entry == ['ENTRYPOINT ["python", "-m", "portable.serving.container"]']  # exec form
    assert json.loads(entry[0].split(None, 1)[1])
    assert "LABEL com.amazonaws.sagemaker.capabilities.accept-bind-to-port=true" in docker
    assert 'CMD ["serve"]' in docker
    serve = pkg.path / "container" / "serve"
    assert serve.read_text().startswith("#!/bin/sh") and serve.stat().st_mode & 0o111
    reqs = [l for l in (pkg.path / "container/requirements.txt").read_text().splitlines()
            if l and not l.startswith("#")]
    assert all("==" in r for r in reqs) and any(r.startswith("onnxruntime==") for r in reqs)
    assert (pkg.path / "container/src/portable/serving/app.py").is_file()
    assert json.loads((pkg.path / "create-model.json").read_text())["PrimaryContainer"]["Image"] == "${IMAGE_URI}"
    assert pkg.manifest["gate"]["kind"] == "verify" and pkg.manifest["gate"]["passed"]


def test_wrong_flavor_region_and_cli_errors(clf, tmp_path):
    with pytest.raises(PackagingError, match="bare XGBoost"):
        package(logistic(), flavor="xgboost-builtin", out_dir=tmp_path / "x")
    with pytest.raises(PackagingError, match="scikit-learn estimator"):
        package(clf, flavor="sklearn", out_dir=tmp_path / "y")
    with pytest.raises(Exception, match="--image-uri"):
        package(clf, flavor="xgboost-builtin", region="mars-1", out_dir=tmp_path / "z",
                verify_options=SMALL_GATE)
    model_file = tmp_path / "m.json"
    clf.get_booster().save_model(model_file)
    r = CliRunner().invoke(package_cmd, [str(model_file), "-o", str(tmp_path / "c")])
    assert r.exit_code == 2 and "--flavor is required" in r.output
    r = CliRunner().invoke(package_cmd, [str(model_file), "--flavor", "xgboost-builtin", "-o",
                                         str(tmp_path / "c"), "--rows", "50", "--probes", "50",
                                         "--framework-version", "1.7-1", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["gate"]["passed"] and "model.tar.gz" in out["files"]
    assert read_package(tmp_path / "c").manifest["container"]["image"].endswith("sagemaker-xgboost:1.7-1")


# ----------------------------------------------------------------------------- AWS's toolkit
class _Processor:
    def __init__(self, props):
        self.props = props

    def get_request_properties(self):
        return self.props


class _Context:
    """The MMS context sagemaker-inference's Transformer reads and writes."""

    def __init__(self, model_dir, content_type, accept):
        self.system_properties = {"model_dir": str(model_dir)}
        self.request_processor = [_Processor({"Content-Type": content_type, "Accept": accept})]
        self.status, self.content_type = None, None

    def set_response_content_type(self, idx, value):
        self.content_type = value

    def set_response_status(self, code, phrase):
        self.status = (code, phrase)


def test_sklearn_handlers_inside_aws_sagemaker_inference_toolkit(skl_pkg, tmp_path, monkeypatch):
    """code/inference.py as the toolkit's user module; requests encoded and responses decoded
    by the toolkit's own encoders/decoders; predictions equal verify's (source and reference)."""
    si = pytest.importorskip("sagemaker_inference")
    from sagemaker_inference import decoder, encoder
    from sagemaker_inference.transformer import Transformer

    import portable
    from portable.packaging.unpack import extract

    model, pkg = skl_pkg
    model_dir = extract(pkg.path / "model.tar.gz", tmp_path / "model")
    monkeypatch.setenv("SAGEMAKER_PROGRAM", "inference.py")
    monkeypatch.syspath_prepend(str(model_dir / "code"))
    monkeypatch.delitem(sys.modules, "inference", raising=False)
    X, _ = data(n=64, seed=11)
    want = model.predict_proba(X)
    ref = portable.evaluate(portable.import_model(model), X)
    assert np.abs(ref - want).max() <= 1e-12                 # verify's reference agrees
    try:
        t = Transformer()
        for ctype in ("text/csv", "application/json", "application/x-npy"):
            for accept in ("text/csv", "application/x-npy", "application/json"):
                ctx = _Context(model_dir, ctype, accept)
                body = encoder.encode(X, ctype)
                out = t.transform([{"body": body.encode() if isinstance(body, str) else body}], ctx)
                assert ctx.status is None and ctx.content_type == accept
                got = (np.array(json.loads(out[0])["predictions"]) if accept == "application/json"
                       else decoder.decode(out[0].decode() if accept == "text/csv" else out[0], accept))
                assert np.array_equal(np.asarray(got, float).reshape(want.shape), want), (ctype, accept)
        ctx = _Context(model_dir, "text/csv", "text/csv")          # single row, as text
        out = t.transform([{"body": ",".join(repr(float(v)) for v in X[0]).encode()}], ctx)
        assert np.array_equal(decoder.decode(out[0].decode(), "text/csv"), want[0])
        bad = _Context(model_dir, "text/csv", "text/csv")
        out = t.transform([{"body": b"1,2,3,4,5\n1,2,oops,4,5\n"}], bad)
        assert bad.status == (400, "Bad Request")
        assert "CSV row 2, column 3 ('x2')" in out[0] or "CSV row 2, column 3 ('f2')" in out[0]
        wrong = _Context(model_dir, "text/plain", "text/csv")
        t.transform([{"body": b"1,2"}], wrong)
        assert wrong.status[0] == 415
    finally:
        sys.modules.pop("inference", None)
    assert si.__name__ == "sagemaker_inference"
