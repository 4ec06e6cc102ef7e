"""scikit-learn's token patterns (Python ``re``) restated for other regular-expression engines.

A ``TextVectorizer`` tokenizes with ``re.findall(token_pattern, doc)``. Other targets have
other engines: RE2 in onnxruntime's ``Tokenizer`` (``dialect="re2"``), ``java.util.regex``
in Java and in JPMML's ``TextIndex`` (``"java"``), ECMAScript with the ``u`` flag in
JavaScript (``"js"``). Their ``\\w``, ``\\d`` and ``\\b`` are ASCII (RE2's ``\\b`` always is),
Python's are Unicode. :func:`token_regex` rewrites a pattern into one that finds the same
tokens in every document, or refuses with ``UnsupportedFeatureError``:

* Python's ``\\w`` (``str.isalnum()`` or ``_``) is ``[\\p{L}\\p{N}_]`` and ``\\d`` (decimal
  digits) is ``\\p{Nd}`` in all three engines. The tables are each engine's Unicode version;
  ``tests/test_onnx_text.py``, ``test_pmml_text.py`` and ``test_native_text.py`` measure
  every code point.
* ``\\b`` cannot be restated. It is dropped where it cannot change ``findall``'s result:
  around a word run with no upper bound (``\\b\\w\\w+\\b``, scikit-learn's default, finds the
  maximal runs of two or more word characters, exactly as ``\\w{2,}`` does; a scan never
  starts inside a run, because a greedy unbounded run always ends where the run ends).
* Other patterns pass only if they are plain ASCII: literals, escaped punctuation, classes,
  ``.`` and quantifiers. Each is then respelled where an engine reads it differently: ``.``
  becomes ``[^\\n]`` (Java and JavaScript also stop at ``\\r`` and U+2028...), ``[`` in a class
  is escaped (a nested class in Java, ``[:`` a POSIX class in RE2) and so is ``&`` for Java
  (``&&`` intersects), ``\\-`` outside a
  class becomes ``-`` for JavaScript (an error in its ``u`` mode), and possessive
  quantifiers, which only Python and Java have, are refused elsewhere. Groups (``findall``
  would return the group), alternation, anchors, look-around, flags, back-references and
  the Unicode-sensitive escapes are refused.
"""

from __future__ import annotations

import re

from ..errors import UnsupportedFeatureError

WORD = r"[\p{L}\p{N}_]"
DIALECTS = ("re2", "java", "js")

# \b <word-run with a lower bound and no upper bound> \b, with or without the \b's.
_RUN = re.compile(r"^(?:\(\?u\))?(\\b)?((?:\\w)*)\\w(\+|\*|\{(\d+),\})(\\b)?$")
_PLAIN = re.compile(r"^(?:[A-Za-z0-9 _\-.,;:!'\"#%&/<>=@~`]|\\[.+*?()\[\]{}|^$\\/\-]"
                    r"|\[(?:[^\]\\]|\\[\]\-\\^])+\]|[+*?][?+]?|\{\d+(?:,\d*)?\}[?+]?)+$")


def token_regex(pattern: str, *, target: str, dialect: str = "re2") -> str:
    """The pattern restated for ``dialect`` so that it finds the same tokens as Python.

    Parameters
    ----------
    pattern : str
        A ``TextVectorizer.token_pattern`` (Python ``re`` syntax).
    target : str
        What the regex is for, named in the error message (e.g. ``"ONNX"``).
    dialect : "re2", "java" or "js"
        The engine that will compile it (JavaScript: with the ``u`` flag).

    Raises
    ------
    UnsupportedFeatureError
        when no equivalent is known; the message names the pattern and what to use instead.

    Examples
    --------
    >>> token_regex(r"(?u)\\b\\w\\w+\\b", target="ONNX")
    '[\\\\p{L}\\\\p{N}_]{2,}'
    >>> token_regex(r"[a-z]+.", target="JavaScript", dialect="js")
    '[a-z]+[^\\\\n]'
    """
    if dialect not in DIALECTS:
        raise ValueError(f"dialect must be one of {DIALECTS}, not {dialect!r}")
    m = _RUN.match(pattern)
    if m:
        lead, extra, quant, low, trail = m.groups()
        n_extra = len(extra) // 2
        least = n_extra + {"+": 1, "*": 0}.get(quant, int(low or 0))
        if least >= 1:  # \w* alone would find empty tokens
            return f"{WORD}{{{least},}}" if least > 1 else f"{WORD}+"
    elif _PLAIN.match(pattern) and pattern.isascii():
        try:
            compiled = re.compile(pattern)
        except re.error:
            compiled = None
        if compiled is not None and compiled.groups == 0 and not compiled.match(""):
            return _respell(pattern, dialect, target)
    raise UnsupportedFeatureError(
        f"{target} cannot reproduce the token_pattern {pattern!r} exactly (its regex engine "
        f"differs from Python's re). Use scikit-learn's default r\"(?u)\\b\\w\\w+\\b\", "
        f"r\"\\b\\w+\\b\" or a plain ASCII pattern such as r\"[a-z]+\", or export with "
        f"--format python.")


def _respell(pattern: str, dialect: str, target: str) -> str:
    out: list[str] = []
    for atom in _atoms(pattern):
        if atom == "+" and out and out[-1] in ("+", "*", "?", "}") and dialect != "java":
            raise UnsupportedFeatureError(
                f"{target} cannot reproduce the token_pattern {pattern!r} exactly: its regex "
                f"engine has no possessive quantifiers; export with --format python or java.")
        if atom == ".":
            atom = "[^\\n]"
        elif atom == "\\-" and dialect == "js":
            atom = "-"
        elif atom.startswith("[") and len(atom) > 1:
            # Java nests "[" classes and intersects with "&&"; RE2 reads "[:" as a POSIX class.
            atom = _escape_in_class(atom, "[&" if dialect == "java" else "[")
        out.append(atom)
    return "".join(out)


def _escape_in_class(cls: str, chars: str) -> str:
    body, i, out = cls[1:-1], 0, "["
    while i < len(body):
        step = 2 if body[i] == "\\" else 1
        out += "\\" + body[i] if body[i] in chars else body[i:i + step]
        i += step
    return out + "]"


def _atoms(rx: str) -> list[str]:
    """``rx`` split into ``\\x`` escapes, whole ``[...]`` classes and single characters."""
    out, i = [], 0
    while i < len(rx):
        if rx[i] == "\\":
            j = i + 2
        elif rx[i] == "[" and i + 1 < len(rx):
            j = i + 1
            if rx[j] == "^":
                j += 1
            if j < len(rx) and rx[j] == "]":  # a leading "]" is a member
                j += 1
            while j < len(rx) and rx[j] != "]":
                j += 2 if rx[j] == "\\" else 1
            j += 1
        else:
            j = i + 1
        out.append(rx[i:j])
        i = j
    return out
