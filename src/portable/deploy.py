"""``portable deploy``: a SageMaker package to a real (or moto) SageMaker endpoint.

Steps, each an ordinary boto3 call (optional extra ``portable[sagemaker]``):

1. ``s3.put_object`` of ``model.tar.gz`` to ``s3://BUCKET/PREFIX/MODEL/model.tar.gz``, then
   ``head_object`` to check the stored size and MD5 (ETag) against the local bytes;
2. ``sagemaker.create_model`` from the package's ``create-model.json`` (placeholders filled);
3. ``create_endpoint_config`` (one variant, all traffic) and ``create_endpoint``;
4. with ``wait``, the ``endpoint_in_service`` waiter.

``endpoint_url`` points every client at another endpoint (tests use a moto server on
127.0.0.1). Credentials and region come from the usual boto3 chain; nothing here reads them.
"""

from __future__ import annotations

import hashlib
import json
import re

from .errors import PortableError, RuntimeUnavailableError

INSTALL = 'portable deploy needs boto3: pip install "portable[sagemaker]" (boto3==1.44.8).'
_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


class DeployError(PortableError):
    """An AWS call failed, or the package cannot be deployed as it is."""


def _fill(obj, values: dict):
    if isinstance(obj, dict):
        return {k: _fill(v, values) for k, v in obj.items()}
    if isinstance(obj, str):
        for k, v in values.items():
            obj = obj.replace("${" + k + "}", v)
        return obj
    return obj


def deploy(package_dir, *, bucket: str, role_arn: str, prefix: str = "portable",
           model_name: str | None = None, endpoint_name: str | None = None,
           instance_type: str = "ml.m5.large", instance_count: int = 1,
           region: str | None = None, endpoint_url: str | None = None,
           image_uri: str | None = None, create_bucket: bool = False, wait: bool = False,
           waiter_delay: int = 30) -> dict:
    """Upload and create model, endpoint config and endpoint; returns what was created.

    Examples
    --------
    >>> deploy("dist/xgb", bucket="my-models", role_arn="arn:aws:iam::1:role/sm")  # doctest: +SKIP
    {'model_name': 'portable-xgboost-builtin-1a2b3c4d', 'endpoint_status': 'Creating', ...}
    """
    try:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        raise RuntimeUnavailableError(INSTALL) from None
    from .packaging import ARCHIVE, read_package

    pkg = read_package(package_dir)
    if pkg.target != "sagemaker":
        raise DeployError(f"{str(pkg.path)!r} is a {pkg.target} package; deploy takes "
                          f"SageMaker packages.")
    m = pkg.manifest
    model_name = model_name or f"portable-{m['flavor']}-{m['fingerprint'][:8]}"
    endpoint_name = endpoint_name or model_name
    for label, name in (("model", model_name), ("endpoint", endpoint_name)):
        if not _NAME.match(name):
            raise DeployError(f"Invalid {label} name {name!r}: up to 63 letters, digits and "
                              f"hyphens, starting and ending with a letter or digit.")
    template = json.loads((pkg.path / "create-model.json").read_text())
    image = image_uri or template["PrimaryContainer"]["Image"]
    if "${" in image:
        raise DeployError(f"The {m['flavor']} flavor runs your own image: build "
                          f"{pkg.path / 'container'}, push it to ECR and pass --image-uri.")
    data = (pkg.path / ARCHIVE).read_bytes()
    key = f"{prefix.strip('/')}/{model_name}/{ARCHIVE}"
    url = f"s3://{bucket}/{key}"
    region = region or m.get("container", {}).get("region") or None
    session = boto3.session.Session(region_name=region)
    s3 = session.client("s3", endpoint_url=endpoint_url)
    sm = session.client("sagemaker", endpoint_url=endpoint_url)
    step = "upload"
    try:
        if create_bucket:
            step = "create_bucket"
            kw = ({"CreateBucketConfiguration": {"LocationConstraint": session.region_name}}
                  if session.region_name not in (None, "us-east-1") else {})
            try:
                s3.create_bucket(Bucket=bucket, **kw)
            except ClientError as e:
                if e.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou",):
                    raise
        step = "put_object"
        s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType="application/gzip",
                      Metadata={"sha256": m["archive"]["sha256"]})
        head = s3.head_object(Bucket=bucket, Key=key)
        if head["ContentLength"] != len(data) or head["ETag"].strip('"') != hashlib.md5(data).hexdigest():
            raise DeployError(f"{url} does not hold the bytes uploaded (size or MD5 differ).")
        step = "create_model"
        request = _fill(template, {"MODEL_NAME": model_name, "EXECUTION_ROLE_ARN": role_arn,
                                   "MODEL_DATA_URL": url, "IMAGE_URI": image})
        request["PrimaryContainer"]["Image"] = image
        sm.create_model(**request)
        step = "create_endpoint_config"
        sm.create_endpoint_config(EndpointConfigName=endpoint_name, ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": model_name,
            "InitialInstanceCount": int(instance_count), "InstanceType": instance_type,
            "InitialVariantWeight": 1.0}])
        step = "create_endpoint"
        sm.create_endpoint(EndpointName=endpoint_name, EndpointConfigName=endpoint_name)
        if wait:
            step = "wait"
            sm.get_waiter("endpoint_in_service").wait(
                EndpointName=endpoint_name, WaiterConfig={"Delay": waiter_delay, "MaxAttempts": 120})
        status = sm.describe_endpoint(EndpointName=endpoint_name)["EndpointStatus"]
    except ClientError as e:
        err = e.response.get("Error", {})
        raise DeployError(f"{step} failed: {err.get('Code', 'error')}: "
                          f"{err.get('Message', str(e))}") from None
    except BotoCoreError as e:  # no credentials, unreachable endpoint, waiter timeout
        raise DeployError(f"{step} failed: {e}") from None
    return {"model_data_url": url, "model_name": model_name, "endpoint_name": endpoint_name,
            "endpoint_config_name": endpoint_name, "image": image, "endpoint_status": status,
            "region": session.region_name, "archive_sha256": m["archive"]["sha256"]}
