"""Request handlers: one request body in, one response out, for every kind of model folder.

A handler is what ``portable serve``, ``portable transform`` and the package builder's
sample generator all call, so the three can never disagree:

* :class:`ArtifactHandler`: an artifact folder (``portable.json``) run by its runtime; the
  ``onnx``, ``pmml`` and ``native`` SageMaker flavors ship exactly such a folder.
* :class:`ScriptHandler`: a scikit-learn package (``model.joblib`` + ``code/inference.py``),
  run through its own ``model_fn``/``input_fn``/``predict_fn``/``output_fn``, as AWS's
  scikit-learn container runs it.
* :class:`XGBoostBuiltinHandler`: a lone ``xgboost-model`` file, loaded and answered the way
  AWS's built-in XGBoost container does (``text/csv`` in; raw ``Booster.predict`` out).

``handle`` raises :class:`~portable.serving.codecs.CodecError` for bad requests (the
caller decides how to report them); ``invoke`` never raises: it maps every failure to a
status and a JSON message, and logs unexpected ones without showing them to the client.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import sys
import uuid
from pathlib import Path
from typing import NamedTuple

from . import codecs
from .codecs import CSV, JSON, CodecError

log = logging.getLogger("portable.serving")


class Response(NamedTuple):
    status: int
    body: bytes
    content_type: str


class Handler:
    """Base class: subclasses set the attributes below and implement ``handle``."""

    flavor = "artifact"
    request_types = codecs.REQUEST_TYPES
    response_types = codecs.RESPONSE_TYPES
    default_accept = CSV

    def handle(self, body: bytes, content_type: str | None, accept: str | None) -> Response:
        raise NotImplementedError

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> Response:
        """``handle`` with every failure turned into an error response (never raises)."""
        from ..errors import PortableError

        try:
            return self.handle(body, content_type, accept)
        except CodecError as e:
            return error_response(e.status, str(e))
        except PortableError as e:  # InputError and kin: the rows do not fit the model
            return error_response(400, str(e))
        except Exception:
            ref = uuid.uuid4().hex[:12]
            log.exception("internal error %s while answering an invocation", ref)
            return error_response(500, f"Internal error (reference {ref}); the server log "
                                       f"has the details.")


def error_response(status: int, message: str) -> Response:
    return Response(status, codecs.error_body(status, message), JSON)


def _default_accept(fallback: str, offered) -> str:
    env = codecs.parse_media_type(os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"))[0]
    return env if env in offered else fallback


# ----------------------------------------------------------------------------- artifacts
class ArtifactHandler(Handler):
    """An artifact folder through ``portable.load`` (its manifest's default runtime)."""

    def __init__(self, folder, *, runtime: str | None = None, flavor: str = "artifact"):
        import numpy as np

        from ..api import load
        from ..artifact import read_artifact

        art = read_artifact(folder)
        self.flavor = flavor
        self.signature = art.manifest["signature"]
        self.schema = codecs.Schema.from_signature(self.signature)
        self.session = load(folder, runtime=runtime)
        self.default_accept = _default_accept(CSV, self.response_types)
        self._dtype = object if self.schema.string_columns else np.float64

    def handle(self, body, content_type, accept):
        import numpy as np

        from ..errors import InputError, UnsupportedFeatureError

        media = codecs.negotiate(accept, self.default_accept, self.response_types)
        rows = codecs.decode(body, content_type, self.schema, accepted=self.request_types)
        X = rows if hasattr(rows, "dtype") else np.array(rows, dtype=self._dtype)
        try:
            Y = self.session.predict(X)
        except (InputError, UnsupportedFeatureError) as e:
            raise CodecError(400, str(e)) from None
        return Response(200, codecs.encode(Y, media), media)


# ----------------------------------------------------------------------------- sklearn
class ScriptHandler(Handler):
    """A scikit-learn package: the generated ``code/inference.py`` does all the work."""

    flavor = "sklearn"

    def __init__(self, model_dir):
        model_dir = Path(model_dir)
        script = model_dir / "code" / "inference.py"
        name = f"portable_inference_{uuid.uuid4().hex}"
        spec = importlib.util.spec_from_file_location(name, script)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses / pickling look modules up by name
        spec.loader.exec_module(module)
        self.module = module
        self.model = module.model_fn(str(model_dir))
        self.signature = None
        self.schema = module.SCHEMA

    def handle(self, body, content_type, accept):
        m = self.module
        try:
            out = m.output_fn(m.predict_fn(m.input_fn(body, content_type), self.model), accept)
        except Exception as e:
            # The script inlines its own copy of the codec, hence its own CodecError class.
            if isinstance(getattr(e, "status", None), int) and hasattr(e, "describe"):
                raise CodecError(e.status, e.message, kind=e.kind, row=e.row,
                                 column=e.column, name=e.name) from None
            raise
        body, media = out if isinstance(out, tuple) else (out, accept or CSV)
        return Response(200, body, media)


# ----------------------------------------------------------------------------- xgboost
def load_booster_like_container(path):
    """What AWS's XGBoost container does with a model file: ``pickle.load`` first, then
    ``Booster().load_model``; then one thread (its serve_utils.get_loaded_booster)."""
    import pickle
    import warnings

    import xgboost as xgb

    try:
        with open(path, "rb") as fh:
            booster = pickle.load(fh)
    except Exception:
        booster = xgb.Booster()
        with warnings.catch_warnings():  # "Unknown file format: using JSON as a guess"
            warnings.simplefilter("ignore")
            booster.load_model(str(path))
    booster.set_param("nthread", 1)
    return booster


def container_csv(preds) -> bytes:
    """The XGBoost container's text/csv answer: ``str(float)`` per value, one row per line."""
    rows = preds.tolist()
    lines = [",".join(str(float(v)) for v in r) if isinstance(r, list) else str(float(r))
             for r in rows]
    return ("\n".join(lines) + "\n").encode()


def container_json(preds) -> bytes:
    """The XGBoost container's application/json answer: ``{"predictions": [{"score": v}]}``."""
    return json.dumps({"predictions": [{"score": r} for r in preds.tolist()]}).encode()


class XGBoostBuiltinHandler(Handler):
    """A built-in-algorithm XGBoost package, answered as AWS's XGBoost container does.

    Differences, on purpose: a row with the wrong number of columns is a 400 naming it
    (the container scores short rows silently), libsvm/recordio bodies are a 415, and an
    infinite value (or one beyond float32, which XGBoost reads as infinite) is a 400 naming
    it, where XGBoost raises an error.
    """

    flavor = "xgboost-builtin"
    request_types = (CSV,)
    response_types = (CSV, JSON)

    def __init__(self, model_dir):
        files = [p for p in Path(model_dir).iterdir() if p.is_file() and not p.name.startswith(".")]
        if len(files) != 1:
            from ..errors import ArtifactError
            raise ArtifactError(f"An xgboost-builtin model folder holds exactly one model file; "
                                f"{str(model_dir)!r} has {len(files)}.")
        self.booster = load_booster_like_container(files[0])
        n = self.booster.num_features()
        self.schema = codecs.Schema([f"f{i}" for i in range(n)])
        self.signature = None
        self.default_accept = _default_accept(CSV, self.response_types)

    def predict(self, X):
        import numpy as np
        import xgboost as xgb

        X = np.asarray(X, dtype=np.float64)
        with np.errstate(over="ignore"):
            inf = np.isinf(X.astype(np.float32))
        if inf.any():  # XGBoost refuses the whole matrix ("Input data contains `inf`")
            i, j = (int(k) for k in np.argwhere(inf)[0])
            raise CodecError(400, f"data row {i + 1}, column {j + 1}: {X[i, j]!r} is infinite "
                                  f"as a float32, which XGBoost does not accept (send an empty "
                                  f"cell for a missing value).")
        dm = xgb.DMatrix(X, missing=np.nan)
        return self.booster.predict(dm, validate_features=False)

    def handle(self, body, content_type, accept):
        media = codecs.negotiate(accept, self.default_accept, self.response_types)
        rows = codecs.decode(body, content_type, self.schema, accepted=self.request_types)
        preds = self.predict(rows)
        return Response(200, container_csv(preds) if media == CSV else container_json(preds),
                        media)


# ----------------------------------------------------------------------------- dispatch
def detect_flavor(model_dir) -> str:
    """The flavor of an extracted ``model.tar.gz`` (or artifact folder), from its files."""
    d = Path(model_dir)
    if (d / "portable.json").is_file():
        return "artifact"
    if (d / "code" / "inference.py").is_file():
        return "sklearn"
    files = [p for p in d.iterdir() if p.is_file() and not p.name.startswith(".")] if d.is_dir() else []
    if len(files) == 1:
        return "xgboost-builtin"
    from ..errors import ArtifactError
    raise ArtifactError(f"{str(d)!r} is neither an artifact folder (portable.json), a "
                        f"scikit-learn package (code/inference.py) nor an XGBoost model folder "
                        f"(one model file).")


def open_model_dir(model_dir, flavor: str | None = None) -> Handler:
    """The handler for an extracted model folder (``/opt/ml/model`` in a container)."""
    flavor = flavor or detect_flavor(model_dir)
    if flavor == "sklearn":
        return ScriptHandler(model_dir)
    if flavor == "xgboost-builtin":
        return XGBoostBuiltinHandler(model_dir)
    return ArtifactHandler(model_dir, flavor=flavor)
