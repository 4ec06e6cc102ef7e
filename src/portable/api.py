"""The public verbs: orchestration only, each a few lines over the layers below."""

from __future__ import annotations

import os

from . import ir
from .errors import UnsupportedModelError


def import_model(model) -> ir.Model:
    """Import a trained model (object or file path) into the IR, and check it.

    Parameters
    ----------
    model : estimator, xgboost.Booster, path, or ir.Model
        A fitted scikit-learn / XGBoost object, or the path of a model file (``.json``,
        ``.ubj``, ``.joblib``, ``.pkl``, ``.skops``). Loading a pickle runs code: name only
        files you trust.

    Returns
    -------
    portable.ir.Model

    Examples
    --------
    >>> import portable
    >>> from sklearn.linear_model import LinearRegression
    >>> m = portable.import_model(LinearRegression().fit([[0.0], [1.0]], [1.0, 3.0]))
    >>> m.signature.task
    'regression'
    """
    from .frontends import import_object
    from .loading import load_model_file

    if isinstance(model, (str, os.PathLike)):
        model = load_model_file(model)
    if isinstance(model, ir.Model):
        return ir.check_model(model)
    if model is None:
        raise UnsupportedModelError("Cannot import None: pass a fitted estimator or a model file path.")
    return ir.check_model(import_object(model))


def convert(model, *, format: str, **options):
    """Convert a model (IR, trained object or path) into one target format, in memory.

    ``convert(m, format=f)`` is ``CONVERTERS.get(f)().convert(import_model(m))`` plus the
    manifest; save it with ``.save(out_dir)``.

    Returns
    -------
    portable.artifact.Bundle
    """
    from .artifact import Bundle, environment
    from .converters import CONVERTERS
    from .probes import golden_rows

    from .loading import XGBOOST_EXTENSIONS, load_model_file

    if isinstance(model, (str, os.PathLike)) and not str(model).lower().endswith(XGBOOST_EXTENSIONS):
        model = load_model_file(model)  # keep the object: an upstream engine may need it
    if format == "onnx" and options.get("engine") not in (None, "portable"):
        from .converters.upstream import upstream_bundle
        return upstream_bundle(model, **options)  # skl2onnx / onnxmltools, on the object
    if format == "pmml" and options.get("engine") not in (None, "portable"):
        from .converters._pmml_upstream import pmml_upstream_bundle
        return pmml_upstream_bundle(model, **options)  # sklearn2pmml (Java), on the object
    try:
        ir_model = import_model(model)
    except UnsupportedModelError:
        if format != "onnx":
            raise
        from .converters.upstream import upstream_bundle
        return upstream_bundle(model, **options)  # no frontend: an upstream engine widens ONNX
    options.pop("engine", None)  # "portable" (or None): our own converter from the IR
    conv = CONVERTERS.get(format)()
    missing = ir_model.step_kinds() - set(conv.supports)
    if missing and format == "onnx" and not isinstance(model, (ir.Model, str, os.PathLike)):
        # Our graph has no tokenizer that agrees with Python's re; skl2onnx's does, for the
        # default patterns, and is checked against the object at export like any artifact.
        from .converters.upstream import upstream_bundle
        from .probes import sample_rows
        if options.get("sample") is None:
            options["sample"] = sample_rows(ir_model, 64, seed=0)
        return upstream_bundle(model, **options)
    if missing:
        from .errors import UnsupportedFeatureError
        raise UnsupportedFeatureError(
            f"The {conv.name} format cannot express {', '.join(sorted(missing))} "
            f"(in {ir_model.source.estimator}). Formats that can: "
            f"{', '.join(formats_for(ir_model)) or 'none yet'}.")
    files = conv.convert(ir_model, **options)
    X = golden_rows(ir_model)
    manifest = {
        "format": conv.name,
        "route": conv.route,
        "runtime": conv.default_runtime,
        "options": {k: v for k, v in sorted(options.items()) if isinstance(v, (str, int, float, bool))},
        "signature": ir_model.signature.to_dict(),
        "source": ir_model.source.to_dict(),
        "fingerprint": ir_model.fingerprint(),
        "environment": environment(),
        "golden": golden_payload(ir_model, X),
    }
    return Bundle(files=files, manifest=manifest, model=ir_model)


def formats_for(ir_model: ir.Model) -> list[str]:
    """The registered formats whose converter can express every step of ``ir_model``."""
    from .converters import CONVERTERS

    out = []
    for name in CONVERTERS.names():
        try:
            if ir_model.step_kinds() <= set(CONVERTERS.get(name).supports):
                out.append(name)
        except Exception:  # a converter whose module cannot load offers nothing
            continue
    return out


def golden_payload(ir_model: ir.Model, X) -> dict:
    """Golden rows and the reference evaluator's outputs for them (JSON-ready)."""
    import numpy as np

    pred = ir.evaluate(ir_model, X)
    margin = ir.evaluate(ir_model, X, output="margin")

    def enc(a):
        return [[None if (isinstance(v, float) and v != v) else v for v in row]
                for row in np.asarray(a, dtype=object).tolist()]

    return {"inputs": enc(X), "prediction": np.asarray(pred, dtype=np.float64).tolist(),
            "margin": np.asarray(margin, dtype=np.float64).tolist(),
            "dtype": str(np.asarray(pred).dtype)}


def export(model, *, format: str, out_dir, runtime: str | None = None, check: bool = True,
           **options):
    """Export a model to an artifact folder, checked against the reference evaluator.

    ``export(m, format=f, out_dir=d)`` is ``convert(m, format=f).save(d)``, after running the
    artifact with its default runtime (when available) on golden and threshold-probe rows
    and recording the parity summary in ``portable.json``.

    Returns
    -------
    portable.artifact.Artifact
    """
    bundle = convert(model, format=format, **options)
    return bundle.save(out_dir, runtime=runtime, check=check)


def load(artifact_dir, *, runtime: str | None = None):
    """Load an artifact folder with its default runtime (or ``runtime``); returns a session.

    Examples
    --------
    >>> session = portable.load("out/onnx")          # doctest: +SKIP
    >>> session.predict(X)                           # doctest: +SKIP
    """
    from .artifact import read_artifact
    from .errors import RuntimeUnavailableError
    from .runtimes import RUNTIMES

    art = read_artifact(artifact_dir)
    name = runtime or art.default_runtime
    rt = RUNTIMES.get(name)
    if art.format not in rt.formats:
        from .errors import UnknownNameError
        raise UnknownNameError(f"The {name!r} runtime runs {', '.join(rt.formats)}, "
                               f"not {art.format!r} artifacts.")
    why = rt.available()
    if why:
        raise RuntimeUnavailableError(why)
    return rt().load(art)
