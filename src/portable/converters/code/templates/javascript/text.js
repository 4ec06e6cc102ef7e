// ----------------------------------------------------------------------------- text
/**
 * Bag of words over one string column, exactly as portable's reference evaluator (and
 * scikit-learn's Count/TfidfVectorizer in Python) computes it: lowercase (toLowerCase is
 * Python's str.lower(): full mappings and the Final_Sigma rule), tokens = all matches of the
 * token regex (Unicode mode), drop stop words, add word n-grams (tokens joined by one space),
 * count the vocabulary's terms, then binary, sublinear tf (1 + ln count), idf and the l1/l2
 * norm summed over the nonzero terms in column order.
 */
export class TextVectorizer {
  constructor(vocabulary, regex, lowercase, stopWords, minN, maxN, binary, sublinear, idf, norm) {
    this.vocabulary = new Map(vocabulary.map((t, j) => [t, j]));
    this.pattern = new RegExp(regex, "gu");
    this.lowercase = lowercase;
    this.stopWords = new Set(stopWords);
    this.minN = minN;
    this.maxN = maxN;
    this.binary = binary;
    this.sublinear = sublinear;
    this.idf = idf;
    this.norm = norm;
    this.size = vocabulary.length;
  }

  /** Python's str.lower(). */
  static lower(s) {
    return s.toLowerCase();
  }

  /** All matches of the token regex in `text` (Python's re.findall). */
  tokens(text) {
    return Array.from(text.matchAll(this.pattern), (m) => m[0]);
  }

  /** The terms of one document (null: missing, the empty document): tokens without stop
   *  words, and word n-grams. */
  terms(doc) {
    const text = doc == null ? "" : String(doc);
    let tokens = this.tokens(this.lowercase ? TextVectorizer.lower(text) : text);
    if (this.stopWords.size) tokens = tokens.filter((t) => !this.stopWords.has(t));
    const terms = this.minN === 1 ? tokens.slice() : [];
    for (let n = Math.max(this.minN, 2); n <= this.maxN; n++) {
      for (let i = 0; i + n <= tokens.length; i++) terms.push(tokens.slice(i, i + n).join(" "));
    }
    return terms;
  }

  /** Writes the weights of `doc`'s terms into v[at .. at + size), which hold zeros. */
  bag(doc, v, at) {
    const cols = [];
    for (const term of this.terms(doc)) {
      const j = this.vocabulary.get(term);
      if (j === undefined) continue;
      if (v[at + j] === 0) cols.push(j);
      v[at + j] += 1;
    }
    if (!cols.length) return;
    cols.sort((a, b) => a - b); // the nonzero terms in column order
    for (const j of cols) {
      let w = v[at + j];
      if (this.binary) w = 1;
      if (this.sublinear) w = logCount(w) + 1;
      if (this.idf !== null) w = w * this.idf[j];
      v[at + j] = w;
    }
    if (this.norm === 0) return;
    let acc = 0;
    for (const j of cols) {
      const w = v[at + j];
      acc += this.norm === 2 ? w * w : Math.abs(w);
    }
    const d = this.norm === 2 ? Math.sqrt(acc) : acc;
    for (const j of cols) v[at + j] /= d;
  }
}

/**
 * ln(count) rounded to nearest: what CPython's and numpy's log give for the counts that
 * occur. Math.log is not correctly rounded in every engine (V8's is 1 ulp off already at
 * 3), so it is computed here with BigInt fixed point, once per distinct count.
 */
const LN_CACHE = new Map();
function logCount(count) {
  let v = LN_CACHE.get(count);
  if (v === undefined) {
    v = lnExact(BigInt(count));
    if (LN_CACHE.size < 4096) LN_CACHE.set(count, v);
  }
  return v;
}

/** ln(n) for an integer n >= 1, correctly rounded: a fixed-point series with p fraction bits
 *  and an error bound; more bits while the bound straddles a rounding boundary. */
function lnExact(n) {
  if (n === 1n) return 0;
  const k = BigInt(n.toString(2).length - 1); // n = 2^k x, x in [1, 2)
  for (let p = 128n; ; p *= 2n) {
    const one = 1n << p;
    const x = (n << p) >> k;
    const sum = k * atanh2(one, 3n * one, p) + atanh2(x - one, x + one, p);
    const err = 1024n * p;
    const scale = 2 ** Number(p);
    const lo = Number(sum - err) / scale, hi = Number(sum + err) / scale;
    if (lo === hi || p >= 512n) return hi;
  }
}

/** 2 atanh(a / b) = ln((b + a) / (b - a)) in fixed point (scale 2^p), for 0 <= a/b <= 1/3:
 *  each term is truncated, so the result is low by at most 3 units per term. */
function atanh2(a, b, p) {
  const z = (a << p) / b;
  const z2 = (z * z) >> p;
  let sum = 0n, term = z;
  for (let i = 1n; term > 0n; i += 2n) {
    sum += term / i;
    term = (term * z2) >> p;
  }
  return 2n * sum;
}
