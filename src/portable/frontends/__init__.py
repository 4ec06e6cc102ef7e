"""Frontends: turn a trained object (or a model file) into an ``ir.Model``.

Each frontend module exposes ``FRONTEND``, an object with:

* ``name``: str
* ``estimators``: dict estimator-class-name -> tuple of IR step kinds it produces
  (used for ``portable formats``; one line per supported estimator),
* ``accepts(obj) -> bool``: whether it knows this object (cheap, never imports optional
  packages the object could not come from),
* ``import_model(obj) -> ir.Model``.
"""

from __future__ import annotations

from ..registry import Registry

FRONTENDS = Registry("frontend", group="portable.frontends", builtins={
    "sklearn": "portable.frontends.sklearn:FRONTEND",
    "xgboost": "portable.frontends.xgboost:FRONTEND",
})


def find_frontend(obj):
    """The frontend that accepts ``obj``, or None."""
    for name in FRONTENDS.names():
        fe = FRONTENDS.get(name)
        if fe.accepts(obj):
            return fe
    return None


def supported_estimators() -> dict[str, tuple[str, ...]]:
    """Every estimator any frontend supports -> IR step kinds it produces."""
    out: dict[str, tuple[str, ...]] = {}
    for name in FRONTENDS.names():
        out.update(FRONTENDS.get(name).estimators)
    return dict(sorted(out.items()))


def import_object(obj):
    """Import a trained object through the frontend that accepts it (no check_model)."""
    from ..errors import UnsupportedModelError

    fe = find_frontend(obj)
    if fe is None:
        what = f"{type(obj).__module__}.{type(obj).__qualname__}"
        raise UnsupportedModelError(
            f"Cannot import {type(obj).__name__!r} ({what}): no frontend for it. "
            f"Supported: {', '.join(supported_estimators())}. "
            f"For ONNX, other scikit-learn estimators can go through an upstream engine "
            f"(--engine skl2onnx).")
    return fe.import_model(obj)
