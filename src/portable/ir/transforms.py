"""Preprocessing transforms, column-wise, with scikit-learn's exact float64 arithmetic.

Each transform maps ``n_inputs`` columns to ``n_outputs`` columns. Numbers are float64;
:class:`OneHotEncoder` may read string columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Union

import numpy as np


@dataclass(frozen=True, eq=False)
class Scaler:
    """Element-wise affine map, applied in this fixed order (each step optional)::

        x = x - subtract;  x = x / divide;  x = x * multiply;  x = x + add;  clip

    The order and the division (not multiplication by a reciprocal) are part of the
    semantics: they are what scikit-learn computes, so results match bit for bit.

    ==============  ==========================================================
    StandardScaler  subtract=mean_, divide=scale_
    RobustScaler    subtract=center_, divide=scale_
    MaxAbsScaler    divide=scale_
    MinMaxScaler    multiply=scale_, add=min_, clip=feature_range if clip
    ==============  ==========================================================

    Attributes
    ----------
    subtract, divide, multiply, add : float64 array (n,) or None
    clip : (low, high) or None
    """

    n_inputs: int
    subtract: np.ndarray | None = None
    divide: np.ndarray | None = None
    multiply: np.ndarray | None = None
    add: np.ndarray | None = None
    clip: tuple[float, float] | None = None
    kind: str = field(default="scaler", init=False)

    @property
    def n_outputs(self) -> int:
        return self.n_inputs


@dataclass(frozen=True, eq=False)
class Imputer:
    """Replace missing values (NaN) by a per-column constant; drop columns in ``drop``.

    Attributes
    ----------
    fill : float64 array (n_inputs,)
        Replacement value per input column (mean, median, most frequent or constant).
    keep : bool array (n_inputs,)
        False for columns scikit-learn drops (all-missing during fit and
        ``keep_empty_features=False``).
    """

    n_inputs: int
    fill: np.ndarray
    keep: np.ndarray
    kind: str = field(default="imputer", init=False)

    @property
    def n_outputs(self) -> int:
        return int(np.count_nonzero(self.keep))


@dataclass(frozen=True, eq=False)
class OneHotEncoder:
    """One output column per known category of each input column.

    Attributes
    ----------
    categories : tuple of tuples
        Known categories per input column, in output order (strings or numbers; NaN
        allowed as a category of a numeric column).
    drop : tuple of (int or None)
        Index of a category that gets no column (scikit-learn ``drop``), per input column.
    handle_unknown : "error" or "ignore"
        ``"error"``: an unseen category is an input error; ``"ignore"``: all zeros.
    """

    categories: tuple[tuple, ...]
    drop: tuple[int | None, ...]
    handle_unknown: Literal["error", "ignore"] = "error"
    kind: str = field(default="one_hot", init=False)

    @property
    def n_inputs(self) -> int:
        return len(self.categories)

    @property
    def n_outputs(self) -> int:
        return sum(len(c) - (d is not None) for c, d in zip(self.categories, self.drop))

    def output_columns(self) -> list[tuple[int, object]]:
        """(input column, category) for each output column, in order."""
        out = []
        for j, (cats, d) in enumerate(zip(self.categories, self.drop)):
            out.extend((j, c) for k, c in enumerate(cats) if k != d)
        return out


@dataclass(frozen=True, eq=False)
class ColumnPart:
    """Columns ``columns`` of the input, run through ``steps`` (none: passthrough)."""

    columns: tuple[int, ...]
    steps: tuple["Transform", ...] = ()
    name: str = ""

    @property
    def n_outputs(self) -> int:
        n = len(self.columns)
        for s in self.steps:
            n = s.n_outputs
        return n


@dataclass(frozen=True, eq=False)
class ColumnTransformer:
    """Select columns per part, transform each part, concatenate the parts in order.

    Expresses scikit-learn's ColumnTransformer (remainder="passthrough" is one more part
    with no steps) and plain column selection (one part).
    """

    n_inputs: int
    parts: tuple[ColumnPart, ...]
    kind: str = field(default="column_transformer", init=False)

    @property
    def n_outputs(self) -> int:
        return sum(p.n_outputs for p in self.parts)


@dataclass(frozen=True, eq=False)
class TextVectorizer:
    """Bag of words over one string column, as scikit-learn's Count/TfidfVectorizer computes it.

    Per document: lowercase (if ``lowercase``), tokens = all matches of ``token_pattern``
    (Python ``re`` syntax, as scikit-learn uses it), drop ``stop_words``, add word n-grams for
    ``n`` in ``ngram_range`` (tokens joined by one space), count the terms found in
    ``vocabulary`` (output column order). Then: ``binary`` -> counts become 1;
    ``sublinear_tf`` -> ``1 + log(count)``; ``idf`` -> multiply each column by it; ``norm``
    "l2"/"l1" -> divide the row by its norm (rows of zeros stay zero).

    Attributes
    ----------
    vocabulary : tuple of str
        Term of each output column.
    idf : float64 array (n_terms,) or None
    """

    vocabulary: tuple[str, ...]
    token_pattern: str
    lowercase: bool = True
    ngram_range: tuple[int, int] = (1, 1)
    stop_words: tuple[str, ...] = ()
    binary: bool = False
    sublinear_tf: bool = False
    idf: np.ndarray | None = None
    norm: Literal["l1", "l2"] | None = None
    kind: str = field(default="text", init=False)

    @property
    def n_inputs(self) -> int:
        return 1

    @property
    def n_outputs(self) -> int:
        return len(self.vocabulary)


@dataclass(frozen=True, eq=False)
class ZeroAsMissing:
    """Turn exact zeros into missing values (NaN).

    XGBoost reads a sparse matrix's absent entries as *missing*, not as 0: a TF-IDF or
    one-hot step with sparse output feeding XGBoost is exactly this followed by the trees.
    """

    n_inputs: int
    kind: str = field(default="zero_as_missing", init=False)

    @property
    def n_outputs(self) -> int:
        return self.n_inputs


Transform = Union[Scaler, Imputer, OneHotEncoder, ColumnTransformer, TextVectorizer, ZeroAsMissing]
TRANSFORM_KINDS = ("scaler", "imputer", "one_hot", "column_transformer", "text", "zero_as_missing")
