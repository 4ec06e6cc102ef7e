"""Text pipelines in PMML: Count/TfidfVectorizer as TextIndex DerivedFields, in JPMML.

Each pipeline is fitted on generated reviews plus odd documents (punctuation, digits,
underscores, capitals, accents, non-Latin scripts, empty strings, None and NaN), exported
with ``portable.export`` (which already runs JPMML on probe rows) and loaded again. Asserted:

* the vectorizer's output is **bit-exact**: JPMML's value of every estimator input (exposed
  as ``transformedValue`` OutputFields) equals the reference evaluator's (NaN where
  ZeroAsMissing makes a zero missing);
* 0 label flips against scikit-learn (None/NaN documents read as "", as the reference
  does) and against ``portable.ir.evaluate``;
* XGBoost margins bit-exact, against the reference and against XGBoost itself;
* linear margins within the rounding of a dot product: two summation orders of
  ``b + sum(w_j x_j)`` over the row's ``k`` nonzero terms each err by at most
  ``gamma_(k+1) * (|b| + sum|w_j x_j|)`` (Higham, ``gamma_n = n u / (1 - n u)``,
  ``u = eps / 2``), so they differ by at most about ``(k + 1) * eps`` times that sum;
* linear probabilities within ``|dp| <= max p'(m) |dm| + 8 eps``: the logistic's slope is
  at most 1/4, and each side's link (exp to 1 ULP, then three roundings, then 1 - p) is
  within 3 eps of the exact value.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import portable
from portable import ir
from portable.errors import UnsupportedFeatureError
from portable.ir.evaluate import apply_transform, prepare_input
from portable.parity import compare

sk_text = pytest.importorskip("sklearn.feature_extraction.text")

from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from test_pmml import check_parity  # noqa: E402

CountVectorizer, TfidfVectorizer = sk_text.CountVectorizer, sk_text.TfidfVectorizer
NS = "http://www.dmg.org/PMML-4_4"
P = {"p": NS}
EPS = np.finfo(np.float64).eps

# Training documents beyond the generated reviews: their odd tokens enter the vocabulary.
ODD_TRAIN = [
    "Ünïcödé ÉTÉ café naïve CAFÉ déjà-vu", "ΟΔΟΣ ΚΑΛΟΣ, σοφία και ΣΑΣ σας", "Привет, МИР! мир",
    "日本語のテキスト 中文 한국어", "hello_world HELLO_WORLD 42 x1 3.14 1,000 _under_",
    "İstanbul STRASSE straße ǅemal Ⅻ ½ ² ١٢٣", "𝐀𝐁𝐂 🙂🙂 ok!! <br /><br /> #tag @user",
    "don't won't it's O'Neil e-mail", "NOT bad, not BAD at all... the the the",
    "good good good good good good good good good good good good good good",
]
# Held-out documents: unseen words, repeated terms, whitespace and missing documents.
ODD_TEST = ODD_TRAIN + [
    "", "   ", "\t\n  spaced\u00a0out\u2003words  ", None, float("nan"), "a b c d", "I I I I",
    "CAFÉ café Café cafÉ", "ΣΑΣ σας", "nothing from the vocabulary: zyxw qwvk",
    "hello_world42 x1x1 __ _", "good " * 300, "The FILM was not GOOD. The film was not bad.",
    "good " * 1100,  # sublinear tf above the table: Java's ln
]


@pytest.fixture(scope="module")
def corpus():
    from portable.corpus import reviews

    docs, y = reviews(300, seed=3)
    rng = np.random.default_rng(3)
    docs = list(docs) + ODD_TRAIN
    y = np.concatenate([np.asarray(y), rng.integers(0, 2, len(ODD_TRAIN))])
    held, _ = reviews(120, seed=11)
    X = np.array(list(held) + ODD_TEST, dtype=object).reshape(-1, 1)
    return docs, y, X


def _clean(X) -> np.ndarray:
    """The documents scikit-learn reads: the reference's None/NaN -> ""."""
    return np.array([d if isinstance(d, str) else "" for d in X[:, 0]], dtype=object)


