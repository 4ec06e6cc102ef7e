"""CSV rows in and predictions out, shared by the CLI and the server."""

from __future__ import annotations

import csv
import io
import sys

import numpy as np

from .errors import InputError
from .ir import Signature


def parse_csv(text: str, sig: Signature) -> np.ndarray:
    """Parse CSV text into rows for ``sig``; a first row equal to the feature names is a header.

    Empty cells are missing values. Errors name the row and column.
    """
    reader = csv.reader(io.StringIO(text))
    rows = [r for r in reader if r and any(c.strip() for c in r)]
    if rows and [c.strip() for c in rows[0]] == list(sig.feature_names):
        rows = rows[1:]
    n = sig.n_features
    out = np.empty((len(rows), n), dtype=object if sig.has_strings else np.float64)
    for i, r in enumerate(rows):
        if len(r) != n:
            raise InputError(f"CSV row {i + 1} has {len(r)} columns; the model expects {n}.")
        for j, (cell, t) in enumerate(zip(r, sig.feature_types)):
            cell = cell.strip()
            if t == "string":
                out[i, j] = cell
                continue
            if cell == "" or cell.lower() in ("nan", "na", "null"):
                out[i, j] = np.nan
                continue
            try:
                out[i, j] = float(cell)
            except ValueError:
                raise InputError(f"CSV row {i + 1}, column {j + 1} ({sig.feature_names[j]!r}): "
                                 f"{cell[:40]!r} is not a number.") from None
    return out


def read_rows(path: str, sig: Signature) -> np.ndarray:
    if path == "-":
        return parse_csv(sys.stdin.read(), sig)
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            return parse_csv(fh.read(), sig)
    except FileNotFoundError:
        raise InputError(f"No such input file: {path!r}.") from None
    except UnicodeDecodeError:
        raise InputError(f"{path!r} is not UTF-8 text; pass a CSV file.") from None


def format_rows(Y: np.ndarray) -> list[list[str]]:
    """Shortest round-trip text for each value (float32 outputs printed as float32)."""
    if Y.dtype == np.float32:
        return [[str(v) for v in row] for row in Y]  # numpy prints float32 shortest-unique
    return [[repr(float(v)) for v in row] for row in Y]


def write_rows(path: str, names: list[str], Y: np.ndarray) -> None:
    fh = sys.stdout if path == "-" else open(path, "w", newline="", encoding="utf-8")
    try:
        w = csv.writer(fh)
        w.writerow(names)
        w.writerows(format_rows(np.asarray(Y)))
    finally:
        if fh is not sys.stdout:
            fh.close()
