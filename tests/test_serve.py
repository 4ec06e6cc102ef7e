"""`portable serve` over real HTTP on loopback: the SageMaker container contract for every
flavor (one server per flavor, all started once for this module, as subprocesses)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from _serving_helpers import SMALL_GATE, SMALL_VERIFY, Server, free_port, logistic, xgb_classifier
from portable.packaging import package
from portable.packaging.unpack import extract

pytest.importorskip("uvicorn")
pytest.importorskip("xgboost")
pytestmark = pytest.mark.filterwarnings("ignore:.*Unknown file format")

CSV = {"Content-Type": "text/csv"}


def _pmml_ok() -> bool:
    from portable.runtimes import RUNTIMES
    return RUNTIMES.get("jpmml").available() is None


def _c_ok() -> bool:
    from portable.runtimes import RUNTIMES
    try:
        return RUNTIMES.get("gcc").available() is None
    except ImportError:
        return False


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    clf = xgb_classifier()
    pkgs = {
        "onnx": package(clf, flavor="onnx", out_dir=root / "onnx", verify_options=SMALL_VERIFY),
        "sklearn": package(logistic(), flavor="sklearn", out_dir=root / "skl",
                           verify_options=SMALL_GATE),
        "xgboost-builtin": package(clf, flavor="xgboost-builtin", out_dir=root / "xgb",
                                   verify_options=SMALL_GATE),
        "native": package(clf, flavor="native", native_format="python", out_dir=root / "nat",
                          verify_options=SMALL_VERIFY),
    }
    if _pmml_ok():
        pkgs["pmml"] = package(clf, flavor="pmml", out_dir=root / "pmml", verify_options=SMALL_VERIFY)
    if _c_ok():
        pkgs["native-c"] = package(clf, flavor="native", native_format="c", out_dir=root / "c",
                                   verify_options=SMALL_VERIFY)
    started = {}
    try:
        for name, pkg in pkgs.items():
            if name == "onnx":  # port and workers from SageMaker's environment variables
                port = free_port()
                s = Server([pkg.path], port=port, env={"SAGEMAKER_BIND_TO_PORT": str(port),
                                                       "SAGEMAKER_MODEL_SERVER_WORKERS": "2"})
            else:
                s = Server([pkg.path, "--workers", "1"])
            started[name] = (s, pkg)
        # The bring-your-own-container entry point, run from the build context's copy of
        # portable against the extracted archive: `docker run IMAGE serve` minus Docker.
        model_dir = extract(pkgs["onnx"].path / "model.tar.gz", root / "opt-ml-model")
        env = {"PYTHONPATH": str(pkgs["onnx"].path / "container" / "src"), "SM_MODEL_DIR":
               str(model_dir), "PORTABLE_SERVE_HOST": "127.0.0.1",
               "SAGEMAKER_MODEL_SERVER_WORKERS": "1"}
        port = free_port()
        env["SAGEMAKER_BIND_TO_PORT"] = str(port)
        started["container"] = (Server([], port=port, env=env,
                                       module_args=["portable.serving.container", "serve"]),
                                pkgs["onnx"])
        for s, _ in started.values():
            s.wait()
        yield started
    finally:
        for s, _ in started.values():
            s.stop()


FLAVORS = ["onnx", "sklearn", "xgboost-builtin", "native", "native-c", "pmml", "container"]


@pytest.fixture(params=FLAVORS)
def flavor(request, servers):
    if request.param not in servers:
        pytest.skip(f"{request.param}: runtime not available here")
    return request.param


def test_ping_is_200_with_an_empty_body(servers, flavor):
    s, _ = servers[flavor]
    status, headers, body = s.call("GET", "/ping")
    assert (status, body, headers["content-length"]) == (200, b"", "0")


def test_every_sample_request_gets_its_expected_response_byte_for_byte(servers, flavor):
    s, pkg = servers[flavor]
    samples = pkg.manifest["samples"]
    assert len(samples) >= 3
    for sample in samples:
        body = (pkg.path / sample["request"]).read_bytes()
        status, headers, got = s.call("POST", "/invocations", body, {
            "Content-Type": sample["content_type"], "Accept": sample["accept"]})
        assert status == sample["status"], (sample, got)
        assert got == (pkg.path / sample["response"]).read_bytes(), sample
        if status == 200:
            assert headers["content-type"] == sample["accept"]


def test_bad_input_is_4xx_naming_row_and_column_never_500(servers, flavor):
    s, pkg = servers[flavor]
    n = len(pkg.manifest["signature"]["feature_names"])
    good = ",".join(["0.5"] * n)
    cases = {
        f"{good}\n{','.join(['0.5'] * (n - 1))},abc\n": (400, f"CSV row 2, column {n}"),
        f"{good}\n{good},9\n": (400, f"CSV row 2: {n + 1} columns"),
        "\n\n": (400, "no rows"),
        "\x00\xff\xfe garbage": (400, None),
    }
    for body, (want, words) in cases.items():
        status, _, got = s.call("POST", "/invocations", body.encode("latin-1"), CSV)
        assert status == want, (body, got)
        msg = json.loads(got)["error"]
        assert "Traceback" not in msg and (words is None or words in msg), msg
    status, _, got = s.call("POST", "/invocations", b"1", {"Content-Type": "text/plain"})
    assert status == 415 and "text/csv" in json.loads(got)["error"]
    status, _, _ = s.call("POST", "/invocations", good.encode(), {**CSV, "Accept": "image/png"})
    assert status == 406
    fuzz = [b"[[" * 50, b"{\"instances\": 3}", b"[1, 2]", b"[[true, 1, 2, 3, 4]]",
            b"{\"x\": 1}", b"[[1e999, 0, 0, 0, 0]]", "[[\"\u00e9\", 1, 2, 3, 4]]".encode()]
    for body in fuzz:
        status, _, got = s.call("POST", "/invocations", body, {"Content-Type": "application/json"})
        assert status < 500, (body, got)


def test_accept_negotiation_and_charset(servers):
    s, pkg = servers["onnx"]
    n = len(pkg.manifest["signature"]["feature_names"])
    row = ",".join(["0.25"] * n).encode()
    _, h1, csv_ = s.call("POST", "/invocations", row, {"Content-Type": "text/csv; charset=UTF-8"})
    assert h1["content-type"] == "text/csv" and csv_.count(b"\n") == 1   # default: CSV
    _, h2, js = s.call("POST", "/invocations", row, {**CSV, "Accept": "application/json"})
    _, h3, jl = s.call("POST", "/invocations", row,
                       {**CSV, "Accept": "text/html;q=0.9, application/jsonlines, */*;q=0.1"})
    assert h3["content-type"] == "application/jsonlines"
    values = [float(v) for v in csv_.decode().split(",")]
    assert json.loads(js)["predictions"] == [values] and json.loads(jl) == values
    _, _, npy = s.call("POST", "/invocations", row, {**CSV, "Accept": "application/x-npy"})
    import io
    arr = np.load(io.BytesIO(npy))
    assert arr.dtype == np.float32 and np.array_equal(arr, np.array([values], np.float32))


def test_payload_limit_413_above_6_mib_and_a_full_6_mib_batch_is_scored(servers):
    s, pkg = servers["onnx"]
    n = len(pkg.manifest["signature"]["feature_names"])
    line = (",".join(["0.125"] * n) + "\n").encode()
    big = line * (6 * 1024 * 1024 // len(line))
    assert len(big) <= 6 * 1024 * 1024
    status, _, body = s.call("POST", "/invocations", big, CSV)
    assert status == 200 and body.count(b"\n") == big.count(b"\n")
    status, _, body = s.call("POST", "/invocations", b"0" * (6 * 1024 * 1024 + 1), CSV)
    assert status == 413 and "6 MiB" in json.loads(body)["error"]


def test_environment_port_workers_execution_parameters_and_routes(servers):
    s, _ = servers["onnx"]           # started with SAGEMAKER_BIND_TO_PORT, no --port
    status, _, body = s.call("GET", "/execution-parameters")
    assert status == 200 and json.loads(body) == {
        "MaxConcurrentTransforms": 2, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 6}
    import psutil
    kids = psutil.Process(s.proc.pid).children(recursive=True)
    assert sum("python" in (k.name() or "") for k in kids) >= 2   # two worker processes
    assert s.call("GET", "/other")[0] == 404
    assert s.call("GET", "/invocations")[0] == 405
    assert s.call("POST", "/ping")[0] == 405


def test_concurrent_requests_all_succeed_and_agree(servers, flavor):
    s, pkg = servers[flavor]
    body = (pkg.path / "samples/request.csv").read_bytes()
    want = (pkg.path / "samples/response.csv").read_bytes()
    with ThreadPoolExecutor(16) as ex:
        results = list(ex.map(lambda _: s.call("POST", "/invocations", body, CSV), range(64)))
    assert all(r[0] == 200 and r[2] == want for r in results)


def test_container_entry_runs_the_vendored_copy(servers):
    s, pkg = servers["container"]
    src = pkg.path / "container" / "src"
    out = subprocess.run([sys.executable, "-c", "import portable; print(portable.__file__)"],
                         env={**os.environ, "PYTHONPATH": str(src)}, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip().startswith(str(src))
    r = subprocess.run([sys.executable, "-m", "portable.serving.container", "train"],
                       env={**os.environ, "PYTHONPATH": str(src)}, capture_output=True, text=True)
    assert r.returncode == 2 and "does not train" in r.stderr
    assert shutil.which("sh")


def test_internal_errors_are_500_with_a_reference_and_no_detail(caplog):
    from portable.serving.handlers import Handler

    class Broken(Handler):
        def handle(self, body, content_type, accept):
            raise RuntimeError("secret detail /etc/passwd")

    resp = Broken().invoke(b"1", "text/csv", None)
    msg = json.loads(resp.body)["error"]
    assert resp.status == 500 and "reference" in msg
    assert "secret" not in msg and "Traceback" not in msg and "RuntimeError" not in msg
    assert "secret detail" in caplog.text            # ... but the server log has it


def test_a_model_tar_gz_file_is_served_as_its_flavor(servers):
    from portable.serving.sources import prepare

    _, pkg = servers["xgboost-builtin"]
    src = prepare(pkg.path / "model.tar.gz")
    assert src.flavor == "xgboost-builtin"
    body = (pkg.path / "samples/request.csv").read_bytes()
    assert src.open().handle(body, "text/csv", "text/csv").body == (
        pkg.path / "samples/response.csv").read_bytes()


def test_request_decoding_rules():
    """The codec every endpoint shares: headers, missing values, JSON shapes, npy safety."""
    import io

    from portable.serving.codecs import CodecError, Schema, decode, negotiate

    sc = Schema(["a", "b", "c"])
    rows = decode(b"a,b,c\n1,,NaN\n\n,,\n", "text/csv", sc)          # header, blank line
    assert len(rows) == 2 and rows[0][0] == 1.0 and all(v != v for v in rows[0][1:] + rows[1])
    assert decode(b'{"instances": [{"a": 1, "b": null, "c": "2.5"}]}', "application/json",
                  sc)[0][::2] == [1.0, 2.5]
    assert decode(b"[1, 2, 3]", "application/json", sc) == [[1.0, 2.0, 3.0]]  # one row
    buf = io.BytesIO()
    np.save(buf, np.array([[0.1, 0.2, 0.3]], np.float32))
    got = decode(buf.getvalue(), "application/x-npy", sc)
    assert got.dtype == np.float64 and got[0, 0] == np.float32(0.1)
    buf = io.BytesIO()
    np.save(buf, np.array([[object(), 1, 2]], dtype=object), allow_pickle=True)
    with pytest.raises(CodecError, match="without pickles") as e:
        decode(buf.getvalue(), "application/x-npy", sc)
    assert e.value.status == 400
    with pytest.raises(CodecError) as e:
        decode(b'{"a": 1}\n{"a": 1, "b": 2, "c": 3, "d": 4}\n', "application/jsonlines", sc)
    assert "JSON Lines row 1" in str(e.value) and "lacks feature 'b'" in str(e.value)
    assert negotiate("application/json;q=0.5, text/csv;q=0.8", "application/json") == "text/csv"
    assert negotiate("*/*", "application/jsonlines") == "application/jsonlines"
    assert negotiate(None, "text/csv") == "text/csv"
