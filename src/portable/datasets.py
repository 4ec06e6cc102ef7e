"""Small datasets made on the spot (no downloads): the seed's house-price regression."""

from __future__ import annotations

import numpy as np

HOUSE_FEATURES = ("sqft_living", "bedrooms", "bathrooms", "age_years", "lot_acres",
                  "dist_city_km", "school_score", "has_garage")


def house_prices(n: int = 5000, *, seed: int = 0, missing: float = 0.0):
    """A synthetic house-price table in the spirit of the seed's Boston/California walkthrough.

    Returns ``(X, y, feature_names)`` with X float64 (n, 8) and y in thousands of dollars.
    ``missing`` sets that fraction of cells (except sqft) to NaN.
    """
    rng = np.random.default_rng(seed)
    sqft = rng.lognormal(7.4, 0.35, n).round()
    bedrooms = np.clip(np.round(sqft / 600 + rng.normal(0, 0.8, n)), 1, 8)
    bathrooms = np.clip(np.round(bedrooms * 0.6 + rng.normal(0, 0.5, n)) / 1.0, 1, 6)
    age = rng.integers(0, 120, n).astype(float)
    lot = np.round(rng.gamma(2.0, 0.15, n), 3)
    dist = np.round(rng.gamma(2.5, 6.0, n), 1)
    school = np.round(np.clip(rng.normal(6.5, 1.8, n), 1, 10), 1)
    garage = (rng.random(n) < 0.7).astype(float)
    price = (0.16 * sqft + 12 * bathrooms + 4 * bedrooms - 0.45 * age + 40 * lot
             - 3.2 * dist + 14 * school + 18 * garage + 60)
    price *= np.exp(rng.normal(0, 0.08, n))
    X = np.column_stack([sqft, bedrooms, bathrooms, age, lot, dist, school, garage])
    if missing:
        mask = rng.random(X.shape) < missing
        mask[:, 0] = False
        X[mask] = np.nan
    return X, np.round(price, 2), list(HOUSE_FEATURES)
