"""SageMaker flavors: what goes into ``model.tar.gz`` for each container, and its checks.

=================  =====================================  ==================================
flavor             model.tar.gz                           container
=================  =====================================  ==================================
xgboost-builtin    ``xgboost-model`` (Booster JSON), alone  AWS's XGBoost algorithm image
sklearn            ``model.joblib``, ``code/inference.py``  AWS's scikit-learn image
onnx/pmml/native   an artifact folder (``portable.json``)   ``container/`` (build it yourself)
=================  =====================================  ==================================

The XGBoost container loads *every* non-dot file of the archive as a model and fails on
pickled scikit-learn wrappers, hence one file, the Booster saved as JSON. The scikit-learn
container has no default ``model_fn`` and its default ``input_fn`` casts to float32 and
fails on single CSV rows and on ``charset`` parameters, hence the generated handlers.
"""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path


from . import ARCHIVE, PackagingError
from .gates import gate_rows, script_gate, verify_gate, xgboost_gate
from .images import default_version, image_uri as lookup_image
from .samples import make_samples
from .tarball import checksums, tar_bytes
from .unpack import extract
from ..serving import codecs

ENV_LIMITS = {"entries": 100, "bytes": 1024, "total": 32 * 1024}


def load_object(model):
    """The trained object behind ``model``: an XGBoost file becomes a Booster."""
    import os

    from ..loading import XGBOOST_EXTENSIONS, load_model_file

    if isinstance(model, (str, os.PathLike)):
        if str(model).lower().endswith(XGBOOST_EXTENSIONS):
            import xgboost
            return xgboost.Booster(model_file=str(model))
        return load_model_file(model)
    return model


def build_sagemaker(model, flavor: str, *, force: bool, region: str, framework_version,
                    image_uri, verify_options, native_format: str | None = None):
    """``(files, manifest)`` of a SageMaker package; raises GateFailedError unless forced."""
    from .. import __version__
    from ..api import import_model
    from ..artifact import environment
    from ..ir import Model
    from ..serving.handlers import open_model_dir

    obj = model if isinstance(model, Model) else load_object(model)
    m = import_model(obj)
    build = {"xgboost-builtin": _xgboost_builtin, "sklearn": _sklearn}.get(flavor, _byoc)
    spec = build(model=model, obj=obj, ir_model=m, flavor=flavor, options=verify_options,
                 framework_version=framework_version, native_format=native_format)
    archive = tar_bytes(spec["archive"])
    image = image_uri or (lookup_image(spec["framework"], spec["version"], region)
                          if spec.get("framework") else None)
    env = {"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": codecs.CSV, **spec.get("environment", {})}
    if flavor == "sklearn":
        env["SAGEMAKER_REGION"] = region
    _check_environment(env)
    with tempfile.TemporaryDirectory(prefix="portable-package-") as tmp:
        handler = open_model_dir(extract(archive, Path(tmp) / "model"), flavor=spec["serves_as"])
        gate = spec["gate"](handler)
        samples, sample_files = make_samples(handler, m)
    gate["forced"] = bool(force and not gate["passed"])
    if not gate["passed"] and not force:
        from . import GateFailedError
        raise GateFailedError(f"The {flavor} package failed its parity gate ({gate['kind']}): "
                              f"{_why(gate)}. Nothing was written; --force writes it anyway.")
    create_model = {
        "ModelName": "${MODEL_NAME}",
        "ExecutionRoleArn": "${EXECUTION_ROLE_ARN}",
        "PrimaryContainer": {"Image": image or "${IMAGE_URI}", "ModelDataUrl": "${MODEL_DATA_URL}",
                             "Environment": env},
    }
    files = {ARCHIVE: archive, "create-model.json": _json(create_model), **sample_files,
             **{f"container/{k}": v for k, v in spec.get("context", {}).items()}}
    manifest = {
        "target": "sagemaker", "flavor": flavor, "portable": __version__,
        "archive": {"file": ARCHIVE, **checksums({ARCHIVE: archive})[ARCHIVE],
                    "members": checksums(spec["archive"])},
        "signature": m.signature.to_dict(), "source": m.source.to_dict(),
        "fingerprint": m.fingerprint(),
        "outputs": spec["outputs"],
        "content_types": {"request": list(handler.request_types),
                          "response": list(handler.response_types),
                          "default_accept": codecs.CSV},
        "limits": {"max_payload_bytes": codecs.MAX_PAYLOAD_BYTES},
        "container": {"image": image, "framework": spec.get("framework"),
                      "version": spec.get("version"), "region": region, "environment": env,
                      **({"build_context": spec["context_summary"]} if "context_summary" in spec
                         else {})},
        "gate": gate, "samples": samples, "warnings": spec.get("warnings", []),
        "environment": environment(),
    }
    return files, manifest