def _reference_features(model: ir.Model, X) -> np.ndarray:
    Z = prepare_input(model.signature, X)
    for step in model.transforms:
        Z = apply_transform(step, Z)
    return np.asarray(Z, dtype=np.float64)


def _jpmml_features(model: ir.Model, X) -> np.ndarray:
    """JPMML's value of every estimator input column: the document with one extra
    ``transformedValue`` OutputField per column."""
    from portable.converters.pmml import to_pmml
    from portable.runtimes.jpmml import JpmmlSession

    ET.register_namespace("", NS)
    root = ET.fromstring(to_pmml(model, verification=False))
    table = root.find(".//p:Segment[@id='margin0']/p:RegressionModel/p:RegressionTable", P)
    if table is not None:
        names = [p.get("name") for p in table.findall("p:NumericPredictor", P)]
    else:  # trees name only the columns they split on: take ZeroAsMissing's fields
        names = [d.get("name") for d in root.findall("p:TransformationDictionary/p:DerivedField",
                                                     P) if d.get("name").startswith("nonzero(")]
    assert len(names) == model.estimator.n_features
    out = root.find("p:MiningModel/p:Output", P)
    for k, name in enumerate(names):
        f = ET.SubElement(out, f"{{{NS}}}OutputField", {
            "name": f"feature({k})", "optype": "continuous", "dataType": "double",
            "feature": "transformedValue"})
        ET.SubElement(f, f"{{{NS}}}FieldRef", {"field": name})
    session = JpmmlSession(ET.tostring(root), model.signature, verify=False)
    res = session._evaluate(X)
    return np.column_stack([res[f"feature({k})"].to_numpy(dtype=np.float64)
                            for k in range(len(names))])


def _assert_same_features(model, X):
    got, ref = _jpmml_features(model, X), _reference_features(model, X)
    same = (got == ref) | (np.isnan(got) & np.isnan(ref))
    bad = np.argwhere(~same)
    assert not bad.size, [(X[i, 0], j, got[i, j], ref[i, j]) for i, j in bad[:5].tolist()]
    return ref


def _linear_bounds(model, Z) -> tuple[np.ndarray, np.ndarray]:
    """(margin bound, probability bound) per cell, as in the module docstring."""
    est = model.estimator
    terms = np.abs(Z) @ np.abs(est.coef).T + np.abs(est.intercept)
    k = np.count_nonzero(Z, axis=1)[:, None]
    m_tol = (k + 1) * EPS * terms * (1 + 1e-6)
    return m_tol, 0.25 * m_tol.max(axis=1, keepdims=True) + 8 * EPS


def _export_and_load(est, out_dir):
    art = portable.export(est, format="pmml", out_dir=out_dir)
    parity = art.manifest["parity"]
    assert parity["checked"] and parity["prediction"]["label_flips"] == 0, parity
    return portable.load(out_dir)  # load() checks the embedded golden rows too


# ----------------------------------------------------------------------------- linear
LR = dict(max_iter=1000)
STOP = ["the", "a", "and", "was", "is", "it", "this", "i"]
VECTORIZERS = {
    "tfidf-default": lambda: TfidfVectorizer(),
    "tfidf-word1-pattern": lambda: TfidfVectorizer(token_pattern=r"\b\w+\b"),
    "tfidf-bigrams": lambda: TfidfVectorizer(ngram_range=(1, 2), max_features=400),
    "tfidf-sublinear-l1": lambda: TfidfVectorizer(sublinear_tf=True, norm="l1"),
    "tfidf-no-norm": lambda: TfidfVectorizer(norm=None, token_pattern=r"(?u)\b\w+\b"),
    "tfidf-no-idf": lambda: TfidfVectorizer(use_idf=False),
    "tfidf-binary-sublinear": lambda: TfidfVectorizer(binary=True, sublinear_tf=True),
    "tfidf-stopwords-list": lambda: TfidfVectorizer(stop_words=STOP),
    "tfidf-stopwords-trigrams": lambda: TfidfVectorizer(stop_words="english",
                                                        ngram_range=(1, 3), max_features=400),
    "count-default": lambda: CountVectorizer(),
    "count-binary-bigrams-only": lambda: CountVectorizer(binary=True, ngram_range=(2, 2),
                                                         max_features=400),
    "count-ascii-case-sensitive": lambda: CountVectorizer(lowercase=False,
                                                          token_pattern=r"[A-Za-z]+"),
}


