"""Request and response bodies: the content types every portable endpoint speaks.

One implementation serves ``portable serve``, ``portable transform``, the AWS Lambda handler
and the scikit-learn container's ``code/inference.py`` (whose generator inlines this file's
source). It therefore imports only the standard library at module level; numpy is imported
inside the two functions that need it (``application/x-npy`` and array formatting), so the
Lambda zip, which has no numpy, can use everything else.

Requests (``Content-Type``; parameters such as ``charset`` are honoured, not required):

* ``text/csv``: one row per line, no label column; a first line equal to the feature names
  is a header and skipped; empty cells, ``nan``, ``na`` and ``null`` are missing values.
* ``application/json``: ``[[...], ...]``, one row ``[...]``, ``{"instances": [...]}``; a row
  may be an object keyed by feature name.
* ``application/jsonlines``: one JSON row (array or object) per line.
* ``application/x-npy``: a 1-D or 2-D numeric array (``numpy.save``; pickles refused).

Responses (``Accept``): ``text/csv`` (one line per row, trailing newline),
``application/json`` (``{"predictions": [[...], ...]}``), ``application/jsonlines`` (one
``[...]`` per line) and ``application/x-npy``. Numbers are written in the shortest text
that reads back to the same value of the prediction's dtype (float32 or float64), so no
response loses precision. Non-finite values are ``nan``/``inf`` in CSV and ``null`` in JSON.

Errors are :class:`CodecError` with the HTTP status they mean (400 bad rows, naming the
row and column; 406 no acceptable response type; 415 unsupported request type).
"""

from __future__ import annotations

import csv
import io
import json
from codecs import lookup as _lookup_codec

CSV = "text/csv"
_NAN = float("nan")
JSON = "application/json"
JSONLINES = "application/jsonlines"
NPY = "application/x-npy"
REQUEST_TYPES = (CSV, JSON, JSONLINES, NPY)
RESPONSE_TYPES = (CSV, JSON, JSONLINES, NPY)
ALIASES = {"application/x-jsonlines": JSONLINES, "application/jsonl": JSONLINES,
           "application/csv": CSV}
# InvokeEndpoint's body limit, which both AWS containers also enforce (6 MiB).
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
_MISSING = ("", "nan", "na", "null", "none")
# Python text codecs that are not character sets: punycode decodes in quadratic time
# (two minutes of CPU for 1 MiB), idna and undefined fail with a bare UnicodeError, the
# escape codecs interpret backslashes. A charset naming one is an unknown charset (415).
_NOT_CHARSETS = frozenset({"idna", "punycode", "undefined", "unicode-escape",
                           "raw-unicode-escape"})


class CodecError(Exception):
    """A request the endpoint cannot answer: ``status`` is the HTTP status it maps to.

    ``row`` (1-based line of a CSV or JSON Lines body, record of a JSON body) and
    ``column`` (1-based) locate bad input; :meth:`describe` renders them, shifting the row
    by ``row_offset`` when the body was one mini-batch of a larger file.
    """

    def __init__(self, status: int, message: str, *, kind: str | None = None,
                 row: int | None = None, column: int | None = None, name: str | None = None):
        self.status, self.message, self.kind = status, message, kind
        self.row, self.column, self.name = row, column, name
        super().__init__(self.describe())

    def describe(self, row_offset: int = 0) -> str:
        if self.row is None:
            return self.message
        where = f"{self.kind or 'input'} row {self.row + row_offset}"
        if self.column is not None:
            where += f", column {self.column}" + (f" ({self.name!r})" if self.name else "")
        return f"{where}: {self.message}"


class Schema:
    """What a request row must hold: feature count, names and which columns are strings."""

    __slots__ = ("feature_names", "string_columns", "n_features")

    def __init__(self, feature_names, string_columns=()):
        self.feature_names = tuple(feature_names)
        self.string_columns = frozenset(string_columns)
        self.n_features = len(self.feature_names)

    @classmethod
    def from_signature(cls, sig: dict) -> "Schema":
        """From a manifest's ``signature`` dict (``portable.ir.Signature.to_dict()``)."""
        types = sig.get("feature_types") or ()
        return cls(sig["feature_names"], [j for j, t in enumerate(types) if t == "string"])


