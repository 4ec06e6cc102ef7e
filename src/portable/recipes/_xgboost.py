"""XGBoost training shared by the recipes, with SageMaker's hyperparameter names.

Parameters use the names of SageMaker's built-in XGBoost algorithm (``num_round``, ``eta``,
``lambda``, ...), which are XGBoost's native ones, and are mapped here to the scikit-learn
wrapper's keywords. Training always evaluates the validation split after each round: early
stopping (``early_stopping_rounds``) watches it, and ``portable tune`` reads it to prune
poor trials.
"""

from __future__ import annotations

from ._common import Range, round_callback, save_xgboost

DEFAULTS = {
    "num_round": 300,
    "eta": 0.1,
    "max_depth": 5,
    "min_child_weight": 1.0,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "lambda": 1.0,
    "alpha": 0.0,
    "gamma": 0.0,
    "grow_policy": "depthwise",
    "early_stopping_rounds": 20,
}

RANGES = (
    Range("eta", "float", 0.01, 0.3, log=True),
    Range("max_depth", "int", 2, 10),
    Range("min_child_weight", "float", 0.5, 20.0, log=True),
    Range("subsample", "float", 0.5, 1.0),
    Range("colsample_bytree", "float", 0.5, 1.0),
    Range("lambda", "float", 0.01, 10.0, log=True),
    Range("grow_policy", "categorical", choices=("depthwise", "lossguide")),
)

_SKLEARN_NAMES = {"num_round": "n_estimators", "eta": "learning_rate", "lambda": "reg_lambda",
                  "alpha": "reg_alpha"}
_OBJECTIVES = {"regression": "reg:squarederror", "binary": "binary:logistic",
               "multiclass": "multi:softprob"}
# Early stopping watches the last metric of the list; the others are only reported per
# round (for pruning). The list is the same in `train` and in every `tune` trial, so a
# retrained best trial is the very model the trial measured.
_EVAL_METRICS = {"regression": ["mae", "rmse"], "binary": ["error", "logloss"],
                 "multiclass": ["merror", "mlogloss"]}


def make_estimator(task: str, params: dict, *, seed: int, n_jobs: int | None, callbacks=None):
    """An unfitted ``XGBRegressor`` / ``XGBClassifier`` for ``task`` with ``params``."""
    import xgboost as xgb

    kw = {_SKLEARN_NAMES.get(k, k): params[k] for k in DEFAULTS}
    kw["early_stopping_rounds"] = kw["early_stopping_rounds"] or None  # 0 turns it off
    cls = xgb.XGBRegressor if task == "regression" else xgb.XGBClassifier
    return cls(objective=_OBJECTIVES[task], eval_metric=_EVAL_METRICS[task], tree_method="hist",
               random_state=seed, n_jobs=n_jobs, callbacks=callbacks, **kw)


def fit(task: str, X_train, y_train, X_val, y_val, params: dict, *, seed: int,
        n_jobs: int | None, on_round=None, feature_names=None):
    """Fit on the train split, watching the validation split; returns the estimator.

    ``on_round(round, metrics)`` is called after each boosting round with the validation
    metrics of that round (see ``_common.round_metrics``).
    """
    import xgboost as xgb

    callbacks = [round_callback(on_round, y_val)] if on_round is not None else None
    est = make_estimator(task, params, seed=seed, n_jobs=n_jobs, callbacks=callbacks)
    try:
        est.fit(X_train, y_train, eval_set=[(X_val, y_val)], verbose=False)
    except xgb.core.XGBoostError as e:  # a parameter out of XGBoost's range: user input
        from ..errors import InputError
        first = str(e).strip().splitlines()[0]
        raise InputError(f"XGBoost refused the parameters: {first}") from None
    # The callback holds a reference to a tuning trial: never keep it in a saved model.
    # (Not set_params: on a fitted model it pushes every parameter to the booster again.)
    est.callbacks = None
    if feature_names is not None:
        # Named features travel in model.json, so `portable inspect` and CSV headers agree.
        est.get_booster().feature_names = list(feature_names)
    return est


def rounds_used(est) -> int:
    """Boosting rounds the estimator predicts with (``best_iteration + 1`` after early stop)."""
    best = getattr(est, "best_iteration", None)
    return int(best) + 1 if best is not None else int(est.get_booster().num_boosted_rounds())


class TabularXGBoost:
    """``fit`` and ``save`` of the tabular XGBoost recipes (house prices, iris): train on the
    splits with the SageMaker-named parameters, save ``model.json``."""

    def fit(self, splits, params: dict, *, seed: int, n_jobs=None, on_round=None):
        return fit(self.task, splits.X_train, splits.y_train, splits.X_validation,
                   splits.y_validation, params, seed=seed, n_jobs=n_jobs,
                   on_round=on_round, feature_names=splits.columns)

    def save(self, model, out_dir, splits):
        return save_xgboost(model, out_dir)
