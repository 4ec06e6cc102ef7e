"""Upstream ONNX engines (skl2onnx, onnxmltools) as peers of our own converter.

They widen coverage to estimators the IR does not hold (SVC, KNeighbors, MLP, TF-IDF text
pipelines) and give the parity harness something to compare against. They convert the
trained object, not the IR, and compute preprocessing in float32, so rows sitting on a
split threshold can change path (see ``tests/test_onnx_upstream.py`` for the counts).

Known fixes applied here (each verified on this stack, see docs/dependencies):

* XGBoost fitted on a DataFrame: onnxmltools wants feature names ``f0, f1, ...``; the
  names are cleared on a deep copy (the caller's model is untouched).
* XGBoost inside a scikit-learn pipeline: onnxmltools' converter is registered with
  skl2onnx and ``target_opset={"": 18, "ai.onnx.ml": 3}`` is used (ai.onnx.ml 5 fails).
* Text vectorizers get ``{"locale": "C.UTF-8"}``: onnxruntime's StringNormalizer otherwise
  needs an ``en_US.UTF-8`` locale that minimal hosts lack.
* Classifiers get ``zipmap=False``: probabilities come back as one ``[N, K]`` tensor.
"""

from __future__ import annotations

import copy
import hashlib
import os
from dataclasses import dataclass

import numpy as np

from ..artifact import Bundle, environment, write_artifact
from ..errors import ConversionError, RuntimeUnavailableError
from ..ir import Signature
from ._onnx_upstream import (
    TEXT,
    describe,
    is_xgboost,
    jsonable,
    library,
    sample_rows,
    text_sample,
    source_output,
    initial_types,
    dist_version,
    walk,
)

ENGINES = ("skl2onnx", "onnxmltools")
TARGET_OPSET = {"": 18, "ai.onnx.ml": 3}
_INSTALL = 'The {engine} engine needs {pkg}: pip install "portable[onnx]".'


def convert_upstream(obj, *, engine: str, n_features: int | None = None,
                     sample=None) -> dict[str, bytes]:
    """Convert a trained scikit-learn / XGBoost object with an upstream engine.

    Parameters
    ----------
    obj : fitted estimator or Pipeline
    engine : "skl2onnx" or "onnxmltools"
    n_features : int, optional
        Number of input columns when the object does not record it.
    sample : array-like or DataFrame, optional
        A few input rows: a DataFrame gives one graph input per column (needed for
        ColumnTransformers selecting by name and for string columns).

    Returns
    -------
    dict: ``{"model.onnx": bytes}`` with ``portable.io`` / ``portable.signature`` metadata,
    so that ``OnnxRuntime`` sessions serve it with the usual 2-D contract.

    Raises
    ------
    RuntimeUnavailableError
        the engine's package is not installed.
    ConversionError
        the engine failed; the message carries the engine's own.

    Examples
    --------
    >>> from sklearn.svm import SVC
    >>> files = convert_upstream(SVC().fit([[0.0], [1.0]], [0, 1]), engine="skl2onnx")  # doctest: +SKIP
    """
    proto, _ = _convert(obj, engine, n_features, text_sample(obj, sample))
    return {"model.onnx": proto.SerializeToString(deterministic=True)}


def upstream_bundle(obj, *, engine: str | None = None, n_features: int | None = None,
                    sample=None, **unknown) -> "UpstreamBundle":
    """``convert_upstream`` plus the manifest, as a bundle whose ``save`` checks the graph
    against the trained object's own predictions (not against ``ir.evaluate``).

    ``engine=None`` picks onnxmltools for XGBoost objects and skl2onnx otherwise; this is
    what ``portable.api.convert`` does for an object no frontend supports.
    """
    if unknown:
        raise ConversionError(f"Unknown option(s) for the upstream ONNX engines: "
                              f"{', '.join(sorted(unknown))}; known: engine, n_features, sample.")
    obj = _trained_object(obj)
    engine = engine or ("onnxmltools" if is_xgboost(obj) else "skl2onnx")
    sample = text_sample(obj, sample)
    proto, sig = _convert(obj, engine, n_features, sample)
    data = proto.SerializeToString(deterministic=True)
    rows = sample_rows(obj, sig, sample)
    manifest = upstream_manifest(obj, sig, data, rows, engine=engine, format="onnx",
                                 route="graph", runtime="onnxruntime")
    return UpstreamBundle(files={"model.onnx": data}, manifest=manifest, source=obj, rows=rows)