# ----------------------------------------------------------------------------- media types
def parse_media_type(value: str | None) -> tuple[str, dict]:
    """``"text/csv; charset=UTF-8"`` -> ``("text/csv", {"charset": "UTF-8"})`` (lower-cased
    type, aliases resolved); None or empty -> ``("", {})``."""
    if not value:
        return "", {}
    head, *rest = value.split(";")
    params = {}
    for p in rest:
        k, _, v = p.partition("=")
        if k.strip():
            params[k.strip().lower()] = v.strip().strip('"')
    mime = head.strip().lower()
    return ALIASES.get(mime, mime), params


def negotiate(accept: str | None, default: str, offered=RESPONSE_TYPES) -> str:
    """The response type for an ``Accept`` header: the highest-q offered type; a missing
    header or a wildcard gives ``default``. Raises CodecError(406) when nothing fits."""
    if not accept or not accept.strip():
        return default
    choices = []
    for i, part in enumerate(accept.split(",")):
        mime, params = parse_media_type(part)
        try:
            q = float(params.get("q", "1"))
        except ValueError:
            q = 1.0
        if mime and q > 0:
            choices.append((-q, i, mime))
    for _, _, mime in sorted(choices):
        if mime in offered:
            return mime
        if mime == "*/*" or (mime.endswith("/*") and default.startswith(mime[:-1])):
            return default
        if mime.endswith("/*"):
            for o in offered:
                if o.startswith(mime[:-1]):
                    return o
    raise CodecError(406, f"Cannot answer with {accept[:100]!r}; this endpoint returns "
                          f"{', '.join(offered)}.")


# ----------------------------------------------------------------------------- decoding
def decode(body, content_type: str | None, schema: Schema, *, accepted=REQUEST_TYPES):
    """Parse a request body into rows for ``schema``.

    Returns a list of rows (floats, NaN for missing; str in string columns), or a numpy
    array for ``application/x-npy``. Raises CodecError (400 bad rows, 415 bad type).
    """
    mime, params = parse_media_type(content_type)
    if not mime:
        raise CodecError(415, f"The request has no Content-Type; send one of "
                              f"{', '.join(accepted)}.")
    if mime not in accepted:
        raise CodecError(415, f"Content-Type {mime[:100]!r} is not supported; send one of "
                              f"{', '.join(accepted)}.")
    if not body:
        raise CodecError(400, "The request body is empty; send at least one row.")
    if mime == NPY:
        return _decode_npy(body if isinstance(body, bytes) else body.encode("latin-1"), schema)
    text = _text(body, params.get("charset"))
    if mime == CSV:
        rows = _decode_csv(text, schema)
    elif mime == JSON:
        rows = _decode_json(text, schema)
    else:
        rows = _decode_jsonlines(text, schema)
    if not rows:
        raise CodecError(400, "The request holds no rows (only blank lines or a header).")
    return rows


def _text(body, charset: str | None) -> str:
    if isinstance(body, str):
        return body
    enc = (charset or "utf-8").lower()
    try:
        name = _lookup_codec(enc).name
    except (LookupError, ValueError):  # ValueError: a NUL in the name
        name = None
    try:
        if name is None or name in _NOT_CHARSETS:
            raise LookupError(enc)
        text = bytes(body).decode(enc)
    except LookupError:  # also codecs that are not text encodings (hex, base64, rot13)
        raise CodecError(415, f"Unknown charset {charset[:40]!r}; send UTF-8.") from None
    except UnicodeError as e:  # UnicodeDecodeError, or the bare UnicodeError of some codecs
        at = f" (byte {e.start})" if isinstance(e, UnicodeDecodeError) else ""
        raise CodecError(400, f"The body is not valid {enc} text{at}.") from None
    return text[1:] if text.startswith("\ufeff") else text


