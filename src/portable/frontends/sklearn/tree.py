"""Decision trees and forests: DecisionTree*, ExtraTree*, RandomForest*, ExtraTrees*.

What scikit-learn computes, and what the IR therefore states:

* ``predict`` / ``predict_proba`` cast X to float32, then compare the float32 value, widened
  to double, with the float64 ``tree_.threshold``: left when ``x <= threshold``; a NaN
  goes to ``tree_.missing_go_to_left`` (the ``_apply_dense`` loop in ``sklearn/tree/_tree.pyx``).
* A regressor's leaf output is ``tree_.value[leaf, :, 0]``.
* A classifier's ``predict_proba`` is ``tree_.value[leaf, 0, :]``: since scikit-learn 1.4
  ``tree_.value`` already holds the weighted class fractions and ``predict_proba`` returns
  them as they are (no normalisation). Older releases stored counts and divided each row
  by its sum; for them the same division is done here, once per leaf.
* A forest starts from zeros, adds each tree's output in ``estimators_`` order, then
  divides by ``len(estimators_)`` (``ForestClassifier.predict_proba`` and
  ``ForestRegressor.predict``). With ``n_jobs > 1`` scikit-learn itself adds the trees in
  thread-completion order, so its own results then vary in the last bits from call to call.

Every array is converted as a whole with numpy: no per-node Python loop, no recursion.
"""

from __future__ import annotations

import numpy as np

from ...ir import Tree, TreeEnsemble
from ._common import (
    Head,
    class_labels,
    class_name,
    probability_names,
    unsupported_setting,
    value_names,
    version_tuple,
)

SINGLE_TREES = ("DecisionTreeRegressor", "DecisionTreeClassifier",
                "ExtraTreeRegressor", "ExtraTreeClassifier")
FORESTS = ("RandomForestRegressor", "RandomForestClassifier",
           "ExtraTreesRegressor", "ExtraTreesClassifier")
ESTIMATORS = SINGLE_TREES + FORESTS


def convert_tree(tree_, value: np.ndarray, *, output_offset: int = 0) -> Tree:
    """One ``sklearn.tree._tree.Tree`` as an IR :class:`~portable.ir.Tree`.

    Parameters
    ----------
    tree_ : sklearn.tree._tree.Tree
    value : float64 array (n_nodes, n_values)
        The leaf vectors to emit (already scaled / normalised by the caller).
    output_offset : int
        First margin column the tree writes.
    """
    left = np.asarray(tree_.children_left, dtype=np.int64)
    right = np.asarray(tree_.children_right, dtype=np.int64)
    leaf = left == -1
    n = left.shape[0]
    # Releases before 1.3 had no missing-value support: NaN compared false with <=, i.e. right.
    go_left = getattr(tree_, "missing_go_to_left", None)
    go_left = np.zeros(n, dtype=bool) if go_left is None else np.asarray(go_left, dtype=bool)
    return Tree(
        # Leaves carry feature -2 / threshold -2 in scikit-learn; the IR says -1 / 0.
        feature=np.where(leaf, -1, np.asarray(tree_.feature, dtype=np.int64)).astype(np.int32),
        threshold=np.where(leaf, 0.0, np.asarray(tree_.threshold, dtype=np.float64)),
        left=left.astype(np.int32),
        right=right.astype(np.int32),
        default_left=go_left & ~leaf,
        value=np.ascontiguousarray(value, dtype=np.float64).reshape(n, -1),
        output_offset=output_offset,
    )


def _classifier_values(tree_, n_classes: int) -> np.ndarray:
    """Leaf probabilities exactly as ``DecisionTreeClassifier.predict_proba`` returns them."""
    v = np.ascontiguousarray(tree_.value[:, 0, :n_classes], dtype=np.float64)
    if version_tuple() < (1, 4):
        # Counts, normalised per row by predict_proba (a zero row divides by 1).
        norm = v.sum(axis=1)[:, np.newaxis]
        norm[norm == 0.0] = 1.0
        v = v / norm
    return v


def _regressor_values(tree_) -> np.ndarray:
    return np.ascontiguousarray(tree_.value[:, :, 0], dtype=np.float64)


def _check_single_output_classifier(est) -> None:
    if int(getattr(est, "n_outputs_", 1)) != 1:
        raise unsupported_setting(
            est, f"{est.n_outputs_} target columns (multi-output classification)",
            "portable supports one target column for classifiers; fit one classifier per "
            "target column instead.")


def import_tree_model(est) -> Head:
    """A fitted single tree or forest as a :class:`Head` holding a TreeEnsemble."""
    name = class_name(est)
    is_forest = name in FORESTS
    members = list(est.estimators_) if is_forest else [est]
    n_features = int(est.n_features_in_)
    is_classifier = name.endswith("Classifier")
    if is_classifier:
        _check_single_output_classifier(est)
        classes = class_labels(est)
        trees = tuple(convert_tree(m.tree_, _classifier_values(m.tree_, len(classes)))
                      for m in members)
        n_outputs = len(classes)
    else:
        classes = None
        trees = tuple(convert_tree(m.tree_, _regressor_values(m.tree_)) for m in members)
        n_outputs = int(est.n_outputs_)
    ensemble = TreeEnsemble(
        trees=trees,
        n_features=n_features,
        n_outputs=n_outputs,
        base_score=np.zeros(n_outputs, dtype=np.float64),
        split_op="<=",
        input_dtype="float32",
        threshold_dtype="float64",
        accumulate_dtype="float64",
        aggregation="mean" if is_forest else "sum",
        post_transform="identity",
    )
    if is_classifier:
        return Head(ensemble, "classification", probability_names(classes), "probability",
                    classes, detail="leaf class fractions" + (", mean over trees" if is_forest else ""))
    return Head(ensemble, "regression", value_names(n_outputs), "value", None,
                detail="mean over trees" if is_forest else "")
