"""``house-prices``: XGBoost regression of house prices, as in the seed's Boston walkthrough.

The data is :func:`portable.datasets.house_prices` (synthetic, no download) with a few
percent of cells missing, as real listings have; XGBoost learns a default direction for
them. The split is the seed's: a third for test, then a third of the rest for validation.
"""

from __future__ import annotations

from . import _xgboost
from ._common import REGRESSION_METRICS, Splits, split_three


class HousePrices(_xgboost.TabularXGBoost):
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


RECIPE = HousePrices()
