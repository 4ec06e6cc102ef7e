"""Linear models: ``margin = x @ coef.T + intercept`` in float64, then a link."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .tree import PostTransform


@dataclass(frozen=True, eq=False)
class LinearModel:
    """A (generalised) linear model computed in float64, as scikit-learn does.

    Attributes
    ----------
    coef : float64 array (n_outputs, n_features)
    intercept : float64 array (n_outputs,)
    post_transform : "identity", "logistic", "softmax" or "exp"
        ``identity`` for regressors and for classifiers whose prediction is a decision
        score (LinearSVC, SGDClassifier with hinge loss, ...).
    """

    coef: np.ndarray
    intercept: np.ndarray
    post_transform: PostTransform = "identity"
    kind: str = field(default="linear", init=False)

    @property
    def n_features(self) -> int:
        return int(self.coef.shape[1])

    @property
    def n_outputs(self) -> int:
        return int(self.coef.shape[0])