def _why(gate: dict) -> str:
    if gate.get("reason"):
        return gate["reason"]
    bad = {k: v for k, v in gate.get("kinds", gate.get("routes", {})).items()
           if v.get("mismatched_rows") or v.get("status") not in (None, "passed")}
    return "; ".join(f"{k}: {json.dumps(v)[:200]}" for k, v in bad.items()) or "see the summary"


def _json(obj) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode()


def _check_environment(env: dict) -> None:
    total = sum(len(k.encode()) + len(str(v).encode()) for k, v in env.items())
    if len(env) > ENV_LIMITS["entries"] or total > ENV_LIMITS["total"] or any(
            len(k.encode()) > ENV_LIMITS["bytes"] or len(str(v).encode()) > ENV_LIMITS["bytes"]
            for k, v in env.items()):
        raise PackagingError(f"The container environment breaks SageMaker's limits "
                             f"({ENV_LIMITS}): {len(env)} entries, {total} bytes.")


# ----------------------------------------------------------------------------- xgboost
def _xgboost_builtin(*, obj, ir_model, options, framework_version, **_):
    import xgboost

    names = {c.__name__ for c in type(obj).__mro__}
    if "Booster" in names:
        booster, shipped, iteration_range = obj, obj, None
    elif "XGBModel" in names:
        booster = obj.get_booster()
        best = getattr(obj, "best_iteration", None)
        # Ship exactly the trees the estimator's predict uses: the container predicts
        # with every tree of the file.
        iteration_range = (0, int(best) + 1) if best is not None else None
        shipped = booster[: int(best) + 1] if best is not None else booster
    else:
        raise PackagingError(
            f"The xgboost-builtin flavor ships a bare XGBoost model; {type(obj).__name__} is "
            f"not one (a pipeline's transforms would not run in AWS's XGBoost container). "
            f"Use --flavor onnx (or sklearn for scikit-learn models).")
    if any(t == "c" for t in (booster.feature_types or ())):
        raise PackagingError("The model has categorical features, which CSV requests to the "
                             "XGBoost container cannot express; use --flavor onnx.")
    data = bytes(shipped.save_raw(raw_format="json"))
    objective = json.loads(booster.save_config())["learner"]["objective"]["name"]
    rows = gate_rows(ir_model, options)
    sig = ir_model.signature
    return {
        "archive": {"xgboost-model": data}, "serves_as": "xgboost-builtin",
        "framework": "xgboost",
        "version": framework_version or default_version("xgboost", xgboost.__version__),
        "gate": lambda h: xgboost_gate(booster, h, rows, iteration_range),
        "outputs": {"kind": "raw Booster.predict", "objective": objective,
                    "columns": _xgb_columns(objective, sig),
                    "note": "Classifiers return probabilities (binary: of the positive class), "
                            "never labels; responses are text/csv (one row per line) or "
                            'application/json {"predictions": [{"score": ...}]}.'},
    }


def _xgb_columns(objective: str, sig) -> list[str]:
    if objective.startswith("binary:") and sig.classes is not None:
        return [f"probability({sig.classes[-1]})"]
    if objective == "multi:softmax":
        return ["class index"]
    return list(sig.output_names)


# ----------------------------------------------------------------------------- sklearn
METHODS = {"probability": "predict_proba", "decision": "decision_function", "value": "predict"}