def _cell(value, j: int, schema: Schema, kind: str, row: int):
    """One cell to a float (or str in a string column); errors name row and column."""
    if j in schema.string_columns:
        return None if value is None else str(value)  # None: a missing category
    if value is None:
        return float("nan")
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        # Not json.dumps(value) for a list or object: it may be huge, or nested too
        # deeply to serialise again.
        what = ("an array" if isinstance(value, list) else "an object"
                if isinstance(value, dict) else json.dumps(value))
        raise CodecError(400, f"{what} is not a number.", kind=kind,
                         row=row, column=j + 1, name=schema.feature_names[j])
    if isinstance(value, str):
        v = value.strip()
        if v.lower() in _MISSING:
            return float("nan")
        try:
            return float(v)
        except ValueError:
            raise CodecError(400, f"{v[:40]!r} is not a number.", kind=kind, row=row,
                             column=j + 1, name=schema.feature_names[j]) from None
    try:
        return float(value)
    except OverflowError:  # an integer beyond float64: infinite, as the same digits in CSV
        return float("inf") if value > 0 else float("-inf")


def _decode_csv(text: str, schema: Schema) -> list:
    n, out = schema.n_features, []
    reader = csv.reader(io.StringIO(text))
    first = True
    numeric_only = not schema.string_columns
    while True:
        start = reader.line_num + 1  # the physical line this record starts on
        try:
            rec = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            raise CodecError(400, f"malformed CSV ({e}).", kind="CSV", row=start) from None
        if not rec or (n > 1 and len(rec) == 1 and not rec[0].strip()):
            continue  # blank lines are not records (",,," is: a row of missing values)
        if first and [c.strip() for c in rec] == list(schema.feature_names):
            first = False
            continue
        first = False
        if len(rec) != n:
            raise CodecError(400, f"{len(rec)} columns; the model expects {n} "
                                  f"(no label column, no index).", kind="CSV", row=start)
        if numeric_only:
            try:  # fast path: every cell a plain number or empty (missing)
                out.append([float(c) if c else _NAN for c in rec])
                continue
            except ValueError:
                pass
        out.append([_cell(c, j, schema, "CSV", start) for j, c in enumerate(rec)])
    return out


def _row(obj, schema: Schema, kind: str, row: int) -> list:
    n = schema.n_features
    if isinstance(obj, dict):
        unknown = [k for k in obj if k not in schema.feature_names]
        if unknown:
            raise CodecError(400, f"unknown feature {unknown[0][:40]!r}; the model reads "
                                  f"{', '.join(schema.feature_names[:10])}"
                                  f"{', ...' if n > 10 else ''}.", kind=kind, row=row)
        missing = [k for k in schema.feature_names if k not in obj]
        if missing:
            raise CodecError(400, f"lacks feature {missing[0]!r} (send null for a missing "
                                  f"value).", kind=kind, row=row)
        obj = [obj[k] for k in schema.feature_names]
    if not isinstance(obj, list):
        raise CodecError(400, "is not a list of feature values or an object keyed by "
                              "feature name.", kind=kind, row=row)
    if len(obj) != n:
        raise CodecError(400, f"{len(obj)} values; the model expects {n}.", kind=kind, row=row)
    return [_cell(v, j, schema, kind, row) for j, v in enumerate(obj)]


def _decode_json(text: str, schema: Schema) -> list:
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise CodecError(400, f"The body is not valid JSON: {e}.") from None
    except RecursionError:
        raise CodecError(400, "The JSON body is nested too deeply.") from None
    if isinstance(doc, dict):
        if "instances" not in doc:
            raise CodecError(400, 'A JSON object body needs an "instances" list of rows.')
        doc = doc["instances"]
    if not isinstance(doc, list):
        raise CodecError(400, "A JSON body is a list of rows, one row, or "
                              '{"instances": [...]}.')
    if doc and not isinstance(doc[0], (list, dict)):
        doc = [doc]  # a single row
    return [_row(r, schema, "JSON", i + 1) for i, r in enumerate(doc)]


