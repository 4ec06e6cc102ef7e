"""The public verbs: orchestration only, each a few lines over the layers below."""

from __future__ import annotations

import os

from . import ir
from .errors import UnsupportedModelError


def import_model(model) -> ir.Model:
    """Import a trained model (object or file path) into the IR, and check it.

    Parameters
    ----------
    model : estimator, xgboost.Booster, path, or ir.Model
        A fitted scikit-learn / XGBoost object, or the path of a model file (``.json``,
        ``.ubj``, ``.joblib``, ``.pkl``, ``.skops``). Loading a pickle runs code: name only
        files you trust.

    Returns
    -------
    portable.ir.Model

    Examples
    --------
    >>> import portable
    >>> from sklearn.linear_model import LinearRegression
    >>> m = portable.import_model(LinearRegression().fit([[0.0], [1.0]], [1.0, 3.0]))
    >>> m.signature.task
    'regression'
    """
    from .frontends import import_object
    from .loading import load_model_file

    if isinstance(model, (str, os.PathLike)):
        model = load_model_file(model)
    if isinstance(model, ir.Model):
        return ir.check_model(model)
    if model is None:
        raise UnsupportedModelError("Cannot import None: pass a fitted estimator or a model file path.")
    return ir.check_model(import_object(model))
