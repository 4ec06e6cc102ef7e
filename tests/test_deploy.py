"""`portable deploy` against a moto server on 127.0.0.1: the S3 upload is byte-exact and the
SageMaker model, endpoint config and endpoint are created from the package's template."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from _serving_helpers import SMALL_GATE, SMALL_VERIFY, xgb_classifier
from portable.commands.serving import deploy as deploy_cmd
from portable.deploy import DeployError, deploy
from portable.packaging import package

boto3 = pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
ROLE = "arn:aws:iam::123456789012:role/portable-test"


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        mp.setenv(k, v)
    mp.delenv("AWS_PROFILE", raising=False)
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    assert host == "127.0.0.1"
    yield f"http://127.0.0.1:{port}"
    server.stop()
    mp.undo()


@pytest.fixture(scope="module")
def pkgs(tmp_path_factory):
    root = tmp_path_factory.mktemp("deploy")
    clf = xgb_classifier()
    return {"xgb": package(clf, flavor="xgboost-builtin", out_dir=root / "xgb",
                           verify_options=SMALL_GATE),
            "onnx": package(clf, flavor="onnx", out_dir=root / "onnx", verify_options=SMALL_VERIFY)}


def test_deploy_uploads_and_creates_model_config_and_endpoint(moto, pkgs):
    pkg = pkgs["xgb"]
    out = deploy(pkg.path, bucket="models", role_arn=ROLE, endpoint_url=moto,
                 create_bucket=True, wait=True, waiter_delay=1)
    s3 = boto3.client("s3", endpoint_url=moto)
    sm = boto3.client("sagemaker", endpoint_url=moto)
    key = out["model_data_url"].removeprefix("s3://models/")
    stored = s3.get_object(Bucket="models", Key=key)
    assert stored["Body"].read() == (pkg.path / "model.tar.gz").read_bytes()
    assert stored["Metadata"]["sha256"] == pkg.manifest["archive"]["sha256"]
    model = sm.describe_model(ModelName=out["model_name"])
    container = model["PrimaryContainer"]
    assert container["Image"] == pkg.manifest["container"]["image"]
    assert container["ModelDataUrl"] == out["model_data_url"]
    assert container["Environment"] == pkg.manifest["container"]["environment"]
    assert model["ExecutionRoleArn"] == ROLE
    cfg = sm.describe_endpoint_config(EndpointConfigName=out["endpoint_config_name"])
    assert cfg["ProductionVariants"][0]["ModelName"] == out["model_name"]
    assert cfg["ProductionVariants"][0]["InstanceType"] == "ml.m5.large"
    assert out["endpoint_status"] == "InService"
    assert out["model_name"] == f"portable-xgboost-builtin-{pkg.manifest['fingerprint'][:8]}"


def test_byoc_needs_an_image_and_the_cli_takes_one(moto, pkgs):
    with pytest.raises(DeployError, match="--image-uri"):
        deploy(pkgs["onnx"].path, bucket="models", role_arn=ROLE, endpoint_url=moto)
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/portable-onnx:1"
    r = CliRunner().invoke(deploy_cmd, [str(pkgs["onnx"].path), "--bucket", "models",
                                        "--role-arn", ROLE, "--endpoint-url", moto,
                                        "--image-uri", image, "--create-bucket",
                                        "--model-name", "onnx-model", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    sm = boto3.client("sagemaker", endpoint_url=moto)
    assert sm.describe_model(ModelName="onnx-model")["PrimaryContainer"]["Image"] == image
    assert out["endpoint_name"] == "onnx-model"


def test_aws_errors_are_clear_portable_errors(moto, pkgs):
    with pytest.raises(DeployError, match="put_object failed: NoSuchBucket"):
        deploy(pkgs["xgb"].path, bucket="no-such-bucket", role_arn=ROLE, endpoint_url=moto)
    with pytest.raises(DeployError, match="Invalid model name"):
        deploy(pkgs["xgb"].path, bucket="models", role_arn=ROLE, endpoint_url=moto,
               model_name="bad_name!")
    from _serving_helpers import free_port
    closed = f"http://127.0.0.1:{free_port()}"        # nothing listens there
    r = CliRunner().invoke(deploy_cmd, [str(pkgs["xgb"].path), "--bucket", "models", "--role-arn",
                                        ROLE, "--endpoint-url", closed],
                           env={"AWS_MAX_ATTEMPTS": "1", "AWS_RETRY_MODE": "standard"})
    assert r.exit_code == 2 and "put_object failed" in r.output and "Traceback" not in r.output
