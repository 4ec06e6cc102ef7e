"""Text pipelines (Count/TfidfVectorizer) in the generated Java and JavaScript code (and
Python): the same tokens, terms and weights as ``portable.ir.evaluate``, bit for bit.

* Real scikit-learn pipelines over a corpus with punctuation, digits, underscores, capitals,
  accents, Greek (final sigma), Cyrillic, CJK, emoji, a mathematical bold letter, empty and
  missing documents: exported (with the export's own parity check), loaded, and compared
  with the reference (margins to 0 ULP; linear margins against the reference features
  summed in the generated code's order, since numpy's BLAS sums in its own) and with
  scikit-learn (0 label flips).
* The text weights themselves, read straight from the generated ``TextVectorizer`` by a
  small probe program, against the reference transform (0 ULP), including sublinear tf at
  counts up to 9,000 (where every engine's ``ln`` must round as CPython's does).
* Every code point, one batch per language: the engine's lowercasing (alone and in five
  final-sigma contexts), its tokens with and without lowercasing, against Python. Where they
  differ, the engine's Unicode version must be why: the code point's general category must
  differ between the engine and this Python's ``unicodedata``.
* Each generated project's own self-test and CLI stub with text rows.
"""

from __future__ import annotations

import os
import re
import subprocess
import unicodedata
from pathlib import Path

import numpy as np
import pytest

import portable
from portable.errors import UnsupportedFeatureError
from portable.ir.evaluate import apply_transform, tokenize
from portable.parity import ulp_distance

from test_native_exactness import _linear_bound, _within
from test_native_projects import BUILD, CLI, _csv, _need

xgb = pytest.importorskip("xgboost")
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

LANGS = ("java", "javascript", "python")
ENGINES = ("java", "javascript")
STOP = ["the", "a", "not", "и", "σοφία"]

WORDS = ("good GREAT Bad awful movie Plot café naïve ÉCOLE Straße İstanbul ǅemal ΟΔΥΣΣΕΥΣ "
         "σοφία ΣΟΦΟΣ Σ ΑΣ Привет МИР и 中文 字符 東京 test_1 x2 2024 __init__ 😀 🚀 𝐀𝐁𝐂 𝐀 "
         "don't l'été e-mail #tag $5.00 a I the not … ½ ١٢٣ a&b\r1 q[x\u20282 z\x855 "
         "k\n7 m.4").split(" ")
SEPS = [" ", "  ", ", ", ". ", "! ", "?", " - ", "\t", "\n", "/", "", "Σ"]
POSITIVE = ("good", "great", "café", "σοφία", "😀", "東京", "𝐀")


def _corpus(n=400, seed=0):
    rng = np.random.default_rng(seed)
    docs = []
    for _ in range(n):
        k = int(rng.integers(1, 12))
        parts = []
        for _ in range(k):
            parts += [str(rng.choice(WORDS)), str(rng.choice(SEPS))]
        docs.append("".join(parts))
    y = np.array([any(w in d.lower() for w in POSITIVE) ^ (rng.random() < 0.1) for d in docs],
                 dtype=int)
    return docs, y


DOCS, Y = _corpus()
# Repeated terms: sublinear tf takes ln of these counts (the vocabulary holds "good").
REPEATS = [" ".join(["good"] * n) for n in [*range(1, 41), 100, 255, 256, 257, 1000, 9000]]
EXTRA = ["", "   ", "ΣΣ Σ. ΑΣ'Σ ΑΣ\u0301 σοφίαΣ", "GOOD good Good gOOD", "unseen words only",
         "𝐀𝐀𝐀 😀😀", "test_1 test_1 __init__", "a&b\r1 z\x855 q[x\u20282 k\n7"]
EVAL_DOCS = DOCS[:150] + EXTRA + REPEATS + [None, float("nan")]


def _x(docs) -> np.ndarray:
    return np.array([[d] for d in docs], dtype=object)