def upstream_manifest(obj, sig: Signature, data: bytes, rows, *, engine: str, format: str,
                      route: str, runtime: str, **extra) -> dict:
    """The manifest of an artifact an upstream engine wrote from ``obj``: its golden rows are
    the first sample rows with the object's own outputs (the reference of its parity)."""
    golden = rows[:8]
    ref = source_output(obj, sig, golden)
    return {
        "format": format, "route": route, "runtime": runtime, "engine": engine,
        "options": {"engine": engine},
        "signature": sig.to_dict(),
        "source": {"library": library(obj), "version": dist_version(library(obj)),
                   "estimator": type(obj).__name__, "detail": f"converted by {engine}"},
        "fingerprint": hashlib.sha256(data).hexdigest(),
        "environment": {**environment(), engine: dist_version(engine)},
        **extra,
        "golden": {"inputs": jsonable(golden), "prediction": ref.tolist(),
                   "dtype": "float64", "reference": "source object"},
    }


def _trained_object(obj):
    """The object an engine converts: model files are loaded (XGBoost files as a Booster,
    since portable's own loader turns them into IR)."""
    from ..ir import Model

    if isinstance(obj, (str, os.PathLike)):
        from ..loading import XGBOOST_EXTENSIONS, load_model_file
        if str(obj).lower().endswith(XGBOOST_EXTENSIONS):
            try:
                import xgboost
            except ImportError:
                raise RuntimeUnavailableError(
                    'Reading XGBoost files needs xgboost: pip install "portable[xgboost]".') from None
            return xgboost.Booster(model_file=str(obj))
        obj = load_model_file(obj)
    if isinstance(obj, Model):
        raise ConversionError("The upstream engines convert the trained object (estimator, "
                              "Booster or model file), not a portable IR model.")
    return obj


@dataclass
class UpstreamBundle(Bundle):
    """A bundle converted by an upstream engine; parity is measured against the object."""

    source: object = None
    rows: object = None

    def save(self, out_dir, *, runtime: str | None = None, check: bool = True,
             overwrite: bool = True):
        def admit(tmp):
            if not check:
                return {"parity": {"checked": False, "reason": "check disabled"}}
            return {"parity": self.check(tmp)}

        return write_artifact(out_dir, self.files, self.manifest, overwrite=overwrite,
                              admit=admit)

    def check(self, folder) -> dict:
        """Run the graph with onnxruntime on the sample rows against the object itself."""
        from ..parity import compare
        from ..runtimes.onnxruntime import OnnxRuntime, OnnxSession

        why = OnnxRuntime.available()
        if why:
            return {"checked": False, "runtime": "onnxruntime", "reason": why}
        sig = Signature.from_dict(self.manifest["signature"])
        with open(os.path.join(folder, "model.onnx"), "rb") as fh:
            session = OnnxSession(fh.read(), signature=sig)
        got = session.predict(self.rows)
        ref = source_output(self.source, sig, self.rows)
        cls = sig.task == "classification"
        return {"checked": True, "runtime": "onnxruntime", "rows": len(self.rows),
                "reference": "source object",
                "prediction": compare(ref, got, dtype=np.float32, classification=cls)}


