"""Numeric settings given as an argument or through a ``PORTABLE_*`` environment variable."""

from __future__ import annotations

import math
import os

from .errors import InputError


def positive_setting(value, env: str, default, *, name: str, what: str, unit: str,
                     integer: bool = False, error=InputError):
    """``value`` (the argument ``name``) if given, else ``$env`` if set, else ``default``; checked to be a positive
    finite number (an int with ``integer``). ``error`` (an ``InputError`` by default) names
    where the bad value came from, e.g. ``PORTABLE_RUNTIME_TIMEOUT='abc' is not a valid
    engine timeout: give a positive number of seconds.``"""
    where = f"{name}={value!r}"
    if value is None:
        raw = os.environ.get(env, "").strip()
        if not raw:
            return default
        where = f"{env}={raw!r}"
        try:
            value = int(raw) if integer else float(raw)
        except ValueError:
            value = None
    ok = (not isinstance(value, bool) and isinstance(value, int if integer else (int, float))
          and math.isfinite(value) and value > 0)
    if not ok:
        raise error(f"{where} is not a valid {what}: give a positive number of {unit}.")
    return value if integer else float(value)
