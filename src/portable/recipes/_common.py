"""What every recipe shares: parameter ranges, splits, metrics, files, and the run itself.

A recipe (see ``house_prices.py``) is an object with ``name``, ``task``, ``variants``
(default parameters per variant), ``objectives``, ``ranges(variant)``, ``load(params, seed)
-> Splits``, ``fit(splits, params, seed=, n_jobs=, on_round=)`` and ``save(model, out_dir,
splits)``. :func:`run` does the rest the same way for all of them, so that ``portable
train`` and the final retrain of ``portable tune`` produce the same folder layout.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import platform
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import InputError

SPLIT_NAMES = ("train", "validation", "test")


@dataclasses.dataclass(frozen=True)
class Range:
    """A tunable hyperparameter: ``float`` / ``int`` in ``[low, high]`` or ``categorical``.

    ``log=True`` samples uniformly in log space (rates, regularisation strengths), as
    SageMaker's ``ScalingType="Logarithmic"`` does.
    """

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple = ()

    def suggest(self, trial) -> Any:
        """Draw a value from an Optuna trial."""
        if self.kind == "float":
            return trial.suggest_float(self.name, self.low, self.high, log=self.log)
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_categorical(self.name, list(self.choices))

    def describe(self) -> str:
        if self.kind == "categorical":
            return "{" + ", ".join(map(str, self.choices)) + "}"
        return f"{self.kind} [{self.low:g}, {self.high:g}]{' log' if self.log else ''}"

    def to_dict(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if v not in (None, (), False)}


@dataclasses.dataclass
class Splits:
    """Train / validation / test parts; ``X`` is a float array, or a list of texts."""

    X_train: Any
    y_train: np.ndarray
    X_validation: Any
    y_validation: np.ndarray
    X_test: Any
    y_test: np.ndarray
    columns: list[str]
    target: str

    def part(self, name: str):
        return getattr(self, f"X_{name}"), getattr(self, f"y_{name}")

    def sizes(self) -> dict[str, int]:
        return {name: len(self.part(name)[1]) for name in SPLIT_NAMES}


@dataclasses.dataclass
class TrainResult:
    """What :func:`portable.recipes.train` returns.

    Attributes
    ----------
    recipe : str
    model : the trained object (an XGBoost estimator or a scikit-learn pipeline)
    metrics : dict
        ``{"validation": {...}, "test": {...}}``; regression: ``rmse``, ``mae``, ``r2``;
        classification: ``accuracy``, ``f1``, ``logloss``.
    params : dict
        Every parameter used (defaults completed with the ones given).
    seed : int
    out_dir : pathlib.Path or None
    paths : dict
        File role -> path (``model``, ``train``, ``validation``, ``test``, ``metrics``,
        ``recipe``, ...); empty when nothing was saved.
    """

    recipe: str
    model: Any
    metrics: dict
    params: dict
    seed: int
    out_dir: Path | None = None
    paths: dict = dataclasses.field(default_factory=dict)
    splits: Splits | None = dataclasses.field(default=None, repr=False)


def split_three(X, y, *, seed: int, stratify: bool):
    """Split as the seed's notebooks do: 1/3 test, then 1/3 of the rest for validation.

    Returns ``(X_train, y_train, X_validation, y_validation, X_test, y_test)``.
    """
    from sklearn.model_selection import train_test_split

    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=1 / 3, random_state=seed, stratify=y if stratify else None)
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest, y_rest, test_size=1 / 3, random_state=seed + 1,
        stratify=y_rest if stratify else None)
    return X_train, y_train, X_val, y_val, X_test, y_test


# ----------------------------------------------------------------------------- metrics
REGRESSION_METRICS = {"rmse": "minimize", "mae": "minimize", "r2": "maximize"}
CLASSIFICATION_METRICS = {"accuracy": "maximize", "f1": "maximize", "logloss": "minimize"}


def regression_metrics(y, pred) -> dict:
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    pred = np.asarray(pred, dtype=np.float64).ravel()
    return {"rmse": float(math.sqrt(mean_squared_error(y, pred))),
            "mae": float(mean_absolute_error(y, pred)), "r2": float(r2_score(y, pred))}


def classification_metrics(y, proba, n_classes: int) -> dict:
    from sklearn.metrics import accuracy_score, f1_score, log_loss

    proba = np.asarray(proba, dtype=np.float64)
    # XGBoost's float32 probabilities sum to 1 only within float32 rounding, which
    # log_loss warns about; renormalising in float64 changes the loss by ~1e-8 at most.
    proba = proba / proba.sum(axis=1, keepdims=True)
    labels = np.argmax(proba, axis=1)
    f1 = f1_score(y, labels, average="binary" if n_classes == 2 else "macro")
    return {"accuracy": float(accuracy_score(y, labels)), "f1": float(f1),
            "logloss": float(log_loss(y, proba, labels=list(range(n_classes))))}


def round_metrics(log: dict, y_validation: np.ndarray) -> dict:
    """The latest XGBoost evaluation results, renamed to this package's metric names.

    ``log`` is one evaluation set's entry of XGBoost's ``evals_log``. Accuracy is
    ``1 - error``; R2 is derived exactly from the RMSE (``1 - MSE / Var(y)``), so that
    pruning compares trials in the objective's own units.
    """
    out = {}
    for key, values in log.items():
        v = float(values[-1][0] if isinstance(values[-1], tuple) else values[-1])
        if key in ("rmse", "mae"):
            out[key] = v
        elif key in ("error", "merror"):
            out["accuracy"] = 1.0 - v
        elif key in ("logloss", "mlogloss"):
            out["logloss"] = v
    if "rmse" in out:
        out["r2"] = 1.0 - out["rmse"] ** 2 / float(np.var(y_validation))
    return out


def round_callback(on_round: Callable[[int, dict], None], y_validation):
    """An XGBoost training callback calling ``on_round(round, metrics)`` after each round.

    Exceptions raised by ``on_round`` (Optuna's ``TrialPruned``) stop training and
    propagate: XGBoost's training loop is plain Python.
    """
    import xgboost as xgb

    class _OnRound(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log):
            if evals_log:
                on_round(epoch + 1, round_metrics(next(iter(evals_log.values())), y_validation))
            return False

    return _OnRound()


# ----------------------------------------------------------------------------- parameters
def resolve_params(recipe, given: dict) -> dict:
    """Defaults of the chosen variant completed with ``given``; unknown names are refused."""
    given = dict(given)
    variant = given.pop("variant", None) or recipe.default_variant
    if variant not in recipe.variants:
        raise InputError(f"Recipe {recipe.name!r} has no variant {variant!r}. "
                         f"Variants: {', '.join(recipe.variants)}.")
    params = {"variant": variant, **recipe.variants[variant]}
    unknown = sorted(set(given) - set(params))
    if unknown:
        raise InputError(f"Unknown parameter(s) {', '.join(map(repr, unknown))} for recipe "
                         f"{recipe.name!r} (variant {variant!r}). Known: "
                         f"{', '.join(sorted(k for k in params if k != 'variant'))}.")
    for k, v in given.items():
        params[k] = coerce(k, v, params[k])
    if params.get("rows", 30) < 30:  # fewer leave a validation split of a handful of rows
        raise InputError(f"rows must be >= 30; got {params['rows']}.")
    if not 0 <= params.get("missing", 0.0) < 1:
        raise InputError(f"missing is a fraction in [0, 1); got {params['missing']}.")
    for r in recipe.ranges(variant):
        if r.kind == "categorical" and params.get(r.name) not in r.choices:
            raise InputError(f"Parameter {r.name!r} must be one of "
                             f"{', '.join(map(str, r.choices))}; got {params.get(r.name)!r}.")
    return params


def coerce(name: str, value, default):
    """Cast a given value (perhaps a CLI string) to the type of the parameter's default."""
    if default is None or isinstance(value, type(default)) and not isinstance(value, bool):
        return value
    try:
        if isinstance(default, bool):
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                return value.lower() in ("true", "1", "yes")
            return bool(value)
        if isinstance(default, int):
            f = float(value)
            if f != int(f):
                raise ValueError(value)
            return int(f)
        return type(default)(value)
    except (TypeError, ValueError):
        kind = {bool: "true or false", int: "an integer", float: "a number"}.get(
            type(default), f"a {type(default).__name__}")
        raise InputError(f"Parameter {name!r} expects {kind}; got {value!r}.") from None


# ----------------------------------------------------------------------------- files
def versions() -> dict:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for dist in ("portable", "numpy", "scikit-learn", "xgboost-cpu", "xgboost", "skops", "optuna"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            continue
    return out


def write_json(path: Path, obj) -> Path:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def _cell(v) -> str:
    if isinstance(v, (float, np.floating)):
        # repr is the shortest text that reads back to the same double: splits reload exactly.
        return "" if math.isnan(v) else repr(float(v))
    if isinstance(v, (np.integer,)):
        return str(int(v))
    return str(v)


def write_splits(out_dir: Path, splits: Splits) -> dict[str, Path]:
    """``train.csv``, ``validation.csv``, ``test.csv``: a header, features then target."""
    paths = {}
    for name in SPLIT_NAMES:
        X, y = splits.part(name)
        path = out_dir / f"{name}.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow([*splits.columns, splits.target])
            for row, target in zip(X, y):
                cells = [row] if isinstance(row, str) else list(row)
                w.writerow([_cell(v) for v in cells] + [_cell(target)])
        paths[name] = path
    return paths


def save_sklearn(model, out_dir: Path) -> dict[str, Path]:
    """``model.joblib`` always, ``model.skops`` too when skops is installed."""
    import joblib

    paths = {"model": out_dir / "model.joblib"}
    joblib.dump(model, paths["model"])
    try:
        import skops.io as sio
    except ImportError:
        return paths
    paths["model_skops"] = out_dir / "model.skops"
    sio.dump(model, paths["model_skops"])
    return paths


def save_xgboost(model, out_dir: Path) -> dict[str, Path]:
    path = out_dir / "model.json"
    model.save_model(path)
    return {"model": path}


# ----------------------------------------------------------------------------- the run
def evaluate_splits(recipe, model, splits: Splits, parts=("validation", "test")) -> dict:
    out = {}
    for name in parts:
        X, y = splits.part(name)
        if recipe.task == "regression":
            out[name] = regression_metrics(y, model.predict(X))
        else:
            out[name] = classification_metrics(y, model.predict_proba(X), len(recipe.classes))
    return out


def run(recipe, *, out_dir=None, seed: int = 0, params: dict | None = None,
        n_jobs: int | None = None, splits: Splits | None = None) -> TrainResult:
    """Load, split, fit, measure and (when ``out_dir`` is given) save one recipe."""
    params = resolve_params(recipe, params or {})
    if splits is None:
        splits = recipe.load(params, seed)
    model = recipe.fit(splits, params, seed=seed, n_jobs=n_jobs)
    metrics = evaluate_splits(recipe, model, splits)
    result = TrainResult(recipe=recipe.name, model=model, metrics=metrics, params=params,
                         seed=seed, splits=splits)
    if out_dir is None:
        return result
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = dict(recipe.save(model, out, splits))
    paths.update(write_splits(out, splits))
    paths["metrics"] = write_json(out / "metrics.json", {"rows": splits.sizes(), **metrics})
    paths["recipe"] = write_json(out / "recipe.json", {
        "recipe": recipe.name, "task": recipe.task, "seed": seed, "params": params,
        "columns": splits.columns, "target": splits.target,
        "classes": list(getattr(recipe, "classes", ()) or ()) or None,
        "files": sorted(p.name for p in [*paths.values(), out / "recipe.json"]),
        "versions": versions()})
    result.out_dir, result.paths = out, paths
    return result
