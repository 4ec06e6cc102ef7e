package portable_model;

/**
 * Self-test: golden rows computed by portable's reference evaluator at export time. Margins
 * of tree models must match exactly; links within the tolerance stored per value (float32
 * links: 4 ULP; float64: 1e-12 relative). Exit status 0 when every value passes.
 */
public final class SelfTest {
    private SelfTest() {}

    static final double NaN = Double.NaN;
    static final double[][] X = {{inputs}};
    static final String[][] S = {{strings}};
    static final double[][] MARGIN = {{margin}};
    static final double[][] MARGIN_TOL = {{margin_tol}};
    static final double[][] PRED = {{prediction}};
    static final double[][] PRED_TOL = {{prediction_tol}};

    static int check(String what, double[] got, double[] want, double[] tol, int row) {
        int bad = 0;
        for (int k = 0; k < want.length; k++) {
            boolean ok = got[k] == want[k] || (Double.isNaN(got[k]) && Double.isNaN(want[k]))
                || Math.abs(got[k] - want[k]) <= tol[k];
            if (!ok) {
                System.err.println(what + " row " + row + " value " + k + ": got " + got[k] + ", expected " + want[k]);
                bad++;
            }
        }
        return bad;
    }

    public static void main(String[] args) {
        int bad = 0;
        for (int r = 0; r < X.length; r++) {
            bad += check("margin", Model.margin(X[r], S[r]), MARGIN[r], MARGIN_TOL[r], r);
            bad += check("prediction", Model.predict(X[r], S[r]), PRED[r], PRED_TOL[r], r);
        }
        if (bad > 0) {
            System.err.println("selftest: " + bad + " values differ");
            System.exit(1);
        }
        System.out.println("selftest: " + X.length + " golden rows OK");
    }
}