# ----------------------------------------------------------------------------- conversion
def _convert(obj, engine: str, n_features, sample):
    if engine not in ENGINES:
        raise ConversionError(f"Unknown ONNX engine {engine!r}; choose one of "
                              f"portable, {', '.join(ENGINES)}.")
    _require(engine)
    sig, inputs = describe(obj, n_features, sample)
    obj = _without_feature_names(obj)
    options = _options(obj)
    try:
        if engine == "onnxmltools" and is_xgboost(obj):
            from onnxmltools import convert_xgboost
            from onnxmltools.convert.common import data_types
            # Its default opset (it caps ai.onnx at 15) is the one it supports.
            proto = convert_xgboost(obj, initial_types=initial_types(inputs, data_types))
        else:
            from skl2onnx import convert_sklearn
            from skl2onnx.common import data_types
            _register_xgboost()
            proto = convert_sklearn(obj, initial_types=initial_types(inputs, data_types),
                                    options=options, target_opset=TARGET_OPSET)
    except Exception as e:  # the engines raise anything: keep their message
        raise ConversionError(f"{engine} could not convert {type(obj).__name__}: "
                              f"{type(e).__name__}: {e}") from e
    outs = [o.name for o in proto.graph.output]
    roles = {"prediction": outs[-1] if sig.task == "classification" else outs[0]}
    if sig.task == "classification" and len(outs) > 1:
        roles["label"] = outs[0]
    io = {"engine": engine, "inputs": inputs, "outputs": roles}
    from .onnx import set_metadata
    if sig.prediction_kind == "decision" and len(sig.classes) == 2:
        io["columns"] = {"prediction": [_decision_column(proto, io, sig, obj, sample)]}
    set_metadata(proto, {"portable.io": io, "portable.signature": sig.to_dict()})
    return proto, sig


def _decision_column(proto, io, sig, obj, sample) -> int:
    """Binary decision scores come back as two columns, ``[-d, d]`` or ``[d, -d]``
    depending on the estimator's converter: pick the one that agrees with the object."""
    from ..runtimes.onnxruntime import OnnxSession

    rows = sample_rows(obj, sig, sample)
    ref = source_output(obj, sig, rows)[:, 0]
    got = OnnxSession(proto.SerializeToString(), signature=sig, io=io).predict(rows)
    return int(np.argmin([np.abs(got[:, k] - ref).max() for k in range(got.shape[1])]))


def _options(obj) -> dict:
    opts = {}
    for est in walk(obj):
        name = type(est).__name__
        if name in TEXT and name != "HashingVectorizer":
            opts[type(est)] = {"locale": "C.UTF-8"}
    final = obj.steps[-1][1] if hasattr(obj, "steps") else obj
    if hasattr(final, "classes_"):
        opts.setdefault(type(final), {})["zipmap"] = False
    return opts


def _without_feature_names(obj):
    """A deep copy whose XGBoost boosters have no feature names (onnxmltools needs f%d)."""
    if not any(is_xgboost(e) for e in walk(obj)):
        return obj
    obj = copy.deepcopy(obj)
    for est in walk(obj):
        if is_xgboost(est):
            booster = est if type(est).__name__ == "Booster" else est.get_booster()
            booster.feature_names = None
    return obj


_REGISTERED = []


def _register_xgboost() -> None:
    """Let skl2onnx convert XGBoost steps with onnxmltools' converter (once per process)."""
    if _REGISTERED:
        return
    try:
        from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
        from skl2onnx import update_registered_converter
        from skl2onnx.common.shape_calculator import (
            calculate_linear_classifier_output_shapes,
            calculate_linear_regressor_output_shapes,
        )
        from xgboost import XGBClassifier, XGBRegressor
    except ImportError:
        return  # no XGBoost or no onnxmltools: nothing to register
    update_registered_converter(
        XGBClassifier, "XGBoostXGBClassifier", calculate_linear_classifier_output_shapes,
        convert_xgboost, options={"nocl": [True, False], "zipmap": [True, False, "columns"]})
    update_registered_converter(XGBRegressor, "XGBoostXGBRegressor",
                                calculate_linear_regressor_output_shapes, convert_xgboost)
    _REGISTERED.append(True)


# ----------------------------------------------------------------------------- helpers
def _require(engine: str) -> None:
    pkgs = {"skl2onnx": ["skl2onnx", "onnx"], "onnxmltools": ["onnxmltools", "skl2onnx", "onnx"]}
    for pkg in pkgs[engine]:
        try:
            __import__(pkg)
        except ImportError:
            raise RuntimeUnavailableError(_INSTALL.format(engine=engine, pkg=pkg)) from None

