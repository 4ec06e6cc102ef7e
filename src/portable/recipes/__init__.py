"""Training recipes: the seed's walkthroughs as one call (``portable train RECIPE -o DIR``).

=================  ===========================================================
recipe             what it trains
=================  ===========================================================
house-prices       XGBoost regression on synthetic house prices
sentiment          movie reviews -> TF-IDF -> XGBoost (``variant="logistic"``)
iris-multiclass    XGBoost ``multi:softprob`` on scikit-learn's bundled iris
=================  ===========================================================

Each recipe splits its data into train / validation / test (a third for test, a third of
the rest for validation, fixed by ``seed``), trains, measures validation and test metrics,
and writes to ``out_dir``: the model (``model.json`` for XGBoost, ``model.joblib`` and
``model.skops`` for scikit-learn pipelines), ``train.csv`` / ``validation.csv`` /
``test.csv``, ``metrics.json`` and ``recipe.json``. Third-party recipes register under
the ``portable.recipes`` entry-point group.
"""

from __future__ import annotations

from ..registry import Registry
from ._common import Range, Splits, TrainResult

__all__ = ["RECIPES", "Range", "Splits", "TrainResult", "get", "train"]

RECIPES = Registry("recipe", group="portable.recipes", builtins={
    "house-prices": "portable.recipes.house_prices:RECIPE",
    "sentiment": "portable.recipes.sentiment:RECIPE",
    "iris-multiclass": "portable.recipes.iris:RECIPE",
})


def get(name: str):
    """The recipe object registered as ``name`` (``UnknownNameError`` lists the known ones)."""
    return RECIPES.get(name)


def train(recipe: str, *, out_dir=None, seed: int = 0, n_jobs: int | None = None,
          **params) -> TrainResult:
    """Train a recipe and, when ``out_dir`` is given, save the model, splits and metrics.

    Parameters
    ----------
    recipe : str
        ``"house-prices"``, ``"sentiment"`` or ``"iris-multiclass"`` (see ``RECIPES``).
    out_dir : path, optional
        Folder to write (created if needed; files in it are overwritten).
    seed : int
        Fixes the data (generated recipes), the split and the model: the same seed gives
        the same metrics.
    n_jobs : int, optional
        Threads for XGBoost (default: all cores).
    **params
        Recipe parameters overriding its defaults, e.g. ``variant="logistic"``,
        ``max_depth=4``, ``eta=0.05`` (SageMaker's XGBoost names). Unknown names raise
        ``InputError`` listing the known ones.

    Returns
    -------
    TrainResult

    Examples
    --------
    >>> from portable.recipes import train
    >>> r = train("iris-multiclass", seed=0)
    >>> r.metrics["test"]["accuracy"] > 0.85
    True
    """
    from ._common import run

    return run(get(recipe), out_dir=out_dir, seed=seed, params=params, n_jobs=n_jobs)