def _sk_docs(docs) -> list[str]:
    return ["" if d is None or (isinstance(d, float) and d != d) else d for d in docs]


LR = dict(max_iter=3000)
PIPELINES = {
    "count-default": lambda: make_pipeline(CountVectorizer(), LogisticRegression(**LR)),
    "count-word-bigrams-stop-binary": lambda: make_pipeline(
        CountVectorizer(token_pattern=r"\b\w+\b", ngram_range=(1, 2), stop_words=STOP,
                        binary=True), LogisticRegression(**LR)),
    "tfidf-l2-sublinear-bigrams-stop": lambda: make_pipeline(
        TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), stop_words=STOP),
        LogisticRegression(**LR)),
    "tfidf-l1-word": lambda: make_pipeline(
        TfidfVectorizer(norm="l1", token_pattern=r"\b\w+\b"), LogisticRegression(**LR)),
    "tfidf-none-cased-sublinear": lambda: make_pipeline(
        TfidfVectorizer(norm=None, lowercase=False, sublinear_tf=True), LogisticRegression(**LR)),
    # A plain ASCII pattern: '.' (matches \r, \x85, U+2028 in Python, not in Java/JavaScript
    # by default) and a class holding '&' and '[' (Java syntax inside classes).
    "count-ascii-dot-class": lambda: make_pipeline(
        CountVectorizer(token_pattern=r"[a-z&[]+.[0-9]"), LogisticRegression(**LR)),
    "tfidf-xgb": lambda: make_pipeline(
        TfidfVectorizer(token_pattern=r"\b\w+\b", sublinear_tf=True, ngram_range=(1, 2)),
        xgb.XGBClassifier(n_estimators=30, max_depth=4, random_state=0)),
}


def _fitted(name, _cache={}):
    if name not in _cache:
        _cache[name] = PIPELINES[name]().fit(DOCS, Y)
    return _cache[name]


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    """(pipeline, language) -> (exported artifact, open session); closed at the end."""
    made = {}

    def get(name, lang):
        _need(lang)
        if (name, lang) not in made:
            out = tmp_path_factory.mktemp(f"{name}-{lang}") / "a"
            art = portable.export(_fitted(name), format=lang, out_dir=out)
            made[(name, lang)] = (art, portable.load(out))
        return made[(name, lang)]
    yield get
    for _, s in made.values():
        s.close()


def _sequential_margin(m, X) -> np.ndarray:
    """The linear margin the generated code computes: the reference features, summed term by
    term in column order, then the intercept (each step one IEEE operation, as numpy's
    elementwise ufuncs are)."""
    Z = X
    for step in m.transforms:
        Z = apply_transform(step, Z)
    Z = np.asarray(Z, np.float64)
    W, b = np.asarray(m.estimator.coef, np.float64), np.asarray(m.estimator.intercept, np.float64)
    s = np.zeros((Z.shape[0], W.shape[0]))
    for j in range(Z.shape[1]):
        s = s + W[:, j] * Z[:, j:j + 1]
    return s + b


# ----------------------------------------------------------------------------- pipelines
@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", list(PIPELINES))
def test_text_pipeline_matches_the_reference_bit_for_bit_and_sklearn_labels(artifacts, name, lang):
    art, session = artifacts(name, lang)
    parity = art.manifest["parity"]
    assert parity["checked"] and parity["prediction"]["label_flips"] == 0, parity
    pipe = _fitted(name)
    m = portable.import_model(pipe)
    assert m.steps[0].kind == "text"
    X = _x(EVAL_DOCS)
    ref_m = portable.evaluate(m, X, output="margin")
    got_m = session.predict(X, output="margin")
    ref_p = portable.evaluate(m, X)
    got_p = session.predict(X)
    assert got_m.shape == ref_m.shape and got_p.shape == ref_p.shape
    if m.estimator.kind == "linear":
        assert ulp_distance(_sequential_margin(m, X), got_m).max() == 0
        bound = _linear_bound(m, X)
        assert _within(got_m, ref_m, bound)
        assert _within(got_p, ref_p, np.maximum(1.0, np.abs(ref_p)) * bound.max(axis=1, keepdims=True)
                       + 1e-12 * np.abs(ref_p))
    else:
        assert [s.kind for s in m.steps] == ["text", "zero_as_missing", "tree_ensemble"]
        assert ulp_distance(ref_m, got_m, np.float32).max() == 0
        assert ulp_distance(ref_p, got_p, np.float32).max() <= 4
    sk = pipe.predict(_sk_docs(EVAL_DOCS))
    assert np.array_equal(pipe.classes_[np.argmax(got_p, axis=1)], sk)


