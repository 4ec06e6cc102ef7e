package portable_model;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Command-line stub: CSV rows on stdin, one prediction row per line on stdout.
 *
 * <pre>java -cp build portable_model.Main [--margin] &lt; rows.csv</pre>
 *
 * A first row equal to the feature names is a header and is skipped. Numeric cells that
 * are empty, nan, na or null are missing values; quoted cells follow RFC 4180; cells are
 * trimmed. Float32 models print Float.toString, float64 models Double.toString (both read
 * back to the same number). Exit status: 0 ok, 2 bad input. Empty lines are skipped, and
 * so are blank ones when the model has more than one column (",," is a row of missing
 * values; a one-column model reads a blank line or "" as an empty value).
 */
public final class Main {
    private Main() {}

    /** Splits one CSV record (quoted cells may span lines); null at end of input. */
    static List<String> readRecord(BufferedReader in) throws IOException {
        String line = in.readLine();
        if (line == null) return null;
        List<String> cells = new ArrayList<>();
        if (line.isEmpty()) return cells;  // an empty line: no record
        StringBuilder cell = new StringBuilder();
        boolean quoted = false;
        for (;;) {
            for (int i = 0; i < line.length(); i++) {
                char c = line.charAt(i);
                if (quoted) {
                    if (c == '"') {
                        if (i + 1 < line.length() && line.charAt(i + 1) == '"') { cell.append('"'); i++; }
                        else quoted = false;
                    } else cell.append(c);
                } else if (c == '"') quoted = true;
                else if (c == ',') { cells.add(cell.toString().strip()); cell.setLength(0); }
                else cell.append(c);
            }
            if (!quoted) break;
            String more = in.readLine();
            if (more == null) break;
            cell.append('\n');
            line = more;
        }
        cells.add(cell.toString().strip());
        return cells;
    }

    static boolean missing(String s) {
        String t = s.toLowerCase(java.util.Locale.ROOT);
        return t.isEmpty() || t.equals("nan") || t.equals("na") || t.equals("null");
    }

    public static void main(String[] args) throws IOException {
        boolean margin = args.length == 1 && args[0].equals("--margin");
        if (args.length > 1 || (args.length == 1 && !margin)) {
            System.err.println("usage: java -cp build portable_model.Main [--margin] < rows.csv");
            System.exit(2);
        }
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), false, "UTF-8");
        boolean first = true;
        long row = 0;
        List<String> cells;
        while ((cells = readRecord(in)) != null) {
            // An empty line, or a blank one where a row needs several cells, is no record.
            if (cells.isEmpty() || (Model.N_FEATURES > 1 && cells.size() == 1 && cells.get(0).isEmpty())) continue;
            row++;
            if (first && cells.equals(java.util.Arrays.asList(Model.FEATURE_NAMES))) { first = false; continue; }
            first = false;
            if (cells.size() != Model.N_FEATURES) fail("row " + row + ": wrong number of columns");
            double[] x = new double[Model.N_FEATURES];
            String[] s = new String[Model.N_FEATURES];
            for (int j = 0; j < Model.N_FEATURES; j++) {
                String c = cells.get(j);
                if (Model.STRING_COLUMNS[j]) { s[j] = c; continue; }
                if (missing(c)) { x[j] = Double.NaN; continue; }
                try { x[j] = Double.parseDouble(c); }
                catch (NumberFormatException e) { fail("row " + row + ", column " + (j + 1) + ": not a number"); }
            }
            double[] y;
            try { y = margin ? Model.margin(x, s) : Model.predict(x, s); }
            catch (Model.UnknownCategoryException e) { fail("row " + row + ": " + e.getMessage()); return; }
            StringBuilder b = new StringBuilder();
            for (int k = 0; k < y.length; k++) {
                if (k > 0) b.append(',');
                b.append(Model.OUTPUT_FLOAT32 ? Float.toString((float) y[k]) : Double.toString(y[k]));
            }
            out.println(b);
        }
        out.flush();
    }

    private static void fail(String msg) {
        System.err.println("error: " + msg);
        System.exit(2);
    }
}
