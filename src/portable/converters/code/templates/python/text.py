

def _bag(doc, spec):
    """Term weights of one document, as scikit-learn's Count/TfidfVectorizer computes them
    (and portable.ir.evaluate): regex tokens, stop words, n-grams, counts, then binary,
    sublinear tf, idf and the l1/l2 norm over the nonzero terms in column order."""
    vocab, pattern, lowercase, stop, lo, hi, binary, sublinear, idf, norm = spec
    if doc is None or (isinstance(doc, float) and doc != doc):
        doc = ""
    text = str(doc)
    if lowercase:
        text = text.lower()
    tokens = pattern.findall(text)
    if stop:
        tokens = [t for t in tokens if t not in stop]
    terms = list(tokens) if lo == 1 else []
    for n in range(max(lo, 2), hi + 1):
        terms.extend(" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
    out = [0.0] * len(vocab)
    for term in terms:
        j = vocab.get(term)
        if j is not None:
            out[j] += 1.0
    if binary:
        out = [1.0 if v != 0 else 0.0 for v in out]
    if sublinear:
        out = [math.log(v) + 1.0 if v != 0 else v for v in out]
    if idf is not None:
        out = [v * w for v, w in zip(out, idf)]
    if norm is not None:
        nonzero = [j for j, v in enumerate(out) if v != 0]
        if nonzero:
            acc = 0.0
            for j in nonzero:
                acc += out[j] * out[j] if norm == "l2" else abs(out[j])
            d = math.sqrt(acc) if norm == "l2" else acc
            for j in nonzero:
                out[j] /= d
    return out
