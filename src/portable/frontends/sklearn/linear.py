"""Linear models: ``decision = X @ coef_.T + intercept_`` in float64, then a link.

What scikit-learn (1.9) computes for each output, and the IR link that reproduces it:

* LinearRegression, Ridge, Lasso, ElasticNet, SGDRegressor, LinearSVR: ``predict`` is the
  decision -> identity;
* LogisticRegression, binary: ``predict_proba = [1 - expit(d), expit(d)]`` -> logistic;
* LogisticRegression, multiclass: ``softmax(decision)`` -> softmax;
* SGDClassifier(loss="log_loss"), binary: ``[1 - expit(d), expit(d)]`` -> logistic;
* SGDClassifier (other losses, or multiclass) and LinearSVC: ``decision_function`` ->
  identity, prediction kind "decision".

Binary LogisticRegression: scikit-learn 1.9's ``predict_proba`` goes through
``LinearClassifierMixin._predict_proba_lr`` (``expit`` on the single decision column, then
``1 - p``), which is exactly the IR's one-column logistic link expanded to ``[1-p, p]``.
Multiclass SGDClassifier(log_loss) normalises one-vs-rest sigmoids, which has no IR link,
so it is imported with its decision scores.

A 1-D ``coef_`` becomes one row: numpy computes ``X @ w`` and ``X @ w[None].T`` with the
same matrix-vector kernel, so the decision is bit-identical. The bits of a BLAS product
also depend on the memory layout of X: scikit-learn fed a DataFrame (a Fortran-ordered
array) can differ by a few ULP from scikit-learn fed the same values C-ordered; the
evaluator computes the C-ordered product.
"""

from __future__ import annotations

import numpy as np

from ...ir import LinearModel
from ._common import (
    Head,
    as_float64_vector,
    class_labels,
    class_name,
    decision_names,
    probability_names,
    value_names,
)

REGRESSORS = ("LinearRegression", "Ridge", "Lasso", "ElasticNet", "SGDRegressor", "LinearSVR")
CLASSIFIERS = ("LogisticRegression", "SGDClassifier", "LinearSVC")
ESTIMATORS = REGRESSORS + CLASSIFIERS


def _coefficients(est) -> tuple[np.ndarray, np.ndarray]:
    coef = est.coef_
    if hasattr(coef, "toarray"):  # after est.sparsify()
        coef = coef.toarray()
    coef = np.asarray(coef, dtype=np.float64)
    if coef.ndim == 1:
        coef = coef.reshape(1, -1)
    coef = np.ascontiguousarray(coef)
    intercept = as_float64_vector(getattr(est, "intercept_", 0.0), coef.shape[0])
    return coef, intercept


def import_linear(est) -> Head:
    """A fitted linear regressor or classifier as a :class:`Head` holding a LinearModel."""
    coef, intercept = _coefficients(est)
    name = class_name(est)
    sparse = " (coef_ was sparse: densified)" if hasattr(est.coef_, "toarray") else ""
    if name in REGRESSORS:
        model = LinearModel(coef=coef, intercept=intercept, post_transform="identity")
        return Head(model, "regression", value_names(coef.shape[0]), "value", None,
                    "decision = X @ coef.T + intercept" + sparse)
    classes = class_labels(est)
    binary = coef.shape[0] == 1
    link = _probability_link(est, binary)
    if link == "softmax" and binary:
        # Releases before 1.8 with multi_class="multinomial": softmax([-d, d]).
        coef, intercept = np.vstack([-coef, coef]), np.concatenate([-intercept, intercept])
    if link is not None:
        model = LinearModel(coef=coef, intercept=intercept, post_transform=link)
        how = "[1 - expit(d), expit(d)]" if link == "logistic" else "softmax(d)"
        return Head(model, "classification", probability_names(classes), "probability",
                    classes, f"predict_proba = {how}" + sparse)
    model = LinearModel(coef=coef, intercept=intercept, post_transform="identity")
    why = ""
    if hasattr(est, "predict_proba"):
        why = ("; its predict_proba (one-vs-rest normalised sigmoids, or clipped scores) has "
               "no IR link, so the prediction is the decision score")
    return Head(model, "classification", decision_names(classes, coef.shape[0]), "decision",
                classes, "decision_function" + why + sparse)


def _probability_link(est, binary: bool) -> str | None:
    """The IR link that reproduces ``predict_proba`` exactly, or None (decision scores)."""
    name = class_name(est)
    if name == "SGDClassifier":
        return "logistic" if est.loss == "log_loss" and binary else None
    if name != "LogisticRegression":
        return None
    # ``multi_class`` was removed in scikit-learn 1.8; before, "ovr" (or liblinear) meant
    # one-vs-rest sigmoids, normalised for more than two classes.
    mc = getattr(est, "multi_class", "deprecated")
    if binary:
        return "softmax" if mc == "multinomial" else "logistic"
    if mc == "ovr" or (mc in ("auto", "deprecated", "warn") and est.solver == "liblinear"):
        return None
    return "softmax"
