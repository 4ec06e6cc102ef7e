# ---------------------------------------------------------------------------- shared code

class UnknownCategory(ValueError):
    """A value the one-hot encoder never saw (it was fitted with handle_unknown='error')."""

    def __init__(self, column, value):
        ValueError.__init__(self, "unknown category %r in input column %r"
                            % (value, FEATURE_NAMES[column] if column >= 0 else "?"))
        self.column, self.value, self.row = column, value, None


def _exp(x):
    try:
        return math.exp(x)
    except OverflowError:
        return _INF


def predict_batch(rows, output="prediction"):
    """Predict many rows; returns one list of floats per row.

    ``rows``: sequences of FEATURE_NAMES values: floats (NaN for missing) for numeric
    columns, str (None for missing) for string columns. ``output``: "prediction" or
    "margin" (raw scores before the link).
    """
    if output not in ("prediction", "margin"):
        raise ValueError("output must be 'prediction' or 'margin', not %r" % (output,))
    # float32 rounding: storing a double into a float32 slot rounds it to nearest-even.
    b = memoryview(bytearray(4)).cast("f")
    out = []
    append = out.append
    link = None if output == "margin" else _link
    for i, x in enumerate(rows):
        try:
            m = _margin(x, b)
        except UnknownCategory as e:
            e.row = i
            raise
        append(m if link is None else link(m, b))
    return out


def predict(row, output="prediction"):
    """Predict one row (see predict_batch)."""
    return predict_batch([row], output)[0]
