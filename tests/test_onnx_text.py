"""Text through our own ONNX graph: StringNormalizer + RE2 Tokenizer + TfIdfVectorizer.

Measured against scikit-learn (labels), the reference evaluator (margins) and, for the
tokenizer, Python's ``re`` over every Unicode code point.
"""

import unicodedata

import numpy as np
import pytest

import portable
from portable import ir
from portable.errors import UnsupportedFeatureError
from portable.ir.evaluate import tokenize

sk_text = pytest.importorskip("sklearn.feature_extraction.text")
ort = pytest.importorskip("onnxruntime")

from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

CountVectorizer, TfidfVectorizer = sk_text.CountVectorizer, sk_text.TfidfVectorizer

ODD_DOCS = ["it\r1 was\u20282 a&[b.3 c\n4 nice\t5", "Ünïcödé ÉTÉ café naïve CAFÉ", "", None, float("nan"), "ΣΑΣ σας Σίσυφος",
            "日本語のテキスト 中文", "hello_world 42 x1 𝐀𝐁 🙂🙂 ok!!", "a b c d", "I I I I",
            "good good good good good good good good good good good good", "<br /><br />",
            "NOT bad, not BAD at all", "\t\n  spaced\u00a0out\u2003words  "]


@pytest.fixture(scope="module")
def corpus():
    from portable.corpus import reviews

    docs, y = reviews(500, seed=3)
    docs = list(docs)
    return docs, np.asarray(y), np.array(docs[:150] + ODD_DOCS, dtype=object).reshape(-1, 1)


LR = dict(max_iter=1000)
PIPES = {
    "tfidf-default": lambda: make_pipeline(TfidfVectorizer(), LogisticRegression(**LR)),
    "tfidf-bigrams-sublinear": lambda: make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"\b\w+\b",
                        min_df=2), LogisticRegression(**LR)),
    "tfidf-l1-no-idf": lambda: make_pipeline(TfidfVectorizer(norm="l1", use_idf=False),
                                             LogisticRegression(**LR)),
    "tfidf-no-norm-uppercase": lambda: make_pipeline(
        TfidfVectorizer(norm=None, lowercase=False, token_pattern=r"[A-Za-z]+"),
        LogisticRegression(**LR)),
    "count-binary-stopwords": lambda: make_pipeline(
        CountVectorizer(binary=True, stop_words=["the", "and", "a", "was", "not"]),
        LogisticRegression(**LR)),
    "count-ascii-dot-and-class": lambda: make_pipeline(
        CountVectorizer(token_pattern=r"[a-z&[]+.[0-9]", lowercase=False),
        LogisticRegression(**LR)),
    "count-trigrams-only": lambda: make_pipeline(
        CountVectorizer(ngram_range=(2, 3), max_features=400), LogisticRegression(**LR)),
}


@pytest.mark.parametrize("name", sorted(PIPES))
def test_linear_text_pipelines_match_sklearn_and_reference(name, corpus, tmp_path):
    docs, y, X = corpus
    pipe = PIPES[name]().fit(docs, y)
    art = portable.export(pipe, format="onnx", out_dir=tmp_path / name)
    assert art.manifest["options"].get("engine", "portable") == "portable"
    session = portable.load(tmp_path / name)
    model = portable.import_model(pipe)
    got = np.asarray(session.predict(X, output="margin"), np.float64)
    ref = np.asarray(ir.evaluate(model, X, output="margin"), np.float64)
    # Two double sums are the engine's own (the l1/l2 norm, the dot product of the linear
    # model): their order differs from numpy's, so the margin differs in the last bits.
    assert np.max(np.abs(got - ref)) < 1e-12, name
    clean = np.array([d if isinstance(d, str) else "" for d in X[:, 0]], dtype=object)
    assert (session.labels(X) == pipe.predict(clean)).all()
    proba = np.asarray(session.predict(X), np.float64)
    assert np.max(np.abs(proba - pipe.predict_proba(clean))) < 1e-12


def test_tfidf_to_xgboost_is_bit_exact(corpus, tmp_path):
    xgb = pytest.importorskip("xgboost")
    docs, y, X = corpus
    pipe = make_pipeline(TfidfVectorizer(max_features=300),
                         xgb.XGBClassifier(n_estimators=40, max_depth=4)).fit(docs, y)
    portable.export(pipe, format="onnx", out_dir=tmp_path / "xgb")
    session = portable.load(tmp_path / "xgb")
    model = portable.import_model(pipe)
    assert "zero_as_missing" in model.step_kinds()
    for output in ("margin", "prediction"):
        got = np.asarray(session.predict(X, output=output))
        assert np.array_equal(got, np.asarray(ir.evaluate(model, X, output=output))), output
    clean = np.array([d if isinstance(d, str) else "" for d in X[:, 0]], dtype=object)
    assert (session.labels(X) == pipe.predict(clean)).all()