def _decode_jsonlines(text: str, schema: Schema) -> list:
    out = []
    for i, line in enumerate(text.splitlines()):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as e:
            raise CodecError(400, f"not valid JSON ({e}).", kind="JSON Lines", row=i + 1) from None
        except RecursionError:
            raise CodecError(400, "nested too deeply.", kind="JSON Lines", row=i + 1) from None
        out.append(_row(obj, schema, "JSON Lines", i + 1))
    return out


def _decode_npy(body: bytes, schema: Schema):
    import numpy as np

    try:
        arr = np.load(io.BytesIO(body), allow_pickle=False)
    except ValueError as e:
        raise CodecError(400, f"The body is not a readable .npy array without pickles "
                              f"({e}).") from None
    except Exception as e:  # a truncated or foreign file: numpy raises assorted types
        raise CodecError(400, f"The body is not a .npy array ({type(e).__name__}).") from None
    if not isinstance(arr, np.ndarray):  # np.load also opens .npz (zip) archives
        raise CodecError(400, "The body is a .npz archive; send one .npy array.")
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise CodecError(400, f"The .npy array has shape {arr.shape}; send (rows, "
                              f"{schema.n_features}).")
    if arr.shape[1] != schema.n_features:
        raise CodecError(400, f"The .npy array has {arr.shape[1]} columns; the model "
                              f"expects {schema.n_features}.")
    if schema.string_columns:
        return arr.astype(object)
    if arr.dtype.kind not in "fiub":
        raise CodecError(400, f"The .npy array has dtype {arr.dtype}; send numbers.")
    return arr.astype(np.float64)  # float32 widens exactly; float64 is kept as sent


# ----------------------------------------------------------------------------- encoding
def f32_token(v: float) -> str:
    """Shortest ``%g`` text that reads back as the float32 value ``v`` (pure Python)."""
    if v != v or v in (float("inf"), float("-inf")):
        return repr(v)
    from array import array

    for digits in range(6, 10):
        s = "%.*g" % (digits, v)
        if array("f", [float(s)])[0] == v:
            return s
    return repr(v)


def tokens(values, *, float32: bool = False) -> list:
    """Rows of number text: shortest round-trip for the values' dtype (float32 stays
    float32-short), from a numpy array or a list of rows of Python floats (``float32``:
    the floats hold float32 values)."""
    if float32 and not hasattr(values, "dtype"):
        return [[f32_token(float(v)) for v in r] for r in values]
    if hasattr(values, "dtype"):
        import numpy as np

        a = values if values.ndim == 2 else values.reshape(len(values), -1)
        if a.dtype.kind in "iub":
            a = a.astype(np.float64)
        if a.dtype.kind == "f":
            return a.astype(str).tolist()  # numpy: shortest unique repr per dtype
        return [[str(v) for v in r] for r in a.tolist()]
    return [[v if isinstance(v, str) else repr(float(v)) for v in r] for r in values]


def _json_number(t: str) -> str:
    return "null" if t in ("nan", "inf", "-inf") else t


def encode(values, media: str, *, float32: bool = False) -> bytes:
    """Serialise predictions (2-D numpy array, or list of rows with ``float32`` telling
    whether they hold float32 values) as ``media``."""
    if media == NPY:
        import numpy as np

        buf = io.BytesIO()
        np.save(buf, np.asarray(values), allow_pickle=False)
        return buf.getvalue()
    rows = tokens(values, float32=float32)
    if media == CSV:
        return ("\n".join(",".join(r) for r in rows) + "\n").encode()
    arrays = ["[" + ",".join(_json_number(t) for t in r) + "]" for r in rows]
    if media == JSON:
        return ('{"predictions":[' + ",".join(arrays) + "]}").encode()
    if media == JSONLINES:
        return ("\n".join(arrays) + "\n").encode()
    raise CodecError(406, f"Cannot encode predictions as {media!r}.")


def error_body(status: int, message: str) -> bytes:
    """The JSON body of an error response (never a traceback)."""
    return json.dumps({"error": message, "status": status}).encode()
