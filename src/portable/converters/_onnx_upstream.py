"""What an upstream engine needs to know about a trained object: its signature, graph
inputs, sample rows, and the object's own predictions (the upstream graph's reference)."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..ir import Signature

TEXT = ("TfidfVectorizer", "CountVectorizer", "HashingVectorizer")


def initial_types(inputs: list[dict], data_types) -> list:
    """``initial_types`` in the engine's own classes (onnxmltools rejects skl2onnx's)."""
    cls = {"float32": data_types.FloatTensorType, "int64": data_types.Int64TensorType,
           "string": data_types.StringTensorType}
    return [(i["name"], cls[i["dtype"]]([None, len(i["columns"])])) for i in inputs]


def describe(obj, n_features, sample):
    """Signature and ``portable.io`` inputs of ``obj`` (one input per column for frames)."""
    first = obj.steps[0][1] if hasattr(obj, "steps") else obj
    task, classes, kind, outputs = task_of(obj)
    if type(first).__name__ in TEXT:
        sig = Signature(("text",), ("string",), task, outputs, kind, classes)
        return sig, [{"name": "X", "dtype": "string", "columns": [0]}]
    if is_frame(sample):
        names, ftypes, inputs = [], [], []
        for j, col in enumerate(sample.columns):
            is_str = is_string(sample[col])
            is_int = not is_str and sample[col].dtype.kind in "iub"
            names.append(str(col))
            ftypes.append("string" if is_str else "float64")
            inputs.append({"name": str(col), "columns": [j],
                           "dtype": "string" if is_str else "int64" if is_int else "float32"})
        return Signature(tuple(names), tuple(ftypes), task, outputs, kind, classes), inputs
    n = n_features or getattr(obj, "n_features_in_", None) or (
        obj.num_features() if is_booster(obj) else None) or (
        None if sample is None else np.asarray(sample).shape[1])
    if n is None:
        raise InputError(f"Cannot tell how many features {type(obj).__name__} reads; pass "
                         f"n_features= or sample=.")
    names = getattr(obj, "feature_names_in_", None)
    names = tuple(str(c) for c in names) if names is not None else tuple(f"f{i}" for i in range(n))
    ftype = "float32" if is_xgboost(obj) else "float64"
    sig = Signature(names, (ftype,) * n, task, outputs, kind, classes)
    return sig, [{"name": "X", "dtype": "float32", "columns": list(range(n))}]


def task_of(obj):
    """(task, classes, prediction kind, output names) of a fitted object."""
    classes = getattr(obj, "classes_", None)
    if is_booster(obj):
        objective, k = booster_objective(obj)
        if objective in ("binary:logistic", "multi:softprob", "multi:softmax"):
            classes = np.arange(max(k, 2))
    if classes is None:
        n_out = getattr(obj, "n_outputs_", 1)
        names = ("prediction",) if n_out == 1 else tuple(f"prediction{k}" for k in range(n_out))
        return "regression", None, "value", names
    classes = tuple(c.item() if hasattr(c, "item") else c for c in classes)
    if hasattr(obj, "predict_proba") or is_booster(obj):
        return "classification", classes, "probability", tuple(f"probability({c})" for c in classes)
    names = ("decision",) if len(classes) == 2 else tuple(f"decision({c})" for c in classes)
    return "classification", classes, "decision", names


def walk(obj):
    """The object and every estimator nested in its pipeline / column transformer."""
    yield obj
    for _, step in getattr(obj, "steps", []) or []:
        yield from walk(step)
    for _, step, _cols in getattr(obj, "transformers_", []) or []:
        if not isinstance(step, str):
            yield from walk(step)


def is_xgboost(obj) -> bool:
    return any((getattr(c, "__module__", "") or "").startswith("xgboost")
               for c in type(obj).__mro__)


def is_booster(obj) -> bool:
    return is_xgboost(obj) and type(obj).__name__ == "Booster"


def booster_objective(booster) -> tuple[str, int]:
    """(objective name, number of classes) from the Booster's own config."""
    import json

    learner = json.loads(booster.save_config())["learner"]
    k = int(learner["learner_model_param"].get("num_class", "0") or 0)
    return learner["objective"]["name"], k