@pytest.mark.parametrize("name", sorted(VECTORIZERS))
def test_linear_text_pipelines_match_sklearn_and_reference(name, corpus, jpmml, tmp_path):
    docs, y, X = corpus
    pipe = make_pipeline(VECTORIZERS[name](), LogisticRegression(**LR)).fit(docs, y)
    model = portable.import_model(pipe)
    session = _export_and_load(pipe, tmp_path / name)
    Z = _assert_same_features(model, X)
    assert np.array_equal(Z, pipe[:-1].transform(_clean(X)).toarray())

    margin = session.predict(X, output="margin")
    proba = session.predict(X)
    m_tol, p_tol = _linear_bounds(model, Z)
    sk_margin = pipe.decision_function(_clean(X)).reshape(-1, 1)
    for ref_m, ref_p in ((ir.evaluate(model, X, output="margin"), ir.evaluate(model, X)),
                         (sk_margin, pipe.predict_proba(_clean(X)))):
        assert np.all(np.abs(margin - ref_m) <= m_tol), np.abs(margin - ref_m).max()
        assert np.all(np.abs(proba - ref_p) <= p_tol), np.abs(proba - ref_p).max()
        assert compare(ref_p, proba, classification=True)["label_flips"] == 0
    assert (session.labels(X).astype(int) == pipe.predict(_clean(X))).all()


def test_fixed_vocabulary_terms_sklearn_never_counts_are_zero(corpus, jpmml, tmp_path):
    # A user-given vocabulary may hold terms the tokenizer never produces ("foo-bar",
    # upper case after lowercasing, a double space) or that are stop words: always 0 in
    # scikit-learn, the constant 0 in the document (JPMML would split "foo-bar" itself).
    docs, y, X = corpus
    vocab = ["good", "bad", "not good", "foo-bar", "Good", "the", "the film", "not  bad",
             "film", "was not", "not", "hello_world", "café"]
    vec = CountVectorizer(vocabulary=vocab, ngram_range=(1, 2), stop_words=["the"])
    pipe = make_pipeline(vec, LogisticRegression(**LR)).fit(docs, y)
    model = portable.import_model(pipe)
    extra = np.array([["foo-bar foo bar Good the film not  bad"]], dtype=object)
    X = np.vstack([X, extra])
    Z = _assert_same_features(model, X)
    never = [vocab.index(t) for t in ("foo-bar", "Good", "the", "the film", "not  bad")]
    assert not Z[:, never].any() and Z.any()
    session = _export_and_load(pipe, tmp_path / "vocab")
    assert (session.labels(X).astype(int) == pipe.predict(_clean(X))).all()


def test_two_text_columns_and_a_number_in_a_column_transformer(corpus, jpmml, tmp_path):
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import StandardScaler

    docs, y, X = corpus
    frame = lambda d: pd.DataFrame({  # noqa: E731
        "title": [v[:40] if isinstance(v, str) else v for v in d], "body": d,
        "length": [len(v) if isinstance(v, str) else 0.0 for v in d]})
    ct = ColumnTransformer([
        ("body", TfidfVectorizer(sublinear_tf=True), "body"),
        ("title", CountVectorizer(ngram_range=(1, 2), stop_words=STOP, max_features=200),
         "title"),
        ("length", StandardScaler(), ["length"])])
    pipe = make_pipeline(ct, LogisticRegression(**LR)).fit(frame(docs), y)
    model = portable.import_model(pipe)
    assert model.signature.feature_types == ("string", "string", "float64")
    test = frame(list(X[:, 0]))
    _assert_same_features(model, test)
    session = _export_and_load(pipe, tmp_path / "ct")
    clean = frame(list(_clean(X)))
    assert (session.labels(test).astype(int) == pipe.predict(clean)).all()


