"""``iris-multiclass``: XGBoost ``multi:softprob`` on scikit-learn's bundled iris table.

150 rows, so the stratified split (50 test, 33 validation, 67 train) matters more than
the model: with this few rows the metrics move by a row or two between seeds.
"""

from __future__ import annotations

from . import _xgboost
from ._common import CLASSIFICATION_METRICS, Splits, split_three

# XGBoost refuses '[', ']' and '<' in feature names; these read well in a CSV header too.
COLUMNS = ["sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm"]


class IrisMulticlass(_xgboost.TabularXGBoost):
    """Recipe object; see ``portable.recipes._common`` for the protocol."""

    name = "iris-multiclass"
    summary = "XGBoost multi:softprob on scikit-learn's bundled iris (3 species)"
    task = "multiclass"
    classes = ("setosa", "versicolor", "virginica")
    default_variant = "xgboost"
    # Few rows: fewer, shallower trees, and early stopping on a 33-row validation split.
    variants = {"xgboost": {**_xgboost.DEFAULTS, "num_round": 100, "max_depth": 3,
                            "eta": 0.2, "early_stopping_rounds": 15}}
    objectives = CLASSIFICATION_METRICS
    default_objective = "validation:logloss"

    def ranges(self, variant: str):
        return _xgboost.RANGES

    def load(self, params: dict, seed: int) -> Splits:
        from sklearn.datasets import load_iris

        data = load_iris()  # bundled with scikit-learn: no download
        return Splits(*split_three(data.data, data.target.astype("int64"), seed=seed,
                                   stratify=True), columns=list(COLUMNS), target="label")


RECIPE = IrisMulticlass()
