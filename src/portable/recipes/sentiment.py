"""``sentiment``: movie reviews -> bag of words -> XGBoost (or logistic regression).

The seed's IMDB walkthrough, on :func:`portable.corpus.reviews` instead of a download. The
vectoriser is spelled out completely (``token_pattern=r"(?u)\\b\\w+\\b"``, lowercase,
unigrams) because its tokenizer is part of the model: an exported model must split text
exactly as scikit-learn did. Its vocabulary is also written to ``vocabulary.json``.

Variants: ``xgboost`` (default) and ``logistic`` (``LogisticRegression``); both are saved
as one scikit-learn ``Pipeline`` (``model.joblib``, plus ``model.skops`` with skops).
"""

from __future__ import annotations

from . import _xgboost
from ._common import (CLASSIFICATION_METRICS, Range, Splits, save_sklearn, split_three,
                      write_json)

TOKEN_PATTERN = r"(?u)\b\w+\b"  # single-letter tokens count too ("i", "a"), unlike the default
_TEXT = {"rows": 3000, "vectorizer": "tfidf", "min_df": 2}
_TEXT_RANGES = (Range("vectorizer", "categorical", choices=("tfidf", "count")),
                Range("min_df", "int", 1, 5))


class Sentiment:
    """Recipe object; see ``portable.recipes._common`` for the protocol."""

    name = "sentiment"
    summary = "movie-review sentiment: bag of words (TF-IDF) -> XGBoost or logistic"
    task = "binary"
    classes = ("negative", "positive")
    default_variant = "xgboost"
    variants = {
        "xgboost": {**_TEXT, **_xgboost.DEFAULTS, "max_depth": 4, "eta": 0.2},
        "logistic": {**_TEXT, "C": 1.0},
    }
    objectives = CLASSIFICATION_METRICS
    default_objective = "validation:accuracy"

    def ranges(self, variant: str):
        if variant == "logistic":
            return (Range("C", "float", 0.01, 100.0, log=True), *_TEXT_RANGES)
        return (*_xgboost.RANGES, *_TEXT_RANGES)

    def load(self, params: dict, seed: int) -> Splits:
        from ..corpus import reviews

        texts, y = reviews(params["rows"], seed=seed)
        return Splits(*split_three(texts, y, seed=seed, stratify=True), columns=["text"],
                      target="label")

    def fit(self, splits: Splits, params: dict, *, seed: int, n_jobs=None, on_round=None):
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline

        vec = make_vectorizer(params)
        if params["variant"] == "logistic":
            clf = LogisticRegression(C=params["C"], max_iter=2000, random_state=seed)
            return Pipeline([("vectorizer", vec), ("classifier", clf)]).fit(
                splits.X_train, splits.y_train)
        # Fit the steps one by one: XGBoost needs the *vectorised* validation split to watch.
        X_train = vec.fit_transform(splits.X_train)
        X_val = vec.transform(splits.X_validation)
        clf = _xgboost.fit(self.task, X_train, splits.y_train, X_val, splits.y_validation,
                           params, seed=seed, n_jobs=n_jobs, on_round=on_round)
        return Pipeline([("vectorizer", vec), ("classifier", clf)])

    def save(self, model, out_dir, splits: Splits):
        paths = save_sklearn(model, out_dir)
        vec = model.named_steps["vectorizer"]
        vocab = {str(t): int(i) for t, i in vec.vocabulary_.items()}
        doc = {"vectorizer": type(vec).__name__, "token_pattern": vec.token_pattern,
               "lowercase": vec.lowercase, "ngram_range": list(vec.ngram_range),
               "min_df": vec.min_df, "size": len(vocab), "vocabulary": vocab}
        if hasattr(vec, "idf_"):
            doc["idf"] = [float(v) for v in vec.idf_]
        paths["vocabulary"] = write_json(out_dir / "vocabulary.json", doc)
        return paths


def make_vectorizer(params: dict):
    """``TfidfVectorizer`` or ``CountVectorizer`` with every tokenizer setting explicit."""
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

    kinds = {"tfidf": TfidfVectorizer, "count": CountVectorizer}
    if params["vectorizer"] not in kinds:
        from ..errors import InputError
        raise InputError(f"vectorizer must be one of {', '.join(kinds)}; "
                         f"got {params['vectorizer']!r}.")
    return kinds[params["vectorizer"]](token_pattern=TOKEN_PATTERN, lowercase=True,
                                       ngram_range=(1, 1), min_df=params["min_df"])


RECIPE = Sentiment()
