"""scikit-learn's token patterns (Python ``re``) restated for other regular-expression engines.

A ``TextVectorizer`` tokenizes with ``re.findall(token_pattern, doc)``. Other targets have
other engines: RE2 in onnxruntime's ``Tokenizer``, ``java.util.regex`` in Java and in
JPMML's ``TextIndex``, ECMAScript in JavaScript. Their ``\\w``, ``\\d`` and ``\\b`` are ASCII
(RE2's ``\\b`` always is), Python's are Unicode. :func:`token_regex` rewrites a pattern into
one that finds the same tokens in every document, or refuses with ``UnsupportedFeatureError``:

* Python's ``\\w`` (``str.isalnum()`` or ``_``) is ``[\\p{L}\\p{N}_]`` and ``\\d`` (decimal
  digits) is ``\\p{Nd}`` in all three engines (JavaScript with the ``u`` flag). The tables
  are each engine's Unicode version; ``tests/test_text_routes.py`` measures all of the BMP.
* ``\\b`` cannot be restated. It is dropped where it cannot change ``findall``'s result:
  around a word run with no upper bound (``\\b\\w\\w+\\b``, scikit-learn's default, finds the
  maximal runs of two or more word characters, exactly as ``\\w{2,}`` does; a scan never
  starts inside a run, because a greedy unbounded run always ends where the run ends).
* Other patterns pass only if they are plain ASCII classes, literals and quantifiers, whose
  meaning is the same everywhere. Groups (``findall`` would return the group),
  look-around, flags, back-references and the Unicode-sensitive escapes are refused.
"""

from __future__ import annotations

import re

from ..errors import UnsupportedFeatureError

WORD = r"[\p{L}\p{N}_]"
DIGIT = r"\p{Nd}"

# \b <word-run with a lower bound and no upper bound> \b, with or without the \b's.
_RUN = re.compile(r"^(?:\(\?u\))?(\\b)?((?:\\w)*)\\w(\+|\*|\{(\d+),\})(\\b)?$")
_PLAIN = re.compile(r"^(?:[A-Za-z0-9 _\-.,;:!'\"#%&/<>=@~`]|\\[.\-+*?()\[\]{}|^$\\/]"
                    r"|\[(?:[^\]\\]|\\[\]\-\\^])+\]|[+*?]|\{\d+(?:,\d*)?\})+$")


def token_regex(pattern: str, *, target: str) -> str:
    """The pattern restated for RE2 / Java / JavaScript (``u`` flag) finding the same tokens.

    Parameters
    ----------
    pattern : str
        A ``TextVectorizer.token_pattern`` (Python ``re`` syntax).
    target : str
        What the regex is for, named in the error message (e.g. ``"ONNX"``).

    Raises
    ------
    UnsupportedFeatureError
        when no equivalent is known; the message names the pattern and what to use instead.

    Examples
    --------
    >>> token_regex(r"(?u)\\b\\w\\w+\\b", target="ONNX")
    '[\\\\p{L}\\\\p{N}_]{2,}'
    """
    m = _RUN.match(pattern)
    if m:
        lead, extra, quant, low, trail = m.groups()
        n_extra = len(extra) // 2
        if quant == "+":
            least = n_extra + 1
        elif quant == "*":
            least = n_extra
        else:
            least = n_extra + int(low)
        if least >= 1:  # \w* alone would find empty tokens
            return f"{WORD}{{{least},}}" if least > 1 else f"{WORD}+"
    if _PLAIN.match(pattern) and pattern.isascii():
        try:
            compiled = re.compile(pattern)
        except re.error:
            compiled = None
        if compiled is not None and compiled.groups == 0 and not compiled.match(""):
            return pattern
    raise UnsupportedFeatureError(
        f"{target} cannot reproduce the token_pattern {pattern!r} exactly (its regex engine "
        f"differs from Python's re). Use scikit-learn's default r\"(?u)\\b\\w\\w+\\b\", "
        f"r\"\\b\\w+\\b\" or a plain ASCII pattern such as r\"[a-z]+\", or export with "
        f"--format python.")
