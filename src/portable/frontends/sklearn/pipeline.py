"""Pipeline and ColumnTransformer: transforms in order, then one estimator.

A ``Pipeline`` becomes the IR's step list: every step but the last is a transform, the last
is the estimator. ``None`` / ``"passthrough"`` steps vanish and nested pipelines are
flattened. The final estimator may come from another library with a portable frontend
(an XGBoost estimator): it is imported through :func:`portable.frontends.import_object` and
its estimator step is placed after the scikit-learn transforms; the model's inputs are then
the pipeline's inputs.

A ``ColumnTransformer`` becomes an IR :class:`~portable.ir.ColumnTransformer`: one part per
fitted transformer that is not ``"drop"`` and selects at least one column, in
``transformers_`` order (the order ``transform`` concatenates them, remainder last).
Column names are resolved to input positions with the fitted ``_transformer_to_input_indices``,
so names and indices work alike.

Sparse matrices matter to the arithmetic, so the conversion tracks where scikit-learn
passes one (a sparse OneHotEncoder or ColumnTransformer output, kept by the scalers that
accept it): a scaler fed CSR multiplies by ``1 / scale_`` and is emitted that way; a linear
model fed CSR sums the non-zeros in column order (recorded in ``Source.detail``: a few ULP
from the dense product); XGBoost fed CSR reads implicit zeros as missing, which the IR
cannot express, so that pipeline is refused.
"""

from __future__ import annotations

from ...errors import UnsupportedFeatureError, UnsupportedModelError
from ...ir import ColumnPart, ColumnTransformer, OneHotEncoder, TextVectorizer
from ._common import class_name, describe, ensure_fitted, unsupported_setting
from .text import VECTORIZERS, import_vectorizer
from .preprocessing import ESTIMATORS as TRANSFORMERS
from .preprocessing import import_transformer, is_string_encoder, keeps_sparse


def is_identity(obj) -> bool:
    """``None``, ``"passthrough"``, or the FunctionTransformer that ColumnTransformer fits for it."""
    if obj is None or (isinstance(obj, str) and obj == "passthrough"):
        return True
    return (class_name(obj) == "FunctionTransformer" and getattr(obj, "func", 0) is None
            and getattr(obj, "inverse_func", 0) is None)


def flatten(pipe) -> list:
    """The steps of a Pipeline, nested Pipelines expanded, identity steps removed."""
    out = []
    for _, step in pipe.steps:
        if is_identity(step):
            continue
        if class_name(step) == "Pipeline":
            out.extend(flatten(step))
        else:
            out.append(step)
    return out


def transform_steps(obj, sparse: bool = False) -> tuple[list, bool]:
    """A fitted transformer (scaler, imputer, encoder, ColumnTransformer, Pipeline of those)
    as a list of IR transforms (empty for passthrough).

    ``sparse`` says whether scikit-learn feeds ``obj`` a sparse matrix; returned with the
    steps is whether ``obj``'s output is sparse (it changes how scalers compute, and how
    the next estimator reads zeros).
    """
    if is_identity(obj):
        return [], sparse
    name = class_name(obj)
    if name == "Pipeline":
        return transform_chain(flatten(obj), sparse)
    if name == "ColumnTransformer":
        ensure_fitted(obj)
        return [column_transformer(obj, sparse)], bool(getattr(obj, "sparse_output_", False))
    if name in VECTORIZERS:
        return [import_vectorizer(obj)], True  # CSR output
    if name in TRANSFORMERS:
        ensure_fitted(obj)
        if name == "OneHotEncoder":
            out = bool(getattr(obj, "sparse_output", False))
        else:
            out = sparse and keeps_sparse(obj)
        return [import_transformer(obj, sparse)], out
    raise UnsupportedModelError(
        f"Cannot import the transformer {describe(obj)}: the scikit-learn frontend does not "
        f"support it. Supported transformers: "
        f"{', '.join(TRANSFORMERS + VECTORIZERS + ('ColumnTransformer',))}"
        f" (and 'passthrough' / 'drop').")


def transform_chain(objs: list, sparse: bool = False) -> tuple[list, bool]:
    """IR transforms of fitted transformers applied one after another; and whether the last
    output is a sparse matrix."""
    steps = []
    for obj in objs:
        more, sparse = transform_steps(obj, sparse)
        steps.extend(more)
    return steps, sparse


def column_transformer(ct, sparse: bool = False) -> ColumnTransformer:
    """A fitted ColumnTransformer as an IR ColumnTransformer (``sparse``: its input is)."""
    if getattr(ct, "transformer_weights", None):
        raise unsupported_setting(
            ct, "transformer_weights",
            "weighted blocks are not part of the IR. Refit without transformer_weights "
            "(scale the columns with a scaler instead).")
    indices = getattr(ct, "_transformer_to_input_indices", None)
    if indices is None:
        raise unsupported_setting(ct, "no fitted column indices",
                                  "refit it with scikit-learn >= 1.2.")
    parts = []
    for name, trans, _ in ct.transformers_:
        if isinstance(trans, str) and trans == "drop":
            continue
        cols = tuple(int(i) for i in indices.get(name, ()))
        if not cols:
            continue  # scikit-learn skips empty selections when it transforms
        steps, _ = transform_steps(trans, sparse)
        parts.append(ColumnPart(columns=cols, steps=tuple(steps), name=name))
    return ColumnTransformer(n_inputs=int(ct.n_features_in_), parts=tuple(parts))


def string_columns(step) -> set[int]:
    """Input columns of an IR transform that are read as strings (by a string OneHotEncoder)."""
    if isinstance(step, OneHotEncoder):
        return {j for j, s in enumerate(is_string_encoder(step)) if s}
    if isinstance(step, TextVectorizer):
        return {0}
    if isinstance(step, ColumnTransformer):
        out = set()
        for part in step.parts:
            if part.steps:
                out |= {part.columns[j] for j in string_columns(part.steps[0])}
        return out
    return set()


def input_types(steps: list, n_features: int) -> tuple[str, ...]:
    """Feature types of the model's inputs: "string" where the first transform reads strings."""
    strings = string_columns(steps[0]) if steps else set()
    return tuple("string" if j in strings else "float64" for j in range(n_features))


def step_label(obj) -> str:
    """Short text for Source.estimator: ``ColumnTransformer(num=StandardScaler, ...)``."""
    name = class_name(obj)
    if name == "ColumnTransformer":
        inner = []
        for part_name, trans, _ in obj.transformers_:
            if isinstance(trans, str):
                label = trans
            elif is_identity(trans):
                label = "passthrough"
            elif class_name(trans) == "Pipeline":
                label = "+".join(step_label(s) for s in flatten(trans)) or "passthrough"
            else:
                label = step_label(trans)
            inner.append(f"{part_name}={label}")
        return f"{name}({', '.join(inner)})"
    return name


def width_after(steps: list, n_features: int) -> int:
    return steps[-1].n_outputs if steps else n_features


def check_width(pipe, final, expected: int, got: int) -> None:
    if expected != got:
        raise UnsupportedFeatureError(
            f"The transforms of the {class_name(pipe)} produce {got} columns but its final "
            f"{class_name(final)} reads {expected}. A step changes the width in a way portable "
            f"does not reproduce; check the pipeline with pipe[:-1].transform(X).shape.")
