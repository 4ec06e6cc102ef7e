package portable_model;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Bag of words over one string column, exactly as portable's reference evaluator (and
 * scikit-learn's Count/TfidfVectorizer in Python) computes it: lowercase as Python's
 * str.lower(), tokens = all matches of the token regex, drop stop words, add word n-grams
 * (tokens joined by one space), count the vocabulary's terms, then binary, sublinear tf
 * (1 + ln count), idf and the l1/l2 norm summed over the nonzero terms in column order.
 *
 * Lowercasing is toLowerCase(Locale.ROOT) except for capital sigma: Java decides final
 * sigma with word boundaries, Python with the Unicode rule (a cased letter before it,
 * skipping case-ignorable characters, and none after it), which {@link #lower} applies.
 * The Unicode tables are the JVM's: characters assigned in a later Unicode version than
 * the JVM knows (Java 17: Unicode 13) are neither letters nor cased here.
 */
public final strictfp class TextVectorizer {
    /** Characters with Word_Break MidLetter, MidNumLet or Single_Quote: case-ignorable
     *  although their general category is not (Unicode's Case_Ignorable definition). */
    private static final int[] MID = {0x27, 0x2E, 0x3A, 0xB7, 0x387, 0x55F, 0x5F4, 0x2018,
        0x2019, 0x2024, 0x2027, 0xFE13, 0xFE52, 0xFE55, 0xFF07, 0xFF0E, 0xFF1A};
    private static final int NORM_NONE = 0, NORM_L1 = 1, NORM_L2 = 2;

    private final Map<String, Integer> vocabulary;
    private final Pattern pattern;
    private final boolean lowercase;
    private final Set<String> stopWords;
    private final int minN, maxN;
    private final boolean binary, sublinear;
    private final double[] idf;
    private final int norm;
    /** Number of terms (output columns). */
    public final int size;

    TextVectorizer(String[] vocabulary, String regex, boolean lowercase, String[] stopWords,
                   int minN, int maxN, boolean binary, boolean sublinear, double[] idf, int norm) {
        this.vocabulary = new HashMap<>(vocabulary.length * 2);
        for (int j = 0; j < vocabulary.length; j++) this.vocabulary.put(vocabulary[j], j);
        // The regex comes from portable's token_regex, respelled for java.util.regex.
        this.pattern = Pattern.compile(regex);
        this.lowercase = lowercase;
        this.stopWords = new HashSet<>(Arrays.asList(stopWords));
        this.minN = minN;
        this.maxN = maxN;
        this.binary = binary;
        this.sublinear = sublinear;
        this.idf = idf;
        this.norm = norm;
        this.size = vocabulary.length;
    }

    // ------------------------------------------------------------------------- lowercase
    /** Python's str.lower(): full Unicode lowercase mappings and the Final_Sigma rule. */
    public static String lower(String s) {
        int at = s.indexOf('\u03a3');
        if (at < 0) return s.toLowerCase(Locale.ROOT);
        StringBuilder b = new StringBuilder(s.length());
        int from = 0;
        while (at >= 0) {
            // No other mapping depends on context in the root locale: the pieces between
            // capital sigmas lowercase on their own.
            b.append(s.substring(from, at).toLowerCase(Locale.ROOT));
            b.append(finalSigma(s, at) ? '\u03c2' : '\u03c3');
            from = at + 1;
            at = s.indexOf('\u03a3', from);
        }
        return b.append(s.substring(from).toLowerCase(Locale.ROOT)).toString();
    }

    /** Unicode's Final_Sigma context, as CPython tests it: a cased letter before (after
     *  skipping case-ignorable characters) and no cased letter after (same skipping). */
    private static boolean finalSigma(String s, int at) {
        int i = at, c = 0;
        boolean found = false;
        while (i > 0) {
            c = s.codePointBefore(i);
            i -= Character.charCount(c);
            if (!caseIgnorable(c)) { found = true; break; }
        }
        if (!found || !cased(c)) return false;
        i = at + 1;
        while (i < s.length()) {
            c = s.codePointAt(i);
            i += Character.charCount(c);
            if (!caseIgnorable(c)) return !cased(c);
        }
        return true;
    }

    private static boolean cased(int c) {
        return Character.isLowerCase(c) || Character.isUpperCase(c) || Character.isTitleCase(c);
    }

    private static boolean caseIgnorable(int c) {
        switch (Character.getType(c)) {
            case Character.NON_SPACING_MARK: case Character.ENCLOSING_MARK: case Character.FORMAT:
            case Character.MODIFIER_LETTER: case Character.MODIFIER_SYMBOL:
                return true;
            default:
                return Arrays.binarySearch(MID, c) >= 0;
        }
    }

    // ------------------------------------------------------------------------- terms
    /** All matches of the token regex in {@code text} (Python's re.findall). */
    public List<String> tokens(String text) {
        List<String> out = new ArrayList<>();
        Matcher m = pattern.matcher(text);
        while (m.find()) out.add(m.group());
        return out;
    }

    /** The terms of one document (null: missing, the empty document): tokens without stop
     *  words, and word n-grams. */
    public List<String> terms(String doc) {
        String text = doc == null ? "" : doc;
        List<String> tokens = tokens(lowercase ? lower(text) : text);
        if (!stopWords.isEmpty()) tokens.removeIf(stopWords::contains);
        List<String> terms = minN == 1 ? new ArrayList<>(tokens) : new ArrayList<>();
        StringBuilder b = new StringBuilder();
        for (int n = Math.max(minN, 2); n <= maxN; n++) {
            for (int i = 0; i + n <= tokens.size(); i++) {
                b.setLength(0);
                for (int k = i; k < i + n; k++) {
                    if (k > i) b.append(' ');
                    b.append(tokens.get(k));
                }
                terms.add(b.toString());
            }
        }
        return terms;
    }

    /** Writes the weights of {@code doc}'s terms into {@code v[at .. at + size)}, which
     *  hold zeros. */
    void bag(String doc, double[] v, int at) {
        int[] cols = new int[8];
        int n = 0;
        for (String term : terms(doc)) {
            Integer j = vocabulary.get(term);
            if (j == null) continue;
            if (v[at + j] == 0.0) {
                if (n == cols.length) cols = Arrays.copyOf(cols, 2 * n);
                cols[n++] = j;
            }
            v[at + j] += 1.0;
        }
        if (n == 0) return;
        Arrays.sort(cols, 0, n);  // the nonzero terms in column order
        for (int k = 0; k < n; k++) {
            int j = cols[k];
            double w = v[at + j];
            if (binary) w = 1.0;
            if (sublinear) w = logCount(w) + 1.0;
            if (idf != null) w = w * idf[j];
            v[at + j] = w;
        }
        if (norm == NORM_NONE) return;
        double acc = 0.0;
        for (int k = 0; k < n; k++) {
            double w = v[at + cols[k]];
            acc += norm == NORM_L2 ? w * w : Math.abs(w);
        }
        double d = norm == NORM_L2 ? Math.sqrt(acc) : acc;
        for (int k = 0; k < n; k++) v[at + cols[k]] /= d;
    }

    // ------------------------------------------------------------------------- log
    /** ln(count) rounded to nearest: what CPython's and numpy's log give for the counts
     *  that occur. Math.log is only within 1 ulp on some JVMs (StrictMath.log, fdlibm,
     *  differs from the correctly rounded value already at 3), so it is computed here. */
    static double logCount(double count) {
        if (count < Small.LN.length) return Small.LN[(int) count];
        return lnExact((long) count);
    }

    /** ln 1 .. ln 255, computed once on first use (class initialisation is thread-safe). */
    private static final class Small {
        static final double[] LN = new double[256];
        static {
            for (int n = 1; n < LN.length; n++) LN[n] = lnExact(n);
        }
    }

    /** ln(n) for an integer n >= 1, correctly rounded: fixed-point series with p fraction
     *  bits and an error bound; more bits while the bound straddles a rounding boundary. */
    static double lnExact(long n) {
        if (n == 1) return 0.0;
        for (int p = 128; ; p *= 2) {
            BigInteger one = BigInteger.ONE.shiftLeft(p);
            int k = 63 - Long.numberOfLeadingZeros(n);  // n = 2^k * x, x in [1, 2)
            BigInteger x = BigInteger.valueOf(n).shiftLeft(p).shiftRight(k);
            BigInteger ln2 = atanh2(one, one.multiply(BigInteger.valueOf(3)), p);
            BigInteger lnx = atanh2(x.subtract(one), x.add(one), p);
            BigInteger sum = ln2.multiply(BigInteger.valueOf(k)).add(lnx);
            BigInteger err = BigInteger.valueOf(1024L * p);
            double lo = Math.scalb(sum.subtract(err).doubleValue(), -p);
            double hi = Math.scalb(sum.add(err).doubleValue(), -p);
            if (lo == hi || p >= 512) return hi;
        }
    }

    /** 2 atanh(a / b) = ln((b + a) / (b - a)) in fixed point (scale 2^p), for 0 <= a/b <= 1/3:
     *  each term is truncated, so the result is low by at most 3 units per term. */
    private static BigInteger atanh2(BigInteger a, BigInteger b, int p) {
        BigInteger z = a.shiftLeft(p).divide(b);
        BigInteger z2 = z.multiply(z).shiftRight(p);
        BigInteger sum = BigInteger.ZERO, term = z;
        for (long i = 1; term.signum() > 0; i += 2) {
            sum = sum.add(term.divide(BigInteger.valueOf(i)));
            term = term.multiply(z2).shiftRight(p);
        }
        return sum.shiftLeft(1);
    }
}