@pytest.mark.parametrize("lang", ENGINES)
def test_vocabularies_and_stop_lists_longer_than_one_java_holder_class(tmp_path, lang):
    _need(lang)
    rng = np.random.default_rng(1)
    words = [f"w{i:04d}\u00e9" for i in range(5000)]
    docs = [" ".join(rng.choice(words, 30)) for _ in range(600)]
    pipe = make_pipeline(TfidfVectorizer(stop_words=words[:2100], sublinear_tf=True),
                         LogisticRegression(max_iter=200)).fit(docs, rng.integers(0, 2, 600))
    m = portable.import_model(pipe)
    assert len(m.transforms[0].vocabulary) > 2000 and len(m.transforms[0].stop_words) > 2000
    portable.export(pipe, format=lang, out_dir=tmp_path / "a")
    X = _x(docs[:100] + ["w0001\u00e9 " * 3 + "W4999\u00c9", None])
    s = portable.load(tmp_path / "a")
    try:
        got = s.predict(X, output="margin")
    finally:
        s.close()
    assert ulp_distance(_sequential_margin(m, X), got).max() == 0


# ----------------------------------------------------------------------------- probe programs
JAVA_PROBE = r"""
package portable_model;

import java.io.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;

public final class TextProbe {
    static final String[] CATS = {"Cn", "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Me", "Mc", "Nd",
        "Nl", "No", "Zs", "Zl", "Zp", "Cc", "Cf", "??", "Co", "Cs", "Pd", "Ps", "Pe", "Pc", "Po",
        "Sm", "Sc", "Sk", "So", "Pi", "Pf"};

    static final char[] DIGITS = "0123456789abcdef".toCharArray();

    static String hex(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        char[] o = new char[2 * b.length];
        for (int i = 0; i < b.length; i++) {
            o[2 * i] = DIGITS[(b[i] >> 4) & 15];
            o[2 * i + 1] = DIGITS[b[i] & 15];
        }
        return new String(o);
    }

    static String unhex(String h) {
        byte[] b = new byte[h.length() / 2];
        for (int i = 0; i < b.length; i++) b[i] = (byte) Integer.parseInt(h.substring(2 * i, 2 * i + 2), 16);
        return new String(b, StandardCharsets.UTF_8);
    }

    static String join(List<String> items) {
        StringBuilder o = new StringBuilder();
        for (String t : items) { if (o.length() > 0) o.append(','); o.append(hex(t)); }
        return o.toString();
    }

    public static void main(String[] args) throws Exception {
        List<TextVectorizer> tv = new ArrayList<>();
        for (int k = 0; ; k++) {
            try {
                tv.add((TextVectorizer) Class.forName(String.format("portable_model.Text%03d", k))
                       .getDeclaredField("T").get(null));
            } catch (ClassNotFoundException e) { break; }
        }
        String template = "";
        try (BufferedReader in = Files.newBufferedReader(Paths.get(args[0]), StandardCharsets.UTF_8);
             BufferedWriter out = Files.newBufferedWriter(Paths.get(args[1]), StandardCharsets.UTF_8)) {
            String line;
            while ((line = in.readLine()) != null) {
                String[] f = line.split(" ", -1);
                if (f[0].equals("T")) { template = unhex(f[1]); continue; }
                TextVectorizer t = tv.get(Integer.parseInt(f[1]));
                if (f[0].equals("B")) {
                    double[] v = new double[t.size];
                    t.bag(f[2].equals("-") ? null : unhex(f[2]), v, 0);
                    StringBuilder o = new StringBuilder();
                    for (int j = 0; j < v.length; j++) {
                        if (v[j] == 0.0) continue;
                        if (o.length() > 0) o.append(',');
                        o.append(j).append(':').append(Long.toHexString(Double.doubleToRawLongBits(v[j])));
                    }
                    out.write(o.toString());
                } else {
                    int cp = Integer.parseInt(f[2], 16);
                    String x = new String(Character.toChars(cp));
                    out.write(CATS[Character.getType(cp)] + "|" + hex(TextVectorizer.lower(template.replace("@", x)))
                              + "|" + join(t.terms(x)) + "|" + join(t.tokens(x)));
                }
                out.write('\n');
            }
        }
    }
}
"""

