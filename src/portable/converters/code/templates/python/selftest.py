"""Self-test: golden rows computed by portable's reference evaluator at export time.

    python -m portable_model.selftest

Margins of tree models must match exactly; links within the tolerance stored per value
(float32 links: 4 ULP; float64: 1e-12 relative). Exit status 0 when every value passes.
"""

import sys

from . import predict_batch

_INF = float("inf")
_NAN = float("nan")
INPUTS = {{inputs}}
EXPECTED = {
    "margin": ({{margin}}, {{margin_tol}}),
    "prediction": ({{prediction}}, {{prediction_tol}}),
}


def main():
    bad = 0
    for output, (want, tol) in sorted(EXPECTED.items()):
        got = predict_batch([list(r) for r in INPUTS], output)
        for i, (g_row, w_row, t_row) in enumerate(zip(got, want, tol)):
            for k, (g, w, t) in enumerate(zip(g_row, w_row, t_row)):
                if not (g == w or (g != g and w != w) or abs(g - w) <= t):
                    sys.stderr.write("%s row %d value %d: got %r, expected %r\n"
                                     % (output, i, k, g, w))
                    bad += 1
    if bad:
        sys.stderr.write("selftest: %d values differ\n" % bad)
        return 1
    print("selftest: %d golden rows OK" % len(INPUTS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