def _tokens_session(step):
    """Our text graph with its Tokenizer output exposed: documents in, tokens out."""
    from onnx import TensorProto, helper

    from portable.converters._onnx_graph import Graph
    from portable.converters._onnx_text import MICROSOFT, TEXT_OPSET, text_features

    g = Graph()
    g.widths["X"] = 1
    text_features(g, step, "X")
    tokens = next(n for n in g.nodes if n.op_type == "Tokenizer").output[0]
    graph = helper.make_graph(
        g.nodes, "tokens", [helper.make_tensor_value_info("X", TensorProto.STRING, ["N", 1])],
        [helper.make_tensor_value_info(tokens, TensorProto.STRING, None)],
        initializer=g.initializers)
    proto = helper.make_model(graph, ir_version=9, opset_imports=[
        helper.make_opsetid("", TEXT_OPSET), helper.make_opsetid(MICROSOFT, 1)])
    return ort.InferenceSession(proto.SerializeToString())


def _mismatches(step, docs):
    session = _tokens_session(step)
    out = []
    for i in range(0, len(docs), 50_000):
        batch = docs[i:i + 50_000]
        rows = session.run(None, {"X": np.array(batch, dtype=object).reshape(-1, 1)})[0]
        for doc, row in zip(batch, rows.tolist()):
            if [t for t in row if t] != tokenize(step, doc):
                out.append(doc)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("pattern,lowercase", [(r"(?u)\b\w\w+\b", True), (r"\b\w+\b", False)])
def test_tokenizer_agrees_with_python_re_on_every_code_point(pattern, lowercase):
    step = ir.TextVectorizer(vocabulary=("ab",), token_pattern=pattern, lowercase=lowercase)
    points = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    docs = [chr(c) * 2 + " " + chr(c) for c in points]
    bad = _mismatches(step, docs)
    assigned = sorted(ord(d[0]) for d in bad if unicodedata.category(d[0]) != "Cn")
    # Measured: RE2's Unicode tables are newer than Python 3.11's (characters unassigned in
    # Python are letters to RE2), and lowercasing differs on exactly two assigned code
    # points: U+0130 (Python: "i" + combining dot, two characters) and U+03A3 (Python's
    # final sigma "ς" at the end of a word).
    assert assigned == ([0x130, 0x3A3] if lowercase else []), [hex(c) for c in assigned]
    unassigned = len(bad) - len(assigned)
    assert unassigned < 6000, unassigned


def test_word_contexts_agree():
    step = ir.TextVectorizer(vocabulary=("ab",), token_pattern=r"(?u)\b\w\w+\b")
    docs = [d for d in ODD_DOCS if isinstance(d, str) and "Σ" not in d] + [
        "don't stop-me now", "e-mail: a_b@c.de", "x" * 5000, "1,000.50 $ 3rd", "ﬁne ﬂow",
        "combining e\u0301te\u0301", "zero\u200bwidth", "tab\tnew\nline"]
    assert _mismatches(step, docs) == []


@pytest.mark.parametrize("vectorizer,match", [
    (lambda: TfidfVectorizer(token_pattern=r"(?u)\b\w\w+\b|[^\w\s]"), "token_pattern"),
    (lambda: CountVectorizer(token_pattern=r"\S+"), "token_pattern"),
    (lambda: CountVectorizer(ngram_range=(1, 2), stop_words=["the"]), "stop words"),
])
def test_untranslatable_text_is_refused_clearly(vectorizer, match, corpus, tmp_path):
    docs, y, _ = corpus
    pipe = make_pipeline(vectorizer(), LogisticRegression(**LR)).fit(docs, y)
    model = portable.import_model(pipe)
    with pytest.raises(UnsupportedFeatureError, match=match):
        portable.export(model, format="onnx", out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_plain_ascii_patterns_are_respelled_for_re2():
    step = ir.TextVectorizer(vocabulary=("ab",), token_pattern=r"[a-z&[]+.[0-9]", lowercase=False)
    docs = ["it\r1 was\u20282 a&[b.3 c\n4 nice\t5 x\x851", "[[:alpha:]]7 e&&f8", ""]
    assert _mismatches(step, docs) == []
    assert tokenize(step, docs[0]) == ["it\r1", "was\u20282", "a&[b.3", "nice\t5", "x\x851"]