NODE_PROBE = r"""
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [model, input, output] = process.argv.slice(2);
const { TEXT_VECTORIZERS, TextVectorizer } = await import(pathToFileURL(model).href);
const CATS = ["Cn", "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Me", "Mc", "Nd", "Nl", "No", "Zs", "Zl",
  "Zp", "Cc", "Cf", "Co", "Cs", "Pd", "Ps", "Pe", "Pc", "Po", "Sm", "Sc", "Sk", "So", "Pi", "Pf"];
const CAT = new RegExp("^(?:" + CATS.map((c) => `(?<${c}>\\p{gc=${c}})`).join("|") + ")$", "u");
const hex = (s) => Buffer.from(s, "utf8").toString("hex");
const unhex = (h) => Buffer.from(h, "hex").toString("utf8");
const bits = new DataView(new ArrayBuffer(8));
let template = "";
const out = [];
for (const line of readFileSync(input, "latin1").split("\n")) {
  if (!line) continue;
  const f = line.split(" ");
  if (f[0] === "T") { template = unhex(f[1]); continue; }
  const t = TEXT_VECTORIZERS[Number(f[1])];
  if (f[0] === "B") {
    const v = new Float64Array(t.size);
    t.bag(f[2] === "-" ? null : unhex(f[2]), v, 0);
    const o = [];
    v.forEach((w, j) => {
      if (w === 0) return;
      bits.setFloat64(0, w);
      o.push(j + ":" + bits.getBigUint64(0).toString(16));
    });
    out.push(o.join(","));
  } else {
    const x = String.fromCodePoint(parseInt(f[2], 16));
    const groups = CAT.exec(x).groups;
    const cat = CATS.find((c) => groups[c] !== undefined);
    out.push(cat + "|" + hex(TextVectorizer.lower(template.split("@").join(x))) + "|"
             + t.terms(x).map(hex).join(",") + "|" + t.tokens(x).map(hex).join(","));
  }
}
writeFileSync(output, out.join("\n") + "\n");
"""


