"""``portable package``, ``serve``, ``transform`` and ``deploy``.

Flags mirror :func:`portable.packaging.package`, :func:`portable.serving.server.serve`,
:func:`portable.serving.transform.transform` and :func:`portable.deploy.deploy`; no logic
lives here.
"""

from __future__ import annotations

import functools
import json

import click


def _handled(fn):
    """``portable.cli``'s error handling, looked up at call time (the CLI imports this
    module while registering its commands, so importing it here would be circular)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from ..cli import _handle_errors
        return _handle_errors(fn)(*args, **kwargs)
    return wrapper


def _emit(obj) -> None:
    click.echo(json.dumps(obj, indent=2, sort_keys=True, default=str))


@click.command(help="Package MODEL for SageMaker (model.tar.gz, manifest, CreateModel "
                    "template, sample requests) or AWS Lambda (lambda.zip). Nothing is written "
                    "unless the package's parity gate passes (exit 1; --force writes anyway "
                    "and records it). Loading a .pkl/.joblib file runs code stored in it.")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--target", type=click.Choice(["sagemaker", "lambda"]), default="sagemaker",
              show_default=True)
@click.option("--flavor", default=None,
              type=click.Choice(["xgboost-builtin", "sklearn", "onnx", "pmml", "native"]),
              help="SageMaker container: AWS's XGBoost or scikit-learn image, or a "
                   "bring-your-own-container image (onnx, pmml, native) built from DIR/container.")
@click.option("-o", "--out-dir", required=True, type=click.Path(file_okay=False),
              help="Package folder to write (replaced atomically).")
@click.option("--force", is_flag=True, help="Write the package even if the gate fails.")
@click.option("--region", default="us-east-1", show_default=True,
              help="Region of the container image in create-model.json.")
@click.option("--framework-version", default=None,
              help="Image version (e.g. 1.7-1 for XGBoost; default: matches the model).")
@click.option("--image-uri", default=None, help="Container image URI (overrides the table).")
@click.option("--native-format", type=click.Choice(["c", "python"]), default=None,
              help="Code format of the native flavor (default: c if available, else python).")
@click.option("--rows", "n_rows", default=500, show_default=True,
              help="Sampled rows the gate compares (plus a quarter as many with NaN).")
@click.option("--probes", "n_probe", default=1000, show_default=True,
              help="Threshold-probe rows the gate compares.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_handled
def package(model, target, flavor, out_dir, force, region, framework_version, image_uri,
            native_format, n_rows, n_probe, as_json):
    from ..errors import InputError
    from ..packaging import package as do_package

    if target == "sagemaker" and flavor is None:
        raise InputError("--flavor is required with --target sagemaker (xgboost-builtin, "
                         "sklearn, onnx, pmml or native).")
    pkg = do_package(model, target=target, flavor=flavor, out_dir=out_dir, force=force,
                     region=region, framework_version=framework_version, image_uri=image_uri,
                     native_format=native_format,
                     verify_options={"n_rows": n_rows, "n_probe": n_probe})
    m = pkg.manifest
    if as_json:
        _emit({"package": str(pkg.path), "target": pkg.target, "flavor": m.get("flavor"),
               "files": sorted(m["files"]), "gate": m["gate"], "warnings": m.get("warnings", [])})
        return
    click.echo(f"wrote {pkg.path} ({', '.join(f for f in sorted(m['files']) if '/' not in f)}, "
               f"portable-package.json)")
    gate = m["gate"]
    click.echo(f"gate ({gate['kind']}): {'passed' if gate['passed'] else 'FAILED, written with --force'}")
    image = m.get("container", {}).get("image")
    if target == "sagemaker":
        click.echo(f"image: {image or 'build DIR/container and set ${IMAGE_URI}'}")
    for w in m.get("warnings", []):
        click.echo(f"warning: {w}", err=True)


@click.command(help="Serve a SageMaker package, artifact folder or model.tar.gz with the "
                    "SageMaker container contract: GET /ping, POST /invocations, "
                    "GET /execution-parameters. Port: --port, else $SAGEMAKER_BIND_TO_PORT, "
                    "else 8080; workers: --workers, else $SAGEMAKER_MODEL_SERVER_WORKERS, "
                    "else the CPU count.")
@click.argument("source", type=click.Path(exists=True))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind (0.0.0.0 inside a container).")
@click.option("--port", type=int, default=None)
@click.option("--workers", type=int, default=None)
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
@click.option("--access-log", is_flag=True, help="Log every request.")
@_handled
def serve(source, host, port, workers, log_level, access_log):
    from ..serving.server import serve as do_serve

    do_serve(source, host=host, port=port, workers=workers, log_level=log_level,
             access_log=access_log)


@click.command(help="Batch-transform every file under --input with a SageMaker package (or "
                    "artifact folder) as SageMaker batch transform does: <file>.out per input "
                    "file under --output, records in order, through the same request code as "
                    "`portable serve`.")
@click.argument("source", type=click.Path(exists=True))
@click.option("--input", "input_dir", required=True, type=click.Path(file_okay=False, exists=True))
@click.option("--output", "output_dir", required=True, type=click.Path(file_okay=False))
@click.option("--content-type", default="text/csv", show_default=True)
@click.option("--accept", default=None, help="Response type (default: the package's, text/csv).")
@click.option("--split-type", type=click.Choice(["Line", "None"]), default="Line", show_default=True)
@click.option("--strategy", type=click.Choice(["MultiRecord", "SingleRecord"]),
              default="MultiRecord", show_default=True)
@click.option("--max-payload-mb", type=int, default=6, show_default=True)
@click.option("--assemble-with", type=click.Choice(["Line", "None"]), default="Line",
              show_default=True)
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True)
@click.option("--scheduler", type=click.Choice(["processes", "threads", "synchronous"]),
              default="processes", show_default=True, help="Dask scheduler (--engine dask).")
@click.option("--partitions", type=int, default=None, help="Dask partitions (one model load each).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_handled
def transform(source, input_dir, output_dir, content_type, accept, split_type, strategy,
              max_payload_mb, assemble_with, engine, scheduler, partitions, as_json):
    from ..serving.transform import transform as do_transform

    report = do_transform(source, input_dir, output_dir, content_type=content_type,
                          accept=accept, split=split_type, strategy=strategy,
                          max_payload_mb=max_payload_mb, assemble=assemble_with, engine=engine,
                          scheduler=scheduler, partitions=partitions)
    if as_json:
        _emit(report)
    else:
        click.echo(f"wrote {report['written']} .out file(s) to {output_dir} "
                   f"({report['requests']} requests, engine {engine}, "
                   f"{report['model_loads']} model load(s), {report['seconds']} s)")


@click.command(help="Upload a SageMaker package's model.tar.gz to S3 and create the SageMaker "
                    "model, endpoint config and endpoint with boto3 (pip install "
                    "\"portable[sagemaker]\"). --endpoint-url points every client elsewhere "
                    "(e.g. a moto server).")
@click.argument("package_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--bucket", required=True)
@click.option("--role-arn", required=True, help="Execution role SageMaker assumes.")
@click.option("--prefix", default="portable", show_default=True, help="S3 key prefix.")
@click.option("--model-name", default=None, help="Default: portable-<flavor>-<fingerprint>.")
@click.option("--endpoint-name", default=None, help="Default: the model name.")
@click.option("--instance-type", default="ml.m5.large", show_default=True)
@click.option("--instance-count", type=int, default=1, show_default=True)
@click.option("--region", default=None, help="Default: the package's region.")
@click.option("--endpoint-url", default=None, help="Endpoint URL for S3 and SageMaker clients.")
@click.option("--image-uri", default=None, help="Image (required for bring-your-own-container).")
@click.option("--create-bucket", is_flag=True, help="Create the bucket if it does not exist.")
@click.option("--wait", is_flag=True, help="Wait until the endpoint is InService.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_handled
def deploy(package_dir, bucket, role_arn, prefix, model_name, endpoint_name, instance_type,
           instance_count, region, endpoint_url, image_uri, create_bucket, wait, as_json):
    from ..deploy import deploy as do_deploy

    out = do_deploy(package_dir, bucket=bucket, role_arn=role_arn, prefix=prefix,
                    model_name=model_name, endpoint_name=endpoint_name,
                    instance_type=instance_type, instance_count=instance_count, region=region,
                    endpoint_url=endpoint_url, image_uri=image_uri, create_bucket=create_bucket,
                    wait=wait)
    if as_json:
        _emit(out)
    else:
        click.echo(f"uploaded {out['model_data_url']}; model {out['model_name']}, endpoint "
                   f"{out['endpoint_name']} ({out['endpoint_status']})")


COMMANDS = [package, serve, transform, deploy]
