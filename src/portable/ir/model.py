"""The top of the IR: a model is a signature plus a pipeline of steps."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal, Union

import numpy as np

from .linear import LinearModel
from .transforms import (ColumnPart, ColumnTransformer, Imputer, OneHotEncoder, Scaler,
                         TextVectorizer, Transform, ZeroAsMissing)
from .tree import Tree, TreeEnsemble

Estimator = Union[TreeEnsemble, LinearModel]
Task = Literal["regression", "classification"]
FeatureType = Literal["float32", "float64", "string"]
PredictionKind = Literal["value", "probability", "decision"]


@dataclass(frozen=True)
class Signature:
    """What a model reads and what it returns.

    Attributes
    ----------
    feature_names : tuple of str
        Input column names, in order (``f0, f1, ...`` when the source had none).
    feature_types : tuple of str
        ``"float32"`` (the source casts to float32, e.g. XGBoost), ``"float64"`` or
        ``"string"`` per input column.
    task : "regression" or "classification"
    classes : tuple or None
        Class labels of a classifier, in output-column order.
    output_names : tuple of str
        Names of the prediction columns (``probability(<class>)``, ``decision(...)``,
        ``prediction`` ...).
    prediction_kind : "value", "probability" or "decision"
        What ``evaluate(..., output="prediction")`` returns.
    """

    feature_names: tuple[str, ...]
    feature_types: tuple[str, ...]
    task: Task
    output_names: tuple[str, ...]
    prediction_kind: PredictionKind
    classes: tuple | None = None

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def has_strings(self) -> bool:
        return "string" in self.feature_types

    def to_dict(self) -> dict:
        return {
            "feature_names": list(self.feature_names),
            "feature_types": list(self.feature_types),
            "task": self.task,
            "classes": None if self.classes is None else [_jsonable(c) for c in self.classes],
            "output_names": list(self.output_names),
            "prediction_kind": self.prediction_kind,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Signature":
        return cls(
            feature_names=tuple(d["feature_names"]),
            feature_types=tuple(d["feature_types"]),
            task=d["task"],
            output_names=tuple(d["output_names"]),
            prediction_kind=d["prediction_kind"],
            classes=None if d.get("classes") is None else tuple(d["classes"]),
        )


@dataclass(frozen=True)
class Source:
    """Where a model came from: library, its version, estimator class, objective."""

    library: str
    version: str
    estimator: str
    detail: str = ""

    def to_dict(self) -> dict:
        return {"library": self.library, "version": self.version,
                "estimator": self.estimator, "detail": self.detail}


@dataclass(frozen=True, eq=False)
class Model:
    """A trained model: ``steps[:-1]`` are transforms, ``steps[-1]`` the estimator.

    Build one with :func:`portable.import_model`; validate with :func:`check_model`.
    """

    signature: Signature
    steps: tuple
    source: Source
    kind: str = field(default="model", init=False)

    @property
    def estimator(self) -> Estimator:
        return self.steps[-1]

    @property
    def transforms(self) -> tuple[Transform, ...]:
        return tuple(self.steps[:-1])

    @property
    def n_features(self) -> int:
        return self.signature.n_features

    def fingerprint(self) -> str:
        """SHA-256 over every number and string of the model (stable across runs)."""
        return fingerprint(self)

    def step_kinds(self) -> set[str]:
        """Every IR step kind the model uses, including those inside ColumnTransformer parts."""
        kinds, stack = set(), list(self.steps)
        while stack:
            s = stack.pop()
            kinds.add(s.kind)
            if isinstance(s, ColumnTransformer):
                stack.extend(sub for part in s.parts for sub in part.steps)
        return kinds


def _jsonable(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    if isinstance(v, np.str_):
        return str(v)
    return v


def _feed(h, obj) -> None:
    """Feed a canonical byte form of an IR object into hash ``h`` (no recursion on trees)."""
    stack = [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, np.ndarray):
            h.update(f"a{o.dtype.str}{o.shape}".encode())
            h.update(np.ascontiguousarray(o).tobytes())
        elif isinstance(o, (Tree, TreeEnsemble, LinearModel, Scaler, Imputer, OneHotEncoder,
                            ColumnPart, ColumnTransformer, TextVectorizer, ZeroAsMissing,
                            Model, Signature, Source)):
            h.update(type(o).__name__.encode())
            items = [(k, getattr(o, k)) for k in sorted(o.__dataclass_fields__)]
            stack.extend(reversed([v for _, v in items]))
            h.update(",".join(k for k, _ in items).encode())
        elif isinstance(o, (tuple, list)):
            h.update(f"t{len(o)}".encode())
            stack.extend(reversed(list(o)))
        else:
            h.update(repr(_jsonable(o)).encode())


def fingerprint(model: Model) -> str:
    h = hashlib.sha256()
    _feed(h, model)
    return h.hexdigest()