def _sklearn(*, model, obj, ir_model, options, framework_version, **_):
    import os

    import joblib
    import sklearn

    from .. import __version__
    from .. import ir
    from .container import template

    if not type(obj).__module__.startswith("sklearn"):
        raise PackagingError(f"The sklearn flavor ships a scikit-learn estimator; "
                             f"{type(obj).__name__} is not one. XGBoost models: "
                             f"--flavor xgboost-builtin.")
    if isinstance(model, (str, os.PathLike)) and str(model).lower().endswith((".joblib", ".pkl", ".pickle")):
        data = Path(model).read_bytes()  # the very bytes that were trained and saved
    else:
        buf = io.BytesIO()
        joblib.dump(obj, buf)
        data = buf.getvalue()
    if b"xgboost" in data:
        raise PackagingError("This pipeline contains an XGBoost model, and AWS's scikit-learn "
                             "container has no xgboost package; use --flavor onnx.")
    sig = ir_model.signature
    first = ir_model.transforms[0] if ir_model.transforms else None
    config = {
        "estimator": ir_model.source.estimator, "model_file": "model.joblib",
        "feature_names": list(sig.feature_names),
        "string_columns": [j for j, t in enumerate(sig.feature_types) if t == "string"],
        "method": METHODS[sig.prediction_kind], "output_names": list(sig.output_names),
        "input": ("text" if isinstance(first, ir.TextVectorizer) else
                  "frame" if getattr(obj, "feature_names_in_", None) is not None else "array"),
    }
    src = (Path(codecs.__file__).read_text().split("from __future__ import annotations\n", 1)[1])
    script = (template("sklearn_inference.py.tmpl").replace("@@VERSION@@", __version__)
              .replace("@@ESTIMATOR@@", config["estimator"]).replace("@@METHOD@@", config["method"])
              .replace("@@CONFIG@@", repr(json.dumps(config, sort_keys=True)))
              .replace("@@CODECS@@", src.strip("\n")))
    version = framework_version or default_version("sklearn", sklearn.__version__)
    warnings = []
    if version.split("-")[0] != ".".join(sklearn.__version__.split(".")[:2]):
        warnings.append(
            f"model.joblib was pickled with scikit-learn {sklearn.__version__}; the image "
            f"{version} ships scikit-learn {version.split('-')[0]}, and pickles do not load "
            f"across scikit-learn versions. Use an image with the same version (--image-uri) "
            f"or --flavor onnx.")
    rows = gate_rows(ir_model, options)
    return {
        "archive": {"model.joblib": data, "code/inference.py": script.encode()},
        "serves_as": "sklearn", "framework": "sklearn", "version": version,
        "environment": {"SAGEMAKER_PROGRAM": "inference.py",
                        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20"},
        "gate": lambda h: script_gate(obj, ir_model, h, rows),
        "outputs": {"kind": config["method"], "columns": list(sig.output_names)},
        "warnings": warnings,
    }


# ----------------------------------------------------------------------------- byoc
def pick_native_format(preferred: str | None = None) -> str:
    """The code format of the ``native`` flavor: ``preferred``, else C, else Python, as
    far as their converters and runtimes are installed here."""
    from ..converters import CONVERTERS
    from ..runtimes import RUNTIMES

    why = []
    for name in ([preferred] if preferred else ["c", "python"]):
        try:
            conv = CONVERTERS.get(name)
            reason = RUNTIMES.get(conv.default_runtime).available()
        except (ImportError, AttributeError) as e:
            reason = f"converter not importable ({e})"
        if reason is None:
            return name
        why.append(f"{name}: {reason}")
    raise PackagingError("The native flavor needs the c or python converter and its runtime: "
                         + "; ".join(why) + ".")


def _byoc(*, model, ir_model, flavor, options, native_format: str | None = None, **_):
    from ..api import convert
    from ..artifact import read_artifact
    from .container import build_context

    fmt = {"onnx": "onnx", "pmml": "pmml"}.get(flavor) or pick_native_format(native_format)
    with tempfile.TemporaryDirectory(prefix="portable-byoc-") as tmp:
        art = convert(model, format=fmt).save(Path(tmp) / "artifact", check=True)
        archive = {p.relative_to(art.path).as_posix(): p.read_bytes()
                   for p in sorted(art.path.rglob("*")) if p.is_file()}
        runtime = read_artifact(art.path).default_runtime
    context, summary = build_context(flavor, runtime)
    sig = ir_model.signature
    return {
        "archive": archive, "serves_as": flavor, "format": fmt,
        "gate": lambda h: verify_gate(model, fmt, options),
        "context": context, "context_summary": summary,
        "outputs": {"kind": sig.prediction_kind, "columns": list(sig.output_names),
                    "format": fmt, "runtime": runtime},
    }
