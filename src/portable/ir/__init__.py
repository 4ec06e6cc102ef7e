"""The intermediate representation (IR): what every frontend emits and every converter reads.

A :class:`Model` is a :class:`Signature` plus a pipeline of steps: zero or more transforms
(:class:`Scaler`, :class:`Imputer`, :class:`OneHotEncoder`, :class:`ColumnTransformer`)
and one estimator (:class:`TreeEnsemble` or :class:`LinearModel`). All are frozen
dataclasses whose fields state their numeric semantics; :func:`check_model` validates them
and :func:`evaluate` is the reference evaluator.
"""

from .check import check_model
from .evaluate import evaluate, labels
from .linear import LinearModel
from .model import Model, Signature, Source, fingerprint
from .transforms import (ColumnPart, ColumnTransformer, Imputer, OneHotEncoder, Scaler,
                         TextVectorizer, ZeroAsMissing)
from .tree import POST_TRANSFORMS, Tree, TreeEnsemble

__all__ = [
    "POST_TRANSFORMS",
    "ColumnPart",
    "ColumnTransformer",
    "Imputer",
    "LinearModel",
    "Model",
    "OneHotEncoder",
    "Scaler",
    "Signature",
    "Source",
    "TextVectorizer",
    "Tree",
    "TreeEnsemble",
    "ZeroAsMissing",
    "check_model",
    "evaluate",
    "fingerprint",
    "labels",
]