# ----------------------------------------------------------------------------- xgboost
def test_tfidf_to_xgboost_is_bit_exact(corpus, jpmml, tmp_path):
    import xgboost as xgb

    docs, y, X = corpus
    pipe = make_pipeline(TfidfVectorizer(max_features=300),
                         xgb.XGBClassifier(n_estimators=30, max_depth=4, n_jobs=1)).fit(docs, y)
    model = portable.import_model(pipe)
    assert {"text", "zero_as_missing"} <= model.step_kinds()
    session = _export_and_load(pipe, tmp_path / "xgb")
    Z = _assert_same_features(model, X)  # NaN where a term is absent
    assert np.isnan(Z).any()
    margin = session.predict(X, output="margin")
    assert np.array_equal(margin, ir.evaluate(model, X, output="margin"))
    features = pipe[:-1].transform(_clean(X))
    assert np.array_equal(margin[:, 0], pipe[-1].predict(features, output_margin=True))
    check_parity(model, X, margin, session.predict(X))
    assert (session.labels(X).astype(int) == pipe.predict(_clean(X))).all()


@pytest.mark.parametrize("variant", ["xgboost", "logistic"])
def test_sentiment_recipe_runs_in_jpmml_with_zero_flips(variant, jpmml, tmp_path):
    from portable.corpus import reviews
    from portable.recipes import train

    res = train("sentiment", seed=0, n_jobs=1, variant=variant)
    pipe = res.model
    model = portable.import_model(pipe)
    session = _export_and_load(pipe, tmp_path / variant)
    held, _ = reviews(300, seed=7)
    X = np.array(list(held) + ODD_TEST, dtype=object).reshape(-1, 1)
    Z = _assert_same_features(model, X)
    margin, proba = session.predict(X, output="margin"), session.predict(X)
    ref_m, ref_p = ir.evaluate(model, X, output="margin"), ir.evaluate(model, X)
    assert compare(ref_p, proba, classification=True)["label_flips"] == 0
    assert (session.labels(X).astype(int) == pipe.predict(_clean(X))).all()
    if variant == "xgboost":
        assert np.array_equal(margin, ref_m)
        check_parity(model, X, margin, proba)
    else:
        m_tol, p_tol = _linear_bounds(model, Z)
        assert np.all(np.abs(margin - ref_m) <= m_tol)
        assert np.all(np.abs(proba - ref_p) <= p_tol)


def test_zero_as_missing_after_sparse_one_hot_and_nan_passthrough(jpmml, tmp_path):
    # ZeroAsMissing is not only for text: a sparse ColumnTransformer feeding XGBoost.
    import xgboost as xgb
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(0)
    n = 300
    X = np.empty((n, 3), dtype=object)
    X[:, 0] = rng.choice(["red", "green", "blue"], n)
    X[:, 1:] = rng.normal(size=(n, 2)).astype(np.float32).astype(np.float64)
    X[rng.random(n) < 0.2, 1] = np.nan
    X[rng.random(n) < 0.2, 2] = 0.0
    y = ((X[:, 0] == "red") ^ (np.nan_to_num(X[:, 1].astype(float)) > 0)).astype(int)
    ct = ColumnTransformer([("oh", OneHotEncoder(), [0])], remainder="passthrough",
                           sparse_threshold=1.0)
    pipe = make_pipeline(ct, xgb.XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1)).fit(X, y)
    model = portable.import_model(pipe)
    assert "zero_as_missing" in model.step_kinds()
    session = _export_and_load(pipe, tmp_path / "onehot")
    margin = session.predict(X, output="margin")
    assert np.array_equal(margin, ir.evaluate(model, X, output="margin"))
    check_parity(model, X, margin, session.predict(X))


# ----------------------------------------------------------------------------- document
def _doc(est) -> ET.Element:
    from portable.converters.pmml import to_pmml

    return ET.fromstring(to_pmml(portable.import_model(est)))


