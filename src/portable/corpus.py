"""A generated corpus of movie-review-like texts for the seed's sentiment walkthrough.

The seed trains XGBoost on IMDB reviews turned into bag-of-words vectors. Downloading IMDB
is not an option here, so :func:`reviews` writes reviews from a vocabulary and sentence
templates. What makes the task learnable but not trivial (a bag-of-words model scores
about 0.85-0.95 accuracy):

* mixed opinions: each opinion sentence agrees with the review's label only most of the
  time, and the label is the majority view of the sentences;
* negation: "not good" carries a positive word in a negative sentence, which unigram
  counts cannot read correctly;
* neutral filler sentences, scores out of 10, ``<br />`` tags (as in IMDB), shouting,
  typos and a few percent of flipped labels, as in any hand-labelled set.

Everything is drawn from one ``numpy.random.Generator`` seeded with ``seed``, so the same
``(n, seed)`` gives the same corpus on every machine.
"""

from __future__ import annotations

import numpy as np

LABELS = ("negative", "positive")
_AGREE = 0.85
_NEGATION = 0.12

POSITIVE = ("good", "great", "excellent", "wonderful", "brilliant", "superb", "enjoyable",
            "moving", "funny", "charming", "gripping", "beautiful", "masterful", "delightful",
            "memorable", "clever", "fresh", "touching", "stunning", "solid")
NEGATIVE = ("bad", "awful", "terrible", "boring", "dull", "weak", "predictable", "tedious",
            "clumsy", "forgettable", "messy", "lazy", "bland", "painful", "pointless",
            "confusing", "shallow", "cheap", "stale", "annoying")
ASPECTS = ("movie", "film", "plot", "story", "acting", "cast", "script", "dialogue", "ending",
           "soundtrack", "direction", "pacing", "cinematography", "lead actor", "villain",
           "humor", "special effects", "first act", "score", "editing")
INTENSIFIERS = ("", "", "", "very", "really", "truly", "quite", "incredibly", "rather", "so")
VERBS = {1: ("loved", "enjoyed", "adored", "liked", "admired"),
         0: ("hated", "disliked", "regretted", "resented", "endured")}
NEGATORS = ("not", "never", "hardly", "far from", "not at all")
FILLER = (
    "I watched it with my family on a Sunday afternoon.",
    "It runs a little over two hours.",
    "The director made three films before this one.",
    "I saw it at a festival last year.",
    "The trailer shows most of the story.",
    "It is based on a novel I have not read.",
    "My brother recommended it to me.",
    "The theater was half empty.",
    "It was shot in Canada over one summer.",
    "This is the second film in the series.",
    "I went in knowing nothing about it.",
    "The cast includes a few familiar faces.",
)

# Templates: {a} aspect, {i} intensifier, {w} opinion word, {v} verb, {n} negator.
_PLAIN = ("The {a} was {i} {w}.", "What a {w} {a}!", "The {a} is {i} {w}.",
          "Honestly, the {a} felt {i} {w}.", "{A} aside, the whole thing was {w}.",
          "I found the {a} {i} {w}.")
_NEGATED = ("The {a} was {n} {w}.", "I did not think the {a} was {w}.",
            "The {a} is {n} {i} {w}.", "Nobody would call the {a} {w}.")
_VERB = ("I {v} the {a}.", "I really {v} this {a}.", "Overall I {v} it.")


def reviews(n: int = 2000, seed: int = 0, *, label_noise: float = 0.03):
    """Generate ``n`` movie-review-like texts with binary sentiment labels.

    Parameters
    ----------
    n : int
        Number of reviews.
    seed : int
        Seed of the generator; the corpus is a pure function of ``(n, seed, label_noise)``.
    label_noise : float
        Fraction of labels flipped at random after writing (annotator mistakes).

    Returns
    -------
    texts : list of str
    labels : numpy.ndarray of int64, 1 = positive, 0 = negative (see ``LABELS``)

    Examples
    --------
    >>> texts, y = reviews(3, seed=1)
    >>> len(texts), y.dtype.name
    (3, 'int64')
    """
    if n < 0:
        from .errors import InputError
        raise InputError(f"reviews(n={n}): n must be >= 0.")
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        label = int(rng.integers(2))
        texts.append(_review(rng, label))
        labels.append(label)
    y = np.asarray(labels, dtype=np.int64)
    flip = rng.random(n) < label_noise
    y[flip] = 1 - y[flip]
    return texts, y


def _review(rng: np.random.Generator, label: int) -> str:
    # An odd number of opinion sentences, so that a majority view always exists; the
    # polarities are redrawn until that majority is the review's label.
    k = int(rng.choice([1, 3, 3, 5, 5, 7]))
    while True:
        pol = np.where(rng.random(k) < _AGREE, label, 1 - label)
        if 2 * np.count_nonzero(pol == label) > k:
            break
    sentences = [_opinion(rng, int(p)) for p in pol]
    for _ in range(int(rng.integers(0, 3))):
        sentences.insert(int(rng.integers(0, len(sentences) + 1)), str(rng.choice(FILLER)))
    if rng.random() < 0.25:  # a score out of 10, sometimes lukewarm whatever the label
        score = int(rng.integers(7, 11) if label else rng.integers(1, 5))
        if rng.random() < 0.3:
            score = int(rng.integers(5, 7))
        sentences.append(f"I'd give it {score}/10.")
    sep = " <br /><br />" if rng.random() < 0.2 else " "
    return sep.join(_noisy(rng, s) for s in sentences)


def _opinion(rng: np.random.Generator, polarity: int) -> str:
    aspect = str(rng.choice(ASPECTS))
    fill = {"a": aspect, "A": aspect.capitalize(), "i": str(rng.choice(INTENSIFIERS)),
            "n": str(rng.choice(NEGATORS))}
    r = rng.random()
    if r < _NEGATION:  # negation: the opposite word, negated, expresses this polarity
        fill["w"] = str(rng.choice(NEGATIVE if polarity else POSITIVE))
        template = str(rng.choice(_NEGATED))
    elif r < 0.4:
        fill["v"] = str(rng.choice(VERBS[polarity]))
        template = str(rng.choice(_VERB))
    else:
        fill["w"] = str(rng.choice(POSITIVE if polarity else NEGATIVE))
        template = str(rng.choice(_PLAIN))
    return " ".join(template.format(**fill).split())  # drop the gap an empty {i} leaves


def _noisy(rng: np.random.Generator, sentence: str) -> str:
    if rng.random() < 0.05:
        sentence = sentence.upper()
    if rng.random() < 0.1:
        sentence = sentence.rstrip(".") + "!!!"
    if rng.random() < 0.08:  # a typo: one letter dropped from one longer word
        words = sentence.split(" ")
        long = [j for j, w in enumerate(words) if len(w) > 4 and w.isalpha()]
        if long:
            j = int(rng.choice(long))
            c = int(rng.integers(1, len(words[j]) - 1))
            words[j] = words[j][:c] + words[j][c + 1:]
            sentence = " ".join(words)
    return sentence
