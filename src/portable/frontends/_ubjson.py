"""A small, iterative Universal Binary JSON (UBJSON, draft 12) decoder.

XGBoost writes its ``.ubj`` model files (and ``Booster.save_raw("ubj")``) in UBJSON: the
same document as the ``.json`` model, with numbers stored as big-endian binary. Decoding
it ourselves lets model files be imported without XGBoost installed.

Typed numeric arrays (``[$d#L<n>...``, how XGBoost stores every per-node array) become
numpy arrays read in one ``frombuffer`` call, so a model of millions of nodes decodes in
milliseconds. Containers are walked with an explicit stack, never by recursion, so a
deeply nested (or hostile) file cannot exhaust Python's stack. Every malformation raises
:class:`UBJSONError` (a ``ValueError``) naming the byte offset.
"""

from __future__ import annotations

import numpy as np

__all__ = ["UBJSONError", "loads"]


class UBJSONError(ValueError):
    """The bytes are not a well-formed UBJSON document."""


# Fixed-size scalar markers -> big-endian numpy dtype.
_NUMBERS = {
    b"i": np.dtype(">i1"), b"U": np.dtype(">u1"), b"I": np.dtype(">i2"),
    b"l": np.dtype(">i4"), b"L": np.dtype(">i8"), b"d": np.dtype(">f4"),
    b"D": np.dtype(">f8"),
}
_INTS = (b"i", b"U", b"I", b"l", b"L")
_CONSTANTS = {b"Z": None, b"T": True, b"F": False}
_END = {b"[": b"]", b"{": b"}"}


class _Frame:
    """An open container: what is decoded so far and how to read the rest."""

    __slots__ = ("value", "is_object", "remaining", "item_type", "key")

    def __init__(self, is_object: bool, remaining, item_type):
        self.value = {} if is_object else []
        self.is_object = is_object
        self.remaining = remaining  # None: ends with a closing marker
        self.item_type = item_type  # None: every item carries its own marker
        self.key = None


class _Reader:
    def __init__(self, data: bytes):
        self.data = memoryview(data)
        self.pos = 0

    def fail(self, msg: str):
        raise UBJSONError(f"{msg} at byte {self.pos}")

    def take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            self.fail(f"truncated: needs {n} more bytes, {len(self.data) - self.pos} left")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def marker(self) -> bytes:
        """The next type marker, skipping no-op ``N`` markers."""
        while True:
            m = bytes(self.take(1))
            if m != b"N":
                return m

    def peek(self) -> bytes:
        while self.pos < len(self.data) and self.data[self.pos:self.pos + 1] == b"N":
            self.pos += 1
        if self.pos >= len(self.data):
            self.fail("truncated: a container is not closed")
        return bytes(self.data[self.pos:self.pos + 1])

    def number(self, m: bytes):
        dt = _NUMBERS[m]
        v = np.frombuffer(self.take(dt.itemsize), dtype=dt)[0]
        return int(v) if m in _INTS else float(v)

    def length(self) -> int:
        m = self.marker()
        if m not in _INTS:
            self.fail(f"expected an integer length, found marker {m!r}")
        n = self.number(m)
        if n < 0:
            self.fail(f"negative length {n}")
        return n

    def string(self) -> str:
        raw = bytes(self.take(self.length()))
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self.fail("a string is not valid UTF-8")

    def scalar(self, m: bytes):
        """A non-container value of type ``m``; raises on unknown markers."""
        if m in _NUMBERS:
            return self.number(m)
        if m in _CONSTANTS:
            return _CONSTANTS[m]
        if m == b"S":
            return self.string()
        if m == b"C":
            return chr(self.take(1)[0])
        if m == b"H":  # high-precision number, stored as its decimal string
            text = self.string()
            try:
                return float(text)
            except ValueError:
                self.fail(f"bad high-precision number {text!r}")
        self.fail(f"unknown type marker {m!r}")

    def open(self, m: bytes):
        """Read a container header; returns a finished value (typed numeric array) or a frame."""
        item_type = remaining = None
        if self.peek() == b"$":
            self.pos += 1
            item_type = self.marker()
            if self.peek() != b"#":
                self.fail("a typed container needs a '#' count")
        if self.peek() == b"#":
            self.pos += 1
            remaining = self.length()
        if m == b"[" and item_type in _NUMBERS:
            dt = _NUMBERS[item_type]
            raw = self.take(remaining * dt.itemsize)
            return np.frombuffer(raw, dtype=dt).astype(dt.newbyteorder("="))
        # Each item takes at least one byte unless its type carries no payload; bound the
        # count by what is left so that a corrupt count cannot allocate without limit.
        left = len(self.data) - (0 if item_type in _CONSTANTS else self.pos)
        if remaining is not None and remaining > left:
            self.fail(f"container claims {remaining} items, only {left} bytes left")
        return _Frame(m == b"{", remaining, item_type)


def loads(data: bytes):
    """Decode one UBJSON document (dicts, lists, str, int, float, bool, None, numpy arrays).

    Raises
    ------
    UBJSONError
        When the bytes are truncated, malformed, or followed by trailing data.
    """
    r = _Reader(data)
    stack: list[_Frame] = []
    root = done = None

    def attach(value):
        nonlocal root, done
        if not stack:
            root, done = value, True
            return
        top = stack[-1]
        if top.is_object:
            top.value[top.key] = value
            top.key = None
        else:
            top.value.append(value)
        if top.remaining is not None:
            top.remaining -= 1

    while not done:
        if stack:
            top = stack[-1]
            between_items = not (top.is_object and top.key is not None)
            if between_items and (top.remaining == 0 or (
                    top.remaining is None and r.peek() == (b"}" if top.is_object else b"]"))):
                if top.remaining is None:
                    r.pos += 1
                stack.pop()
                attach(top.value)
                continue
            if top.is_object and top.key is None:
                top.key = r.string()
                continue
            m = top.item_type or r.marker()
        else:
            m = r.marker()
        if m in _END:
            got = r.open(m)
            if isinstance(got, _Frame):
                stack.append(got)
            else:
                attach(got)
        elif m in (b"]", b"}"):
            r.fail(f"unexpected {m!r}")
        else:
            attach(r.scalar(m))
    if r.pos != len(r.data):
        r.fail(f"{len(r.data) - r.pos} bytes of trailing data after the document")
    return root