def test_document_holds_one_text_index_with_the_java_token_regex(corpus):
    docs, y, _ = corpus
    pipe = make_pipeline(TfidfVectorizer(stop_words="english", ngram_range=(1, 2),
                                         sublinear_tf=True, min_df=2),
                         LogisticRegression(**LR)).fit(docs, y)
    root = _doc(pipe)
    td = root.find("p:TransformationDictionary", P)
    functions = {f.get("name"): f for f in td.findall("p:DefineFunction", P)}
    assert set(functions) == {"termFrequency", "sublinearTf"}
    index = functions["termFrequency"].find("p:TextIndex", P)
    assert index.get("x-wordRE") == r"[\p{L}\p{N}_]{2,}"
    assert index.get("isCaseSensitive") == "true" and index.get("countHits") == "allHits"
    stop = index.find("p:TextIndexNormalization/p:InlineTable/p:row/p:string", P).text
    assert stop.startswith(r"(?<![\p{L}\p{N}_])(?:") and "|the|" in stop
    table = functions["sublinearTf"].findall(".//p:InlineTable/p:row", P)
    assert len(table) == 1025 and table[0].find("p:weight", P).text == "0.0"
    # One count per vocabulary term, each a call of the one TextIndex (tokenized once per row).
    calls = [a for a in td.iter(f"{{{NS}}}Apply") if a.get("function") == "termFrequency"]
    assert len(calls) == len(pipe[0].vocabulary_)
    assert td.find("p:DerivedField/p:Apply[@function='lowercase']", P) is not None


def test_golden_rows_are_documents_and_tampering_fails_at_load(corpus, jpmml):
    from portable.converters.pmml import to_pmml
    from portable.errors import ArtifactError
    from portable.runtimes.jpmml import JpmmlSession

    docs, y, _ = corpus
    model = portable.import_model(
        make_pipeline(TfidfVectorizer(), LogisticRegression(**LR)).fit(docs, y))
    doc = to_pmml(model).decode()
    rows = ET.fromstring(doc).findall(".//p:ModelVerification/p:InlineTable/p:row", P)
    assert sum(bool((r.findtext("p:x0", namespaces=P) or "").strip()) for r in rows) >= 4
    JpmmlSession(doc.encode(), model.signature).close()
    i = doc.index("<y0>") + 4
    j = doc.index("</y0>")
    bad = doc[:i] + repr(float(doc[i:j]) + 0.01) + doc[j:]
    with pytest.raises(ArtifactError, match="ModelVerification"):
        JpmmlSession(bad.encode(), model.signature)


# ----------------------------------------------------------------------------- refusals
@pytest.mark.parametrize("pattern", [r"(?u)\b\w+(?:'\w+)?\b", r"\S+", r"(?i)[a-z]+"])
def test_untranslatable_token_pattern_is_refused_naming_it(pattern, corpus):
    from portable.converters.pmml import to_pmml

    docs, y, _ = corpus
    pipe = make_pipeline(CountVectorizer(token_pattern=pattern),
                         LogisticRegression(**LR)).fit(docs, y)
    with pytest.raises(UnsupportedFeatureError, match=f"PMML.*{re.escape(repr(pattern))}"):
        to_pmml(portable.import_model(pipe))


def test_ngrams_over_tokens_that_may_hold_spaces_are_refused(corpus):
    from portable.converters.pmml import to_pmml

    docs, y, _ = corpus
    pipe = make_pipeline(CountVectorizer(token_pattern=r"[a-z ]+", ngram_range=(1, 2)),
                         LogisticRegression(**LR)).fit(docs, y)
    with pytest.raises(UnsupportedFeatureError, match="n-grams need word tokens"):
        to_pmml(portable.import_model(pipe))


def test_terms_xml_cannot_hold_are_refused():
    from portable.converters.pmml import to_pmml

    docs = ["a,b\rc,d", "e,f", "b\rc,a"]
    pipe = make_pipeline(CountVectorizer(token_pattern=r"[^,]+"),
                         LogisticRegression()).fit(docs, [0, 1, 0])
    with pytest.raises(UnsupportedFeatureError, match="control character"):
        to_pmml(portable.import_model(pipe))


