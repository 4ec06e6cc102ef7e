"""Human- and machine-readable summaries: one model (``inspect``) and the support matrix."""

from __future__ import annotations

from . import ir


def describe(model: ir.Model) -> dict:
    """A JSON-ready summary of an IR model (what ``portable inspect`` prints)."""
    sig = model.signature
    est = model.estimator
    out = {
        "estimator": model.source.estimator,
        "library": f"{model.source.library} {model.source.version}".strip(),
        "detail": model.source.detail,
        "task": sig.task,
        "prediction": sig.prediction_kind,
        "n_features": sig.n_features,
        "features": [f"{n}:{t}" for n, t in zip(sig.feature_names, sig.feature_types)],
        "classes": None if sig.classes is None else [str(c) for c in sig.classes],
        "outputs": list(sig.output_names),
        "steps": [s.kind for s in model.steps],
        "fingerprint": model.fingerprint(),
    }
    if isinstance(est, ir.TreeEnsemble):
        depths = [t.max_depth() for t in est.trees]
        out.update({
            "trees": est.n_trees,
            "max_depth": max(depths),
            "leaves": est.n_leaves(),
            "nodes": sum(t.n_nodes for t in est.trees),
            "aggregation": est.aggregation,
            "split": f"x {est.split_op} threshold ({est.input_dtype} input, "
                     f"{est.threshold_dtype} thresholds)",
            "accumulate": est.accumulate_dtype,
            "base_score": [float(v) for v in est.base_score],
            "link": est.post_transform,
        })
    elif isinstance(est, ir.LinearModel):
        out.update({"coefficients": int(est.coef.size), "link": est.post_transform})
    return out


def support_matrix() -> tuple[list[str], list[str], dict]:
    """(estimators, formats, {(estimator, format): "yes" | "no" | reason})."""
    from .converters import CONVERTERS
    from .frontends import supported_estimators

    estimators = supported_estimators()
    formats = CONVERTERS.names()
    supports = {}
    for f in formats:
        try:
            supports[f] = frozenset(CONVERTERS.get(f).supports)
        except Exception as e:  # a converter whose module cannot load is shown as such
            supports[f] = f"unavailable ({type(e).__name__})"
    cells = {}
    for e, kinds in estimators.items():
        for f in formats:
            s = supports[f]
            cells[(e, f)] = s if isinstance(s, str) else ("yes" if set(kinds) <= s else "no")
    return list(estimators), formats, cells
