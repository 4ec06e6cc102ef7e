"""Gradient boosting: GradientBoosting* and HistGradientBoosting*.

GradientBoosting (``sklearn/ensemble/_gb.py``, ``_gradient_boosting.pyx``)::

    raw = init estimator's raw prediction            (_raw_predict_init)
    for stage i, for class column k:                 (predict_stages)
        raw[:, k] += learning_rate * tree[i, k].value[leaf]   # X as float32, x <= thr

``learning_rate * value`` is one double product in both orders, so multiplying each leaf
value once here gives bit-identical sums. The init estimator must be constant (the
default prior, ``init="zero"`` or a non-random Dummy estimator); its prediction on any one
row is the IR ``base_score``.

HistGradientBoosting (``gradient_boosting.py``, ``_predictor.pyx``)::

    raw = 0 + _baseline_prediction
    for iteration, for k: raw[:, k] += node.value      # X as float64, x <= num_threshold

Leaf values are already multiplied by the learning rate. Categorical splits (bitsets) have
no IR form and are refused.

The link is read from the fitted loss: identity, exp (poisson, gamma), logistic (binary
log-loss), softmax (multiclass log-loss). GradientBoostingClassifier's exponential loss
predicts ``expit(2 * raw)``; it is imported with every leaf value and the base score
doubled (a doubling is exact), so its IR margin is ``2 * decision_function``.
"""

from __future__ import annotations

import warnings

import numpy as np

from ...ir import Tree, TreeEnsemble
from ._common import (
    Head,
    class_labels,
    class_name,
    probability_names,
    unsupported_setting,
    value_names,
)
from .tree import convert_tree

GB = ("GradientBoostingRegressor", "GradientBoostingClassifier")
HGB = ("HistGradientBoostingRegressor", "HistGradientBoostingClassifier")
ESTIMATORS = GB + HGB

# scikit-learn link class name -> (IR post_transform, factor applied to the margin)
_LINKS = {
    "IdentityLink": ("identity", 1.0),
    "LogLink": ("exp", 1.0),
    "LogitLink": ("logistic", 1.0),
    "HalfLogitLink": ("logistic", 2.0),
    "MultinomialLogit": ("softmax", 1.0),
}


def _link(est) -> tuple[str, float]:
    loss = getattr(est, "_loss", None)
    name = type(getattr(loss, "link", None)).__name__
    if name not in _LINKS:
        raise unsupported_setting(
            est, f"loss={getattr(est, 'loss', '?')!r} (link {name})",
            f"supported links are {', '.join(_LINKS)}; refit with a standard loss.")
    return _LINKS[name]


def _head(est, ensemble: TreeEnsemble, detail: str) -> Head:
    """Signature facts for a boosted ensemble: probabilities for classifiers, values otherwise."""
    if class_name(est).endswith("Classifier"):
        classes = class_labels(est)
        return Head(ensemble, "classification", probability_names(classes), "probability",
                    classes, detail)
    return Head(ensemble, "regression", value_names(ensemble.n_outputs), "value", None, detail)


# ----------------------------------------------------------------------------- GradientBoosting
def _check_constant_init(est) -> None:
    from sklearn.dummy import DummyClassifier, DummyRegressor

    init = est.init_
    if isinstance(init, str) and init == "zero":
        return
    if isinstance(init, DummyRegressor):
        return
    if isinstance(init, DummyClassifier) and init.strategy != "stratified":
        return
    raise unsupported_setting(
        est, f"init={class_name(init)}",
        "only a constant initial prediction can be represented (the default prior, "
        "init='zero', or a non-random Dummy estimator). Refit without a custom init "
        "estimator, or put that estimator's own model in front as a separate step.")