def test_tokens_with_spaces_tabs_and_newlines_survive_the_xml(jpmml, tmp_path):
    # A plain pattern whose tokens keep their blanks: the Constant and InlineTable text is
    # read back exactly (no trimming), so counts stay exact.
    docs = [" a, b ,c", " Foo bar ,baz\tqux,\nnew line", "x,,y", "  ", "end,", "ÉTÉ,été"] * 4
    y = [0, 1] * 12
    pipe = make_pipeline(CountVectorizer(token_pattern=r"[^,]+"), LogisticRegression()).fit(
        docs, y)
    model = portable.import_model(pipe)
    assert " b " in model.transforms[0].vocabulary and "baz\tqux" in model.transforms[0].vocabulary
    X = np.array(docs + [None], dtype=object).reshape(-1, 1)
    _assert_same_features(model, X)
    session = _export_and_load(pipe, tmp_path / "blanks")
    assert (session.labels(X).astype(int) == pipe.predict(_clean(X))).all()


# ----------------------------------------------------------------------------- lowercase
# Case pairs added in Unicode 14 (Python 3.11) that Java 17's Unicode 13 does not know.
UNICODE_14_CASED = {0x2C2F, 0xA7C0, 0xA7D0, 0xA7D6, 0xA7D8, *range(0x10570, 0x10596)}


def _lowercase_session():
    """A minimal document: one string field, its PMML lowercase as an output."""
    from portable.runtimes.jpmml import JpmmlSession

    doc = f"""<PMML xmlns="{NS}" version="4.4"><Header/>
      <DataDictionary><DataField name="text" optype="categorical" dataType="string"/>
        <DataField name="y" optype="continuous" dataType="double"/></DataDictionary>
      <TransformationDictionary><DerivedField name="lower" optype="categorical"
        dataType="string"><Apply function="lowercase"><FieldRef field="text"/></Apply>
      </DerivedField></TransformationDictionary>
      <RegressionModel functionName="regression"><MiningSchema>
        <MiningField name="text"/><MiningField name="y" usageType="target"/></MiningSchema>
        <Output><OutputField name="lowered" optype="categorical" dataType="string"
          feature="transformedValue"><FieldRef field="lower"/></OutputField></Output>
        <RegressionTable intercept="0"/></RegressionModel></PMML>"""
    sig = ir.Signature(("text",), ("string",), "regression", ("y",), "value")
    return JpmmlSession(doc.encode(), sig, verify=False)


def test_pmml_lowercase_is_python_lower_for_every_cased_code_point(jpmml):
    # Every code point that str.lower() or str.upper() changes, alone and inside a word.
    cased = [c for c in map(chr, range(0x110000)) if not 0xD800 <= ord(c) <= 0xDFFF
             and (c.lower() != c or c.upper() != c)]
    docs = cased + [f"ab{c}cd" for c in cased]
    got = _lowercase_session()._evaluate(np.array(docs, dtype=object).reshape(-1, 1))["lowered"]
    bad = {ord(d[-1] if len(d) == 1 else d[2]) for d, g in zip(docs, got) if g != d.lower()}
    assert len(cased) > 2500 and bad <= UNICODE_14_CASED, sorted(map(hex, bad - UNICODE_14_CASED))


def test_lowercase_ignores_a_turkish_default_locale(monkeypatch, jpmml, tmp_path):
    # Java's toLowerCase follows the default locale; the runtime pins it (a Turkish one
    # lowercases "I" to a dotless "ı" and misses the term "i"). The process's JVM is
    # restarted under a Turkish JAVA_TOOL_OPTIONS, and again afterwards without it.
    from portable.runtimes.jpmml import backend, shutdown

    docs = ["I LIKE IT", "i like it", "TITLE I", "dislike it", "İ I ı i"]
    pipe = make_pipeline(CountVectorizer(token_pattern=r"\b\w+\b"),
                         LogisticRegression()).fit(docs, [1, 1, 0, 0, 1])
    portable.export(pipe, format="pmml", out_dir=tmp_path / "a", check=False)
    X = np.array(docs, dtype=object).reshape(-1, 1)
    shutdown()
    monkeypatch.setenv("JAVA_TOOL_OPTIONS", "-Duser.language=tr -Duser.country=TR")
    try:
        backend()
        got = portable.load(tmp_path / "a").predict(X, output="margin")
    finally:
        shutdown()
        monkeypatch.delenv("JAVA_TOOL_OPTIONS")
    ref = ir.evaluate(portable.import_model(pipe), X, output="margin")
    assert np.abs(got - ref).max() < 1e-12
