"""The scikit-learn frontend: fitted estimators, transformers and pipelines -> ``ir.Model``.

>>> import portable
>>> from sklearn.linear_model import LinearRegression
>>> m = portable.import_model(LinearRegression().fit([[0.0], [1.0]], [1.0, 3.0]))
>>> m.source.estimator, m.signature.feature_names
('LinearRegression', ('f0',))

Every supported estimator is reproduced with scikit-learn's own arithmetic (see the module
docstrings of :mod:`.tree`, :mod:`.boosting`, :mod:`.linear`, :mod:`.preprocessing`):
trees bit for bit, linear models and links to the last bit wherever numpy's kernels agree.
"""

from __future__ import annotations

from ...errors import UnsupportedFeatureError, UnsupportedModelError
from ...ir import LinearModel, Model, Signature, Source, ZeroAsMissing
from . import boosting, linear, pipeline, preprocessing, text, tree
from ._common import (
    LIBRARY,
    Head,
    class_name,
    describe,
    ensure_fitted,
    feature_names,
    n_features_in,
    sklearn_version,
)

_HEADS = {}
_HEADS.update({n: tree.import_tree_model for n in tree.ESTIMATORS})
_HEADS.update({n: boosting.import_boosting for n in boosting.ESTIMATORS})
_HEADS.update({n: linear.import_linear for n in linear.ESTIMATORS})

_TRANSFORM_KINDS = {
    **{n: ("scaler",) for n in preprocessing.SCALERS},
    "SimpleImputer": ("imputer",),
    "OneHotEncoder": ("one_hot",),
    "ColumnTransformer": ("column_transformer",),
    **{n: ("text",) for n in text.VECTORIZERS},
}


class SklearnFrontend:
    """Imports fitted scikit-learn objects (see ``estimators`` for the supported classes)."""

    name = "sklearn"
    estimators: dict[str, tuple[str, ...]] = {
        **{n: ("tree_ensemble",) for n in tree.ESTIMATORS + boosting.ESTIMATORS},
        **{n: ("linear",) for n in linear.ESTIMATORS},
        **_TRANSFORM_KINDS,
        "Pipeline": ("scaler", "imputer", "one_hot", "column_transformer",
                     "tree_ensemble", "linear"),
    }

    def accepts(self, obj) -> bool:
        return type(obj).__module__.startswith("sklearn")

    def import_model(self, obj) -> Model:
        """A fitted estimator or Pipeline as an (unchecked) ``ir.Model``.

        Raises
        ------
        UnsupportedModelError
            the class is not supported (the message lists what is).
        NotFittedError
            the estimator (or a pipeline step) was never fitted.
        UnsupportedFeatureError
            a supported class with a setting the IR cannot express.
        """
        name = class_name(obj)
        if name == "Pipeline":
            ensure_fitted(obj)
            return _import_pipeline(obj)
        if name in _TRANSFORM_KINDS:
            raise UnsupportedFeatureError(
                f"A {name} alone is a transformer, not a model: it has no prediction to "
                f"export. Put it in a Pipeline that ends with an estimator, e.g. "
                f"make_pipeline({name}(...), LogisticRegression()), fit it, and import that.")
        if name not in _HEADS:
            raise unsupported(obj)
        ensure_fitted(obj)
        head = _HEADS[name](obj)
        n = n_features_in(obj)
        return _model(head, feature_names(obj, n), ("float64",) * n, [], name)


FRONTEND = SklearnFrontend()


def unsupported(obj) -> UnsupportedModelError:
    supported = ", ".join(sorted(FRONTEND.estimators))
    return UnsupportedModelError(
        f"Cannot import {describe(obj)}: the scikit-learn frontend does not support it. "
        f"Supported scikit-learn classes: {supported}. For ONNX, other scikit-learn "
        f"estimators can go through an upstream engine (--engine skl2onnx).")


def _model(head: Head, names, types, transforms: list, estimator: str, detail: str = "") -> Model:
    sig = Signature(feature_names=tuple(names), feature_types=tuple(types), task=head.task,
                    output_names=tuple(head.output_names), prediction_kind=head.prediction_kind,
                    classes=head.classes)
    src = Source(library=LIBRARY, version=sklearn_version(), estimator=estimator,
                 detail="; ".join(d for d in (detail, head.detail) if d))
    return Model(signature=sig, steps=tuple(transforms) + (head.step,), source=src)


def _foreign(final) -> tuple[Head, Model]:
    """Import a non-scikit-learn final estimator (XGBoost) through its own frontend."""
    from .. import import_object

    sub = import_object(final)
    sig, src = sub.signature, sub.source
    head = Head(step=sub.estimator, task=sig.task, output_names=sig.output_names,
                prediction_kind=sig.prediction_kind, classes=sig.classes,
                detail=f"final estimator from {src.library} {src.version} ({src.estimator}"
                       + (f": {src.detail})" if src.detail else ")"))
    return head, sub


def _import_pipeline(pipe) -> Model:
    objs = pipeline.flatten(pipe)
    if not objs:
        raise UnsupportedFeatureError("The Pipeline has only 'passthrough' steps: nothing to import.")
    final = objs[-1]
    if not hasattr(final, "predict"):
        raise UnsupportedFeatureError(
            f"The Pipeline ends with {class_name(final)}, a transformer: a portable model "
            f"needs a final estimator. Append one (e.g. LogisticRegression) and refit.")
    transforms, sparse = pipeline.transform_chain(objs[:-1])
    if type(final).__module__.startswith("sklearn"):
        if class_name(final) not in _HEADS:
            raise unsupported(final)
        ensure_fitted(final)
        head, sub = _HEADS[class_name(final)](final), None
    else:
        head, sub = _foreign(final)
        if sparse:
            # XGBoost reads the implicit zeros of a sparse matrix as *missing* values (the
            # CSR holds no explicit zeros: scikit-learn's encoders and hstack drop them).
            transforms = transforms + [ZeroAsMissing(pipeline.width_after(transforms, 0))]
    if transforms and class_name(objs[0]) in text.VECTORIZERS:
        names, types = ("text",), ("string",)  # a vectorizer reads one column of documents
    elif transforms:
        n = n_features_in(objs[0])
        names, types = feature_names(objs[0], n), pipeline.input_types(transforms, n)
    elif sub is not None:  # Pipeline([("model", XGBClassifier())]): the model's own inputs
        names, types = sub.signature.feature_names, sub.signature.feature_types
    else:
        n = n_features_in(final)
        names, types = feature_names(final, n), ("float64",) * n
    if sub is not None:
        transforms = transforms + list(sub.transforms)
    pipeline.check_width(pipe, final, int(head.step.n_features),
                         pipeline.width_after(transforms, len(names)))
    labels = ", ".join(pipeline.step_label(o) for o in objs)
    note = ""
    if isinstance(head.step, LinearModel) and sparse:
        note = ("scikit-learn feeds a sparse matrix to the linear model and sums its non-zeros "
                "in column order; the dense product agrees to a few ULP, not bit for bit")
    return _model(head, names, types, transforms, f"Pipeline({labels})", note)


__all__ = ["FRONTEND", "SklearnFrontend"]
