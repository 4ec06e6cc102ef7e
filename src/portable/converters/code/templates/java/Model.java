package portable_model;

/**
 * The generated model. {@link #predict} returns the prediction (values, or class
 * probabilities), {@link #margin} the raw scores before the link. x holds the numeric
 * columns (NaN = missing; string columns ignored), s the string columns (null = missing;
 * s itself may be null when the model reads no strings).
 */
public strictfp final class Model {
    private Model() {}

    public static final String[] FEATURE_NAMES = {{names}};
    public static final String[] OUTPUT_NAMES = {{outs}};
    public static final boolean[] STRING_COLUMNS = {{flags}};
    /** True when outputs are float32 values (widened exactly to double). */
    public static final boolean OUTPUT_FLOAT32 = {{f32}};
    public static final boolean HAS_STRINGS = {{strings}};
    public static final int N_FEATURES = {{n_features}};
    public static final int N_MARGIN = {{n_margin}};
    public static final int N_PREDICTION = {{n_prediction}};

    /** A value the one-hot encoder never saw (fitted with handle_unknown='error'). */
    public static final class UnknownCategoryException extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;
        public final int column;

        UnknownCategoryException(int column, String value) {
            super("unknown category " + value + " in input column "
                  + (column >= 0 ? FEATURE_NAMES[column] : "?"));
            this.column = column;
        }
    }

    static double[] cat(double[] none, double[]... parts) {
        int n = 0, at = 0;
        for (double[] p : parts) n += p.length;
        double[] out = new double[n];
        for (double[] p : parts) { System.arraycopy(p, 0, out, at, p.length); at += p.length; }
        return out;
    }

    static float[] cat(float[] none, float[]... parts) {
        int n = 0, at = 0;
        for (float[] p : parts) n += p.length;
        float[] out = new float[n];
        for (float[] p : parts) { System.arraycopy(p, 0, out, at, p.length); at += p.length; }
        return out;
    }

    static boolean[] cat(boolean[] none, boolean[]... parts) {
        int n = 0, at = 0;
        for (boolean[] p : parts) n += p.length;
        boolean[] out = new boolean[n];
        for (boolean[] p : parts) { System.arraycopy(p, 0, out, at, p.length); at += p.length; }
        return out;
    }

    static String[] cat(String[] none, String[]... parts) {
        int n = 0, at = 0;
        for (String[] p : parts) n += p.length;
        String[] out = new String[n];
        for (String[] p : parts) { System.arraycopy(p, 0, out, at, p.length); at += p.length; }
        return out;
    }

{{prepare}}
{{body}}

    /** Raw scores before the link (float32 models: float32 values, widened exactly). */
    public static double[] margin(double[] x, String[] s) {
        if (x.length != N_FEATURES)
            throw new IllegalArgumentException("expected " + N_FEATURES + " features, got " + x.length);
        {{acc_t}}[] a = raw(prepare(x, s));
        double[] m = new double[a.length];
        for (int k = 0; k < a.length; k++) m[k] = a[k];
        return m;
    }

    /** The prediction: values, or class probabilities. */
    public static double[] predict(double[] x, String[] s) {
        double[] m = margin(x, s);
{{link}}
    }
}