def _booster_output(booster, X, kind: str) -> np.ndarray:
    import xgboost

    # A DataFrame-fitted booster checks names: give the rows the booster's own names.
    d = xgboost.DMatrix(np.asarray(X, dtype=np.float32), feature_names=booster.feature_names)
    if kind != "probability":
        return booster.predict(d)
    objective, _ = booster_objective(booster)
    if objective == "binary:logistic":
        p = booster.predict(d).astype(np.float64)
        return np.c_[1 - p, p]
    m = booster.predict(d, output_margin=True).astype(np.float64)  # softmax: labels otherwise
    e = np.exp(m - m.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def is_frame(x) -> bool:
    return type(x).__name__ == "DataFrame" and hasattr(x, "columns")


def is_string(series) -> bool:
    import pandas as pd
    return pd.api.types.is_string_dtype(series.dtype) or series.dtype == object


def library(obj) -> str:
    return "xgboost" if is_xgboost(obj) else "scikit-learn"


def dist_version(dist: str) -> str:
    """Installed version of a distribution (xgboost may be installed as xgboost-cpu)."""
    from importlib.metadata import PackageNotFoundError, version
    for name in ((dist, "xgboost-cpu") if dist == "xgboost" else (dist,)):
        try:
            return version(name)
        except PackageNotFoundError:
            continue
    return "unknown"


def sample_rows(obj, sig: Signature, sample):
    """Rows for golden outputs and the admission check: the sample, else seeded normals."""
    if sample is not None:
        if is_frame(sample):
            return sample.iloc[:300]
        rows = np.asarray(sample, dtype=object if sig.has_strings else None)[:300]
        return rows.reshape(-1, 1) if rows.ndim == 1 and sig.n_features == 1 else rows
    if sig.has_strings:
        raise InputError(f"{type(obj).__name__} reads strings: pass sample= (a few rows) so "
                         f"that the export can be checked.")
    return np.random.default_rng(0).normal(size=(64, sig.n_features))


def source_output(obj, sig: Signature, rows) -> np.ndarray:
    """What the trained object itself predicts (the upstream graph's reference)."""
    X = rows
    if sig.has_strings and not is_frame(rows) and sig.n_features == 1:
        X = [str(v) for v in np.asarray(rows, dtype=object).reshape(-1)]
    elif not is_frame(rows) and sig.feature_types[0] == "float32":
        X = np.asarray(rows, dtype=np.float32)
    if is_booster(obj):
        y = _booster_output(obj, X, sig.prediction_kind)
    elif sig.prediction_kind == "probability":
        y = obj.predict_proba(X)
    elif sig.prediction_kind == "decision":
        y = obj.decision_function(X)
    else:
        y = obj.predict(X)
    y = np.asarray(y, dtype=np.float64)
    return y.reshape(len(y), -1)


def jsonable(rows) -> list:
    arr = rows.to_numpy(dtype=object) if is_frame(rows) else np.asarray(rows, dtype=object)
    return [[None if isinstance(v, float) and v != v else (v.item() if hasattr(v, "item") else v)
             for v in np.atleast_1d(r)] for r in arr]


def text_sample(obj, sample):
    """The sample of a text pipeline as a 2-D object array: a DataFrame (``--sample`` CSV)
    would be iterated by column name when the object's own predictions are computed."""
    first = obj.steps[0][1] if hasattr(obj, "steps") else obj
    if type(first).__name__ in TEXT and is_frame(sample) and sample.shape[1] == 1:
        return sample.iloc[:, 0].to_numpy(dtype=object).reshape(-1, 1)
    return sample