def _probe(art, lang, lines, tmp) -> list[str]:
    """Run the probe program against ``art``'s generated code; one output line per request."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "in.txt").write_text("\n".join(lines) + "\n", encoding="ascii")
    if lang == "java":
        from portable.runtimes.java import compile_classes

        classes = compile_classes(Path(art.path))  # cached by the export's parity check
        (tmp / "TextProbe.java").write_text(JAVA_PROBE, encoding="utf-8")
        subprocess.run(["javac", "-nowarn", "-cp", str(classes), "-d", str(tmp / "probe"),
                        str(tmp / "TextProbe.java")], check=True, capture_output=True, timeout=300)
        cmd = ["java", "-cp", os.pathsep.join([str(classes), str(tmp / "probe")]),
               "portable_model.TextProbe"]
    else:
        (tmp / "probe.mjs").write_text(NODE_PROBE, encoding="utf-8")
        cmd = ["node", str(tmp / "probe.mjs"), str(Path(art.path) / "model.js")]
    r = subprocess.run(cmd + [str(tmp / "in.txt"), str(tmp / "out.txt")], capture_output=True,
                       text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    return (tmp / "out.txt").read_text(encoding="utf-8").split("\n")[:-1]


def _hex(s: str) -> str:
    return s.encode("utf-8").hex()


@pytest.mark.parametrize("lang", ENGINES)
@pytest.mark.parametrize("name", list(PIPELINES))
def test_text_weights_are_the_reference_transform_bit_for_bit(artifacts, tmp_path, name, lang):
    art, _ = artifacts(name, lang)
    m = portable.import_model(_fitted(name))
    step = m.transforms[0]
    docs = EVAL_DOCS + DOCS[150:]
    ref = apply_transform(step, _x(docs))
    lines = [f"B 0 {'-' if d is None or isinstance(d, float) else _hex(d)}" for d in docs]
    got = np.zeros_like(ref)
    for i, line in enumerate(_probe(art, lang, lines, tmp_path)):
        for item in filter(None, line.split(",")):
            j, bits = item.split(":")
            got[i, int(j)] = np.uint64(int(bits, 16)).view(np.float64)
    assert np.count_nonzero(ref.any(axis=1)) > len(docs) // 3  # the corpus hits the vocabulary
    if name == "count-ascii-dot-class":  # Python's '.' matched \r, \x85 and U+2028, not \n
        assert {"a&b\r1", "q[x\u20282", "z\x855", "m.4"} <= set(step.vocabulary)
        assert not any("\n" in t for t in step.vocabulary)
    bad = np.flatnonzero(np.any(got.view(np.uint64) != ref.view(np.uint64), axis=1))
    assert not bad.size, [(docs[i], np.flatnonzero(got[i] != ref[i])[:5]) for i in bad[:5]]


# ----------------------------------------------------------------------------- every code point
SIGMA_CONTEXTS = "@\u03a3 0@\u03a3 a@\u03a3 a\u03a3@ a\u03a3@b"  # @: the code point
CODE_POINTS = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]


def _expected(step, _cache={}):
    """Per code point: category, lowercased contexts, terms and raw tokens (hex, as probed)."""
    if "rows" not in _cache:
        pattern = re.compile(step.token_pattern)
        rows = []
        for cp in CODE_POINTS:
            x = chr(cp)
            rows.append((unicodedata.category(x), _hex(SIGMA_CONTEXTS.replace("@", x).lower()),
                         ",".join(_hex(t) for t in tokenize(step, x)),
                         ",".join(_hex(t) for t in pattern.findall(x))))
        _cache["rows"] = rows
    return _cache["rows"]


@pytest.mark.parametrize("lang", ENGINES)
def test_every_code_point_lowercases_and_tokenizes_as_python_up_to_unicode_versions(
        artifacts, tmp_path, lang):
    name = "count-word-bigrams-stop-binary"  # lowercase, r"\b\w+\b"
    art, _ = artifacts(name, lang)
    step = portable.import_model(_fitted(name)).transforms[0]
    assert step.lowercase and step.token_pattern == r"\b\w+\b"
    lines = [f"T {_hex(SIGMA_CONTEXTS)}"] + [f"X 0 {cp:x}" for cp in CODE_POINTS]
    got = _probe(art, lang, lines, tmp_path)
    want = _expected(step)
    assert len(got) == len(want)
    differ, version = {}, 0
    for cp, g, w in zip(CODE_POINTS, got, want):
        g = tuple(g.split("|"))
        version += g[0] != w[0]
        if g[1:] != w[1:]:
            differ[cp] = (w[0], g[0], [k for k, a, b in zip(("lower", "terms", "tokens"), g[1:], w[1:])
                                       if a != b])
    # Every difference is a code point that this engine's Unicode version and this Python's
    # classify differently (assigned in one only, or recategorised).
    unexplained = {f"U+{cp:04X}": d for cp, d in differ.items() if d[0] == d[1]}
    assert not unexplained, list(unexplained.items())[:20]
    print(f"\n{lang}: {len(differ)} code points differ, all among the {version} whose general "
          f"category differs from Python {unicodedata.unidata_version}'s")


# ----------------------------------------------------------------------------- projects
@pytest.mark.parametrize("lang", LANGS)
def test_generated_project_selftest_and_cli_with_text_rows(tmp_path, lang):
    _need(lang)
    name = "tfidf-xgb"
    m = portable.import_model(_fitted(name))
    bundle = portable.api.convert(m, format=lang)
    for path, data in bundle.files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(data)
    r = subprocess.run(BUILD[lang], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and "golden rows OK" in r.stdout, r.stdout + r.stderr
    # Every stub trims cells: documents without edge whitespace or \r. Empty documents are
    # kept: csv writes them as "" and a one-column model reads that (or a blank line) as "".
    docs = [d.replace("\r", " ").strip() for d in _sk_docs(EVAL_DOCS[:160])] + ["", ""]
    X = _x(docs)
    text = _csv(m, X)
    for flag, stage in (([], "prediction"), (["--margin"], "margin")):
        p = subprocess.run(CLI[lang] + flag, cwd=tmp_path, input=text.encode("utf-8"),
                           capture_output=True, timeout=300)
        assert p.returncode == 0, p.stderr.decode("utf-8", "replace")
        got = np.array([[float(v) for v in line.split(",")]
                        for line in p.stdout.decode("utf-8").splitlines()], np.float32)
        ref = portable.evaluate(m, X, output=stage)
        assert got.shape == ref.shape
        tol = 0 if stage == "margin" else 4
        assert ulp_distance(ref, got, np.float32).max() <= tol, (lang, stage)


# ----------------------------------------------------------------------------- refusals
def test_c_refuses_text_naming_the_formats_that_can():
    from portable.converters.code.c import CConverter

    m = portable.import_model(_fitted("count-default"))
    for convert in (lambda: CConverter().convert(m), lambda: portable.convert(m, format="c")):
        with pytest.raises(UnsupportedFeatureError) as e:
            convert()
        msg = str(e.value)
        assert "text" in msg and all(f in msg for f in ("java", "javascript", "python")), msg


@pytest.mark.parametrize("pattern, java, js", [
    (r"(?u)\b\w\w+\b", r"[\p{L}\p{N}_]{2,}", r"[\p{L}\p{N}_]{2,}"),
    (r"\b\w+\b", r"[\p{L}\p{N}_]+", r"[\p{L}\p{N}_]+"),
    (r"[a-z&[]+.[0-9]", r"[a-z\&\[]+[^\n][0-9]", r"[a-z&\[]+[^\n][0-9]"),
    (r"a\-b[\]-]", r"a\-b[\]-]", r"a-b[\]-]"),
])
def test_token_patterns_are_respelled_for_each_engine(pattern, java, js):
    from portable.converters.code.java import java_regex
    from portable.converters.code.javascript import js_regex

    assert java_regex(pattern) == java and js_regex(pattern) == js


@pytest.mark.parametrize("pattern", [r"[a-z]++", r"(\w+)", r"\w+(?=x)", r"\S+"])
def test_patterns_an_engine_cannot_reproduce_are_refused(pattern):
    from portable.converters.code.java import java_regex
    from portable.converters.code.javascript import js_regex

    with pytest.raises(UnsupportedFeatureError, match="token_pattern"):
        js_regex(pattern)
    if pattern != r"[a-z]++":  # Java's possessive quantifier is Python's
        with pytest.raises(UnsupportedFeatureError, match="token_pattern"):
            java_regex(pattern)
