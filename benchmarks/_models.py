"""The model the ONNX and serving benchmarks share (imported by the standalone scripts)."""

from __future__ import annotations

import numpy as np


def xgb_regressor(trees: int, depth: int):
    """An XGBRegressor on 5,000 seeded rows of 20 features (a nonlinear target with noise).

    Returns ``(estimator, X_train, rng)``; ``rng`` continues the same seeded stream, for
    held-out rows that are the same in every run.
    """
    import xgboost as xgb

    rng = np.random.default_rng(0)
    X = rng.normal(size=(5000, 20)).astype(np.float32)
    y = X[:, 0] * 2 + np.sin(X[:, 1] * 3) + X[:, 2] * X[:, 3] + rng.normal(size=5000) * 0.1
    est = xgb.XGBRegressor(n_estimators=trees, max_depth=depth, learning_rate=0.05,
                           tree_method="hist", n_jobs=2, random_state=0).fit(X, y)
    return est, X, rng