def import_gradient_boosting(est) -> Head:
    """GradientBoostingRegressor / GradientBoostingClassifier as a sum of float64 trees."""
    _check_constant_init(est)
    n_features = int(est.n_features_in_)
    stages = est.estimators_
    n_stages, K = stages.shape
    lr = float(est.learning_rate)
    if class_name(est).endswith("Classifier"):
        post, factor = _link(est)
    else:
        post, factor = "identity", 1.0  # GradientBoostingRegressor.predict returns the raw sum
    with warnings.catch_warnings():
        # A model fitted on a DataFrame warns about the nameless probe row; the value is
        # the same for every row (constant init), which is all that is read here.
        warnings.simplefilter("ignore")
        base = est._raw_predict_init(np.zeros((1, n_features), dtype=np.float32))[0]
    base = np.asarray(base, dtype=np.float64).reshape(K)
    trees = []
    for i in range(n_stages):
        for k in range(K):
            t = stages[i, k].tree_
            v = lr * np.asarray(t.value[:, 0, 0], dtype=np.float64)
            if factor != 1.0:
                v = v * factor
            trees.append(convert_tree(t, v.reshape(-1, 1), output_offset=k))
    if factor != 1.0:
        base = base * factor
    ensemble = TreeEnsemble(
        trees=tuple(trees), n_features=n_features, n_outputs=K, base_score=base,
        split_op="<=", input_dtype="float32", threshold_dtype="float64",
        accumulate_dtype="float64", aggregation="sum", post_transform=post)
    detail = f"loss={est.loss}, learning_rate={lr:g}, {n_stages} stages"
    if factor != 1.0:
        detail += "; margin = 2 * decision_function (exponential loss predicts expit(2 * raw))"
    return _head(est, ensemble, detail)


# ----------------------------------------------------------------------------- HistGradientBoosting
def _hgb_tree(nodes: np.ndarray, output_offset: int) -> Tree:
    leaf = nodes["is_leaf"].astype(bool)
    return Tree(
        feature=np.where(leaf, -1, nodes["feature_idx"].astype(np.int64)).astype(np.int32),
        threshold=np.where(leaf, 0.0, nodes["num_threshold"].astype(np.float64)),
        # Leaves store children 0 / 0 in scikit-learn; the IR marks them with -1.
        left=np.where(leaf, -1, nodes["left"].astype(np.int64)).astype(np.int32),
        right=np.where(leaf, -1, nodes["right"].astype(np.int64)).astype(np.int32),
        default_left=nodes["missing_go_to_left"].astype(bool) & ~leaf,
        value=np.ascontiguousarray(nodes["value"], dtype=np.float64).reshape(-1, 1),
        output_offset=output_offset,
    )


def import_hist_gradient_boosting(est) -> Head:
    """HistGradientBoostingRegressor / Classifier as a sum of trees over float64 inputs."""
    categorical = getattr(est, "is_categorical_", None)
    if (categorical is not None and np.any(categorical)) or getattr(
            est, "_preprocessor", None) is not None:
        raise unsupported_setting(
            est, "categorical features (categorical_features / pandas category columns)",
            "categorical splits have no portable form. One-hot encode those columns in a "
            "Pipeline (ColumnTransformer + OneHotEncoder) and refit with "
            "categorical_features=None.")
    post, factor = _link(est)
    if factor != 1.0:  # no HistGradientBoosting loss uses a scaled link today
        raise unsupported_setting(est, f"loss={est.loss!r}", "refit with a standard loss.")
    K = int(est.n_trees_per_iteration_)
    trees = []
    for iteration in est._predictors:
        for k, predictor in enumerate(iteration):
            nodes = predictor.nodes
            if np.any(nodes["is_categorical"][~nodes["is_leaf"].astype(bool)]):
                raise unsupported_setting(est, "a categorical split",
                                          "refit with categorical_features=None.")
            trees.append(_hgb_tree(nodes, k))
    base = np.asarray(est._baseline_prediction, dtype=np.float64).reshape(K)
    ensemble = TreeEnsemble(
        trees=tuple(trees), n_features=int(est.n_features_in_), n_outputs=K,
        base_score=base, split_op="<=", input_dtype="float64", threshold_dtype="float64",
        accumulate_dtype="float64", aggregation="sum", post_transform=post)
    detail = f"loss={est.loss}, {len(est._predictors)} iterations"
    return _head(est, ensemble, detail)


def import_boosting(est) -> Head:
    if class_name(est) in HGB:
        return import_hist_gradient_boosting(est)
    return import_gradient_boosting(est)
