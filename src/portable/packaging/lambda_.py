"""AWS Lambda packages: ``lambda.zip`` with the generated pure-Python model and a handler.

Lambda's Python runtime has no numpy, so the zip holds only standard-library code: the
``python`` converter's ``portable_model/`` package, ``portable_codecs.py`` (a verbatim copy
of :mod:`portable.serving.codecs`, which imports numpy only for .npy bodies) and
``lambda_function.py`` (handler ``lambda_function.lambda_handler``) for API Gateway proxy
events, payload format 1.0 (REST API) and 2.0 (HTTP API).

The gate is :func:`portable.verify` of the ``python`` format; the samples (API Gateway
events and the responses they must get) come from running the handler in-process on the
model's golden rows. The zip is deterministic: sorted members, 1980-01-01 timestamps,
mode 0644, deflate.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import sys
import tempfile
import zipfile
from pathlib import Path

from . import PackagingError
from .gates import verify_gate
from .tarball import checksums
from .unpack import extract_zip

ZIP = "lambda.zip"
HANDLER = "lambda_function.lambda_handler"
RUNTIMES = ("python3.10", "python3.11", "python3.12", "python3.13")
_TOP = ("lambda_function", "portable_codecs", "portable_model")


def zip_bytes(files: dict[str, bytes]) -> bytes:
    """A deflated zip of ``files``, byte-for-byte stable for the same files."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so that external_attr holds the mode
            info.external_attr = 0o644 << 16
            z.writestr(info, files[name], compresslevel=9)
    return buf.getvalue()


@contextlib.contextmanager
def loaded_handler(folder):
    """Import ``lambda_function`` from an unzipped package, as Lambda does (the folder on
    ``sys.path``), and forget it and its modules afterwards."""
    folder = str(folder)
    saved = {k: sys.modules.pop(k) for k in list(sys.modules)
             if k.split(".")[0] in _TOP}
    sys.path.insert(0, folder)
    try:
        yield importlib.import_module("lambda_function")
    finally:
        sys.path.remove(folder)
        for k in [k for k in sys.modules if k.split(".")[0] in _TOP]:
            del sys.modules[k]
        sys.modules.update(saved)


def sample_events(body: str, content_type: str, accept: str) -> dict:
    """The same POST as an API Gateway REST (v1) event and an HTTP API (v2) event."""
    v1 = {"resource": "/predict", "path": "/predict", "httpMethod": "POST",
          "headers": {"Content-Type": content_type, "Accept": accept},
          "multiValueHeaders": {"Content-Type": [content_type], "Accept": [accept]},
          "queryStringParameters": None, "pathParameters": None,
          "requestContext": {"resourcePath": "/predict", "httpMethod": "POST",
                             "stage": "prod", "requestId": "sample"},
          "body": body, "isBase64Encoded": False}
    v2 = {"version": "2.0", "routeKey": "POST /predict", "rawPath": "/predict",
          "rawQueryString": "", "headers": {"content-type": content_type, "accept": accept},
          "requestContext": {"http": {"method": "POST", "path": "/predict",
                                      "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
                             "requestId": "sample", "stage": "$default"},
          "body": body, "isBase64Encoded": False}
    return {"v1": v1, "v2": v2}


def build_lambda(model, *, force: bool, verify_options=None) -> tuple[dict, dict]:
    """``(files, manifest)`` of a Lambda package."""
    from .. import __version__
    from ..api import convert, import_model
    from ..artifact import environment
    from ..converters import CONVERTERS
    from ..probes import golden_rows
    from ..serving import codecs
    from .container import template
    from .samples import request_body

    try:
        CONVERTERS.get("python")
    except ImportError as e:
        raise PackagingError(f"Lambda packages need the python converter, which is not "
                             f"importable here ({e}).") from None
    m = import_model(model)
    bundle = convert(model, format="python")
    code = {k: v for k, v in bundle.files.items() if k.startswith("portable_model/")}
    sig = m.signature
    info = {"estimator": m.source.estimator, "features": list(sig.feature_names),
            "feature_types": list(sig.feature_types), "outputs": list(sig.output_names),
            "task": sig.task, "classes": sig.to_dict()["classes"],
            "content_types": ["text/csv", "application/json", "application/jsonlines"]}
    handler = (template("lambda_function.py.tmpl").replace("@@VERSION@@", __version__)
               .replace("@@MODEL@@", repr(json.dumps(info, sort_keys=True))))
    members = {**code, "lambda_function.py": handler.encode(),
               "portable_codecs.py": Path(codecs.__file__).read_bytes()}
    archive = zip_bytes(members)
    gate = verify_gate(model, "python", verify_options)
    gate["forced"] = bool(force and not gate["passed"])
    if not gate["passed"] and not force:
        from . import GateFailedError
        raise GateFailedError(f"The Lambda package failed its parity gate (verify, python): "
                              f"{gate.get('reason') or gate['routes']}. Nothing was written; "
                              f"--force writes it anyway.")
    X = golden_rows(m)
    files, samples = {ZIP: archive}, []
    with tempfile.TemporaryDirectory(prefix="portable-lambda-") as tmp:
        extract_zip(archive, tmp)  # the checked unpacker, like every archive portable opens
        with loaded_handler(tmp) as fn:
            for ext, ctype in (("csv", codecs.CSV), ("json", codecs.JSON)):
                body = request_body(X, ctype).decode()
                for version, event in sample_events(body, ctype, ctype).items():
                    name = f"samples/event-{version}-{ext}"
                    resp = fn.lambda_handler(event, None)
                    files[f"{name}.json"] = _json(event)
                    files[f"{name}.response.json"] = _json(resp)
                    samples.append({"event": f"{name}.json", "payload": version,
                                    "response": f"{name}.response.json",
                                    "status": resp["statusCode"]})
    manifest = {
        "target": "lambda", "flavor": "python", "portable": __version__,
        "archive": {"file": ZIP, **checksums({ZIP: archive})[ZIP], "members": checksums(members)},
        "handler": HANDLER, "runtimes": list(RUNTIMES), "dependencies": [],
        "signature": sig.to_dict(), "source": m.source.to_dict(), "fingerprint": m.fingerprint(),
        "content_types": {"request": info["content_types"], "response": info["content_types"],
                          "default_accept": codecs.CSV},
        "limits": {"max_payload_bytes": codecs.MAX_PAYLOAD_BYTES},
        "gate": gate, "samples": samples, "warnings": [], "environment": environment(),
    }
    return files, manifest


def _json(obj) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode()
