"""Command-line stub: CSV rows on stdin, one prediction row per line on stdout.

    python -m portable_model [--margin] < rows.csv

A first row equal to the feature names is a header and is skipped. Numeric cells that are
empty, nan, na or null are missing values; cells are trimmed of surrounding blanks.
Empty lines are skipped, and so are blank ones when the model has more than one column
(",," is a row of missing values; a one-column model reads a blank line or "" as an empty
value).
Float32 models print the shortest text that reads back as the same float32; float64 models
print repr(). Exit status: 0 ok, 2 bad input.
"""

import csv
import sys
from array import array

from . import FEATURE_NAMES, OUTPUT_FLOAT32, STRING_COLUMNS, UnknownCategory, predict_batch

_MISSING = ("", "nan", "na", "null")


def _f32_text(v):
    """Shortest decimal that reads back as the float32 ``v`` (v holds a float32 value)."""
    if v != v or v in (float("inf"), float("-inf")):
        return repr(v)
    for digits in range(6, 10):
        s = "%.*g" % (digits, v)
        if array("f", [float(s)])[0] == v:
            return s
    return repr(v)


def _parse(cells, line):
    if len(cells) != len(FEATURE_NAMES):
        raise ValueError("row %d has %d columns; the model expects %d"
                         % (line, len(cells), len(FEATURE_NAMES)))
    row = []
    for j, cell in enumerate(cells):
        cell = cell.strip()
        if STRING_COLUMNS[j]:
            row.append(cell)
        elif cell.lower() in _MISSING:
            row.append(float("nan"))
        else:
            try:
                row.append(float(cell))
            except ValueError:
                raise ValueError("row %d, column %d (%r): %r is not a number"
                                 % (line, j + 1, FEATURE_NAMES[j], cell[:40])) from None
    return row


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    if args not in ([], ["--margin"]):
        sys.stderr.write("usage: python -m portable_model [--margin] < rows.csv\n")
        return 2
    output = "margin" if args else "prediction"
    fmt = _f32_text if OUTPUT_FLOAT32 else repr
    rows, first = [], True
    for line, cells in enumerate(csv.reader(sys.stdin), 1):
        if not cells or (len(FEATURE_NAMES) > 1 and len(cells) == 1 and not cells[0].strip()):
            continue  # an empty line, or a blank one where a row needs several cells
        if first and [c.strip() for c in cells] == list(FEATURE_NAMES):
            first = False
            continue
        first = False
        try:
            rows.append(_parse(cells, line))
        except ValueError as e:
            sys.stderr.write("error: %s\n" % e)
            return 2
    try:
        out = predict_batch(rows, output)
    except UnknownCategory as e:
        sys.stderr.write("error: %s\n" % e)
        return 2
    w = sys.stdout.write
    for values in out:
        w(",".join(fmt(v) for v in values) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
