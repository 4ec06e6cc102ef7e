"""``house-prices``: XGBoost regression of house prices, as in the seed's Boston walkthrough.

The data is :func:`portable.datasets.house_prices` (synthetic, no download) with a few
percent of cells missing, as real listings have; XGBoost learns a default direction for
them. The split is the seed's: a third for test, then a third of the rest for validation.
"""

from __future__ import annotations

from . import _xgboost
from ._common import REGRESSION_METRICS, Splits, save_xgboost, split_three


class HousePrices:
    """Recipe object; see ``portable.recipes._common`` for the protocol."""

    name = "house-prices"
    summary = "XGBoost regression on synthetic house prices (price in $1000s)"
    task = "regression"
    classes = ()
    default_variant = "xgboost"
    variants = {"xgboost": {"rows": 4000, "missing": 0.02, **_xgboost.DEFAULTS}}
    objectives = REGRESSION_METRICS
    default_objective = "validation:rmse"

    def ranges(self, variant: str):
        return _xgboost.RANGES

    def load(self, params: dict, seed: int) -> Splits:
        from ..datasets import house_prices

        X, y, names = house_prices(params["rows"], seed=seed, missing=params["missing"])
        return Splits(*split_three(X, y, seed=seed, stratify=False), columns=list(names),
                      target="price")

    def fit(self, splits: Splits, params: dict, *, seed: int, n_jobs=None, on_round=None):
        return _xgboost.fit(self.task, splits.X_train, splits.y_train, splits.X_validation,
                            splits.y_validation, params, seed=seed, n_jobs=n_jobs,
                            on_round=on_round, feature_names=splits.columns)

    def save(self, model, out_dir, splits: Splits):
        return save_xgboost(model, out_dir)


RECIPE = HousePrices()
