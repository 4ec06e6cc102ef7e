"""float32 boundaries of float64 thresholds, shared by probes and converters.

scikit-learn compares ``(float)x <= t`` with a float64 ``t``; an engine that compares in
float32 gets the same decisions with ``x <= f32_floor(t)`` (and ``x < t`` with
``x < f32_ceil(t)``), because no float32 lies strictly between ``f32_floor(t)`` and ``t``.
"""

from __future__ import annotations

import numpy as np

_F32 = np.float32


def f32_floor(t: float) -> np.float32:
    """The largest float32 <= t: for a float32 x, ``x <= t`` iff ``x <= f32_floor(t)``."""
    v = _F32(t)
    return v if float(v) <= t else np.nextafter(v, _F32(-np.inf))


def f32_ceil(t: float) -> np.float32:
    """The smallest float32 >= t: for a float32 x, ``x < t`` iff ``x < f32_ceil(t)``."""
    v = _F32(t)
    return v if float(v) >= t else np.nextafter(v, _F32(np.inf))
