"""Fuzz ``portable serve`` over real HTTP: hypothesis draws malformed requests (random bytes,
broken UTF-8, ragged CSV, odd JSON, .npy files, Content-Type / Accept / Content-Length
headers, chunked bodies) and sends each to one real server subprocess (2 workers) on
loopback. No answer may be a 5xx, every 4xx must explain itself in a readable body, no
worker may die, and the server must still answer /ping and predictions at the end.

``PORTABLE_PROPERTY_EXAMPLES`` sets the number of drawn requests (default 500).
"""

from __future__ import annotations

import http.client
import io
import json
import os
import socket
import time
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _serving_helpers import SMALL_VERIFY, Server, request, worker_pids, xgb_classifier

pytest.importorskip("uvicorn")
pytest.importorskip("xgboost")
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:.*Unknown file format")]

EXAMPLES = int(os.environ.get("PORTABLE_PROPERTY_EXAMPLES", "500"))
NAMES = ["f0", "f1", "f2", "f3", "f4"]   # xgb_classifier's features (checked in the fixture)
MAX_PAYLOAD = 6 * 1024 * 1024
RESPONSE_TYPES = {"text/csv", "application/json", "application/jsonlines", "application/x-npy"}
# What the endpoint may answer: a prediction, or a 4xx that says what to change.
ALLOWED = {200, 400, 406, 413, 415}


# ----------------------------------------------------------------------------- bodies
class Raw(str):
    """A literal token written into JSON text as is (numbers json.dumps cannot write)."""


RAW_TOKENS = ["1e999", "-1e999", "1e-999", "1" * 400, "-" + "9" * 330, "1" * 5000, "NaN",
              "Infinity", "-Infinity", "1.0e+", "01", "0x10", "tru", "'a'", "{", "]", "-"]
LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8),
                   st.sampled_from(["nan", "inf", "-inf", "1e999", "", " 1 ", "NA"]),
                   st.sampled_from(RAW_TOKENS).map(Raw))
KEYS = st.one_of(st.sampled_from(NAMES + ["instances", "F0", "x"]), st.text(max_size=6))
JSON_VALUES = st.recursive(
    LEAVES, lambda kids: st.lists(kids, max_size=6) | st.dictionaries(KEYS, kids, max_size=6),
    max_leaves=25)
ROW_LIST = st.lists(LEAVES, min_size=4, max_size=6)
ROW_OBJECT = st.dictionaries(st.sampled_from(NAMES + ["x"]), LEAVES, min_size=4, max_size=6)
ROWS = st.lists(ROW_LIST | ROW_OBJECT, max_size=4)
SHAPED = st.one_of(ROW_LIST, ROWS, st.builds(lambda r: {"instances": r}, ROWS),
                   st.builds(lambda r: {"instances": r}, JSON_VALUES))


def dump(v) -> str:
    if isinstance(v, Raw):
        return str(v)
    if isinstance(v, list):
        return "[" + ",".join(map(dump, v)) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(json.dumps(str(k)) + ":" + dump(x) for k, x in v.items()) + "}"
    return json.dumps(v)


DEEP = st.builds(lambda depth, opener, close, inner: opener * depth + inner + (
    {"[": "]", '{"instances":': "}", '{"f0":': "}"}[opener] * depth if close else ""),
    st.sampled_from([2, 60, 900, 5000, 100_000]),
    st.sampled_from(["[", '{"instances":', '{"f0":']), st.booleans(),
    st.sampled_from(["", "1", "[1,2,3,4,5]", "{}", "null"]))
JSON_TEXT = st.one_of(JSON_VALUES.map(dump), SHAPED.map(dump), DEEP)
JSONLINES_TEXT = st.builds(lambda lines, eol: eol.join(lines),
                           st.lists(st.one_of(ROW_LIST.map(dump), ROW_OBJECT.map(dump),
                                              JSON_VALUES.map(dump), st.just("")), max_size=5),
                           st.sampled_from(["\n", "\r\n"]))

CELLS = st.one_of(
    st.floats().map(repr), st.integers().map(str), st.floats(width=32).map(str),
    st.sampled_from(["", " ", "nan", "NaN", "-nan", "inf", "-inf", "Infinity", "1e999",
                     "-1e999", "1e-999", "9" * 400, "0x1f", "1_000", "\u0661\u0662", "null",
                     "na", "None", "true", "abc", '"1.5"', '"1,5"', '"unterminated', '""""',
                     "\x00", "1\x002", "\t3\t", "\u00e9", "\ufeff1", "1" * 140_000]),
    st.text(max_size=12))
CSV_ROW = st.one_of(st.lists(CELLS, min_size=5, max_size=5), st.lists(CELLS, max_size=9))


@st.composite
def csv_text(draw):
    lines = [",".join(r) for r in draw(st.lists(CSV_ROW, max_size=6))]
    if draw(st.booleans()):
        lines.insert(0, ",".join(NAMES))
    for at in draw(st.lists(st.integers(0, len(lines)), max_size=2)):
        lines.insert(at, "")
    eol = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = eol.join(lines) + draw(st.sampled_from(["", eol]))
    return ("\ufeff" if draw(st.booleans()) else "") + text


@st.composite
def npy_body(draw):
    dtype = draw(st.sampled_from(["<f8", "<f4", ">f8", "<f2", "<i8", "|u1", "|b1", "<c16",
                                  "<U3", "<M8[s]", "|V0"]))
    shape = draw(st.sampled_from([(5,), (1, 5), (3, 5), (0, 5), (2, 4), (2, 5, 1), (), (0,)]))
    arr = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape).astype(dtype)
    buf = io.BytesIO()
    if draw(st.integers(0, 5)) == 0:
        np.savez(buf, a=arr)                       # an .npz archive, not an .npy file
    else:
        np.save(buf, arr)
    data = buf.getvalue()
    how = draw(st.sampled_from(["whole", "whole", "truncate", "shape"]))
    if how == "truncate":
        data = data[:draw(st.integers(0, len(data)))]
    elif how == "shape":                           # a header that lies about the shape
        lie = draw(st.sampled_from([b"10000000000000, 5", b"-1, 5", b"99999999999999999999, 5",
                                    b"2, 5", b"5, 10000000000"]))
        data = data.replace(b"'shape': (", b"'shape': (" + lie + b", ", 1)
    return data


# Well-formed rows of odd numbers: mostly answered 200, unless the headers are wrong.
NUMBERS = st.one_of(st.floats(), st.integers(), st.none(),
                    st.sampled_from(["1" * 400, "-1e999", "1e-320", "-0"]).map(Raw))


@st.composite
def good_body(draw):
    rows = draw(st.lists(st.lists(NUMBERS, min_size=5, max_size=5), min_size=1, max_size=5))
    media = draw(st.sampled_from(["text/csv", "application/json", "application/jsonlines"]))
    if media == "text/csv":
        cell = lambda v: "" if v is None else str(v) if isinstance(v, (Raw, int)) else repr(v)
        text = "".join(",".join(map(cell, r)) + "\n" for r in rows)
    elif media == "application/jsonlines":
        text = "\n".join(map(dump, rows))
    else:
        shape = draw(st.sampled_from(["rows", "instances", "objects"]))
        doc = rows[0] if shape == "rows" and len(rows) == 1 else rows
        if shape == "objects":
            doc = {"instances": [dict(zip(NAMES, r)) for r in rows]}
        elif shape == "instances":
            doc = {"instances": rows}
        text = dump(doc)
    return text.encode(), media


BAD_BYTES = [b"\xff", b"\xfe\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
             b"\xc0\xaf", b"\x00", b"\x80", b"\xef\xbb"]


@st.composite
def mangle(draw, data: bytes) -> bytes:
    """Truncate (maybe inside a multi-byte character) or splice in invalid UTF-8."""
    if draw(st.booleans()):
        return data[:draw(st.integers(0, len(data)))]
    at = draw(st.integers(0, len(data)))
    return data[:at] + draw(st.sampled_from(BAD_BYTES)) + data[at:]


@st.composite
def body_and_type(draw):
    """A body and the content type it would naturally be sent with."""
    kind = draw(st.sampled_from(["good", "good", "bytes", "csv", "csv", "json", "json",
                                 "jsonlines", "npy", "mangled"]))
    if kind == "good":
        return draw(good_body())
    if kind == "bytes":
        return draw(st.binary(max_size=2048)), draw(st.sampled_from(
            ["text/csv", "application/json", "application/jsonlines", "application/x-npy"]))
    if kind == "npy":
        return draw(npy_body()), "application/x-npy"
    media, text = draw(st.sampled_from([
        ("text/csv", csv_text()), ("application/json", JSON_TEXT),
        ("application/jsonlines", JSONLINES_TEXT)]))
    text = draw(text)
    enc = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-16", "latin-1"]))
    data = text.encode(enc, errors="replace")
    if draw(st.booleans()):
        media += draw(st.sampled_from([f"; charset={enc}", f';charset="{enc.upper()}"']))
    if kind == "mangled":
        data = draw(mangle(data))
    elif draw(st.integers(0, 9)) == 0:             # above INLINE_BYTES: scored on a thread
        data = (data + b"\n") * (65 * 1024 // (len(data) + 1) + 1)
    return data, media


# ----------------------------------------------------------------------------- headers
HEADER_TEXT = st.text(st.characters(codec="latin-1", exclude_characters="\r\n"), max_size=40)
MEDIA = st.sampled_from([
    "text/csv", "TEXT/CSV", "application/json", "application/jsonlines",
    "application/x-jsonlines", "application/jsonl", "application/csv", "application/x-npy",
    "text/plain", "application/octet-stream", "multipart/form-data; boundary=x", "*/*",
    "text/*", "", "csv", "application/x-recordio-protobuf", "text/libsvm", "application/json+x"])
PARAMS = st.sampled_from([
    "", "; charset=utf-8", "; charset=UTF-16", ";charset=latin-1", '; charset="utf-8"',
    "; charset=bogus", "; charset=punycode", "; charset=idna", "; charset=undefined",
    "; charset=unicode_escape", "; charset=hex", "; charset=rot13", "; charset=", "; charset=utf-32",
    "; charset=utf-7", "; q=0.5", ";;", "; header=present", "; charset=utf-8; charset=ascii",
    "; charset=" + "x" * 300])
CONTENT_TYPES = st.one_of(st.none(), st.builds(str.__add__, MEDIA, PARAMS), HEADER_TEXT)
ACCEPT_PARTS = st.sampled_from([
    "text/csv", "application/json", "application/jsonlines", "application/x-npy", "*/*",
    "text/*", "application/*", "image/png", "text/html", "", "*", "/", "application/json;q=0",
    "text/csv;q=abc", "text/csv;q=nan", "text/csv;q=1e999", "text/csv;q=-1",
    "application/jsonlines;q=0.2", "text/csv; charset=utf-8", ",,,", "x" * 300])
ACCEPTS = st.one_of(st.none(), st.none(), st.none(), ACCEPT_PARTS, st.lists(ACCEPT_PARTS, max_size=4).map(", ".join),
                    HEADER_TEXT)
# Content-Length headers that cannot make the server wait for bytes that never come:
# not numbers, negative, beyond the 6 MiB limit, or no more than the bytes sent.
ABSURD_LENGTHS = st.sampled_from([
    "abc", "-1", "1e3", "0x10", "+5", "5, 5", " ", "\xd9\xa1", "99999999999999999999999999999",
    str(2**63), str(2**64 + 1), str(MAX_PAYLOAD + 1), str(10**12)])


class Req:
    """One drawn request (its repr shortens the body: a failure report stays readable)."""

    def __init__(self, body, headers, chunks):
        self.body, self.headers, self.chunks = body, headers, chunks

    def __repr__(self):
        b = self.body if len(self.body) <= 200 else self.body[:200] + b"..."
        return f"Req({len(self.body)} bytes {b!r}, {self.headers!r}, chunked={self.chunks is not None})"


@st.composite
def requests_(draw):
    body, natural = draw(body_and_type())
    headers = {}
    ctype = natural if draw(st.booleans()) else draw(CONTENT_TYPES)
    if ctype is not None:
        headers["Content-Type"] = ctype
    accept = draw(ACCEPTS)
    if accept is not None:
        headers["Accept"] = accept
    # The server may answer a bad Content-Length or chunk header at once and close the
    # connection: only with a small body is it sure to be sent in full before that (into
    # the socket buffers), so that the client gets to read the answer.
    small = len(body) <= 16 * 1024
    how = draw(st.sampled_from(["plain"] * 5 + ["absurd-length"] * 2 + ["short-length",
                                                                      "chunked"]))
    if how == "absurd-length" and small:
        headers["Content-Length"] = draw(ABSURD_LENGTHS)
    elif how == "short-length" and small:
        headers["Content-Length"] = str(draw(st.integers(0, len(body))))
    chunks = None
    if how == "chunked":
        cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=4)))
        chunks = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)]) if b > a]
        if small and draw(st.integers(0, 3)) == 0:  # a chunk size line that is not hex
            chunks.insert(draw(st.integers(0, len(chunks))), None)
    return Req(body, headers, chunks)


# ----------------------------------------------------------------------------- transport
def send_chunked(port, headers, chunks, timeout=20):
    """POST /invocations with ``Transfer-Encoding: chunked`` over a raw socket; a None
    chunk is sent as an invalid size line."""
    head = "POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    data = (head + "Transfer-Encoding: chunked\r\n\r\n").encode("latin-1")
    for c in chunks:
        data += b"zz\r\n" if c is None else b"%x\r\n%s\r\n" % (len(c), c)
    data += b"0\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()


def check_answer(status, headers, body):
    """The rules every answer obeys; returns nothing, asserts."""
    assert status < 500, (status, body[:300])
    assert status in ALLOWED, (status, body[:300])
    if status == 200:
        assert headers.get("content-type") in RESPONSE_TYPES and body, (headers, body[:100])
        return
    text = body.decode("utf-8")                    # readable: UTF-8 text ...
    assert text.strip() and "Traceback" not in text, text
    if headers.get("content-type") == "application/json":
        doc = json.loads(text)                     # ... our JSON error ...
        assert doc["status"] == status and isinstance(doc["error"], str), doc
        assert doc["error"].strip() and len(doc["error"]) < 1000, doc
    else:                                          # ... or uvicorn's answer to a request
        assert status == 400, (status, text)       # it cannot parse (the app never sees it)


# ----------------------------------------------------------------------------- tests
@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from portable.packaging import package

    pkg = package(xgb_classifier(), flavor="onnx", out_dir=tmp_path_factory.mktemp("fuzz") / "pkg",
                  verify_options=SMALL_VERIFY)
    assert list(pkg.manifest["signature"]["feature_names"]) == NAMES
    s = Server([pkg.path, "--workers", "2"])
    try:
        s.wait()
        yield s, pkg
    finally:
        s.stop()


def _assert_healthy(s, pkg, workers_before):
    assert s.proc.poll() is None, s.read_log()
    assert worker_pids(s) == workers_before, "a worker died (and was replaced)\n" + s.read_log()
    assert s.call("GET", "/ping")[0] == 200
    body = (pkg.path / "samples/request.csv").read_bytes()
    status, _, got = s.call("POST", "/invocations", body, {"Content-Type": "text/csv"})
    assert (status, got) == (200, (pkg.path / "samples/response.csv").read_bytes())
    log = s.read_log()
    for sign in ("Traceback", "internal error", "Exception in ASGI application"):
        assert sign not in log, log


def test_random_malformed_requests_never_get_a_5xx(server, record_property):
    s, pkg = server
    workers = worker_pids(s)
    assert len(workers) == 2
    statuses, sent = Counter(), [0]

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.large_base_example])
    @given(req=requests_())
    def one(req):
        body, headers, chunks = req.body, req.headers, req.chunks
        if chunks is None:
            status, h, got = request(s.port, "POST", "/invocations", body, headers, timeout=20)
        else:
            status, h, got = send_chunked(s.port, headers, chunks)
        sent[0] += 1
        statuses[status] += 1
        check_answer(status, h, got)

    t0 = time.monotonic()
    one()
    seconds = time.monotonic() - t0
    _assert_healthy(s, pkg, workers)
    summary = {"examples": EXAMPLES, "requests": sent[0], "seconds": round(seconds, 1),
               "statuses": {str(k): v for k, v in sorted(statuses.items())},
               "5xx": sum(v for k, v in statuses.items() if k >= 500)}
    record_property("server_fuzz", json.dumps(summary))
    print(f"\nserver fuzz: {sent[0]} requests ({EXAMPLES} examples) in {seconds:.1f} s, "
          f"{len(statuses)} distinct statuses {summary['statuses']}, 5xx: {summary['5xx']}")
    assert summary["5xx"] == 0
    # The run met every answer the endpoint has (a generator stuck on one kind would not).
    if EXAMPLES >= 200:
        assert set(statuses) == ALLOWED, statuses


# Requests the fuzzer found to end in a 500 (now fixed), kept as fixed regression cases.
FOUND = [
    (b"[" * 100_000 + b"]" * 100_000, "application/json", 400, "nested too deeply"),
    (b"[" * 100_000, "application/jsonlines", 400, "nested too deeply"),
    (b"[[" + b"1" * 400 + b",1,1,1,1]]", "application/json", 200, None),   # an int past 1e308
    (b"1,2,3,4,5", "text/csv; charset=punycode", 415, "Unknown charset"),   # quadratic decoder
    (b"1,2,3,4,5", "text/csv; charset=undefined", 415, "Unknown charset"),  # bare UnicodeError
    (b"1,2,3,4,5", "text/csv; charset=utf\x008", 415, "Unknown charset"),   # ValueError
]


@pytest.mark.parametrize("body, ctype, want, words", FOUND)
def test_requests_that_once_got_a_500(server, body, ctype, want, words):
    s, _ = server
    if "\x00" in ctype:   # uvicorn refuses a NUL in a header, but Lambda and transform pass
        # headers to the same codec unchecked: test it directly.
        from portable.serving.codecs import CodecError, Schema, decode
        with pytest.raises(CodecError) as e:
            decode(body, ctype, Schema(NAMES))
        assert e.value.status == want and words in str(e.value)
        return
    status, headers, got = s.call("POST", "/invocations", body, {"Content-Type": ctype})
    check_answer(status, headers, got)
    assert status == want, got
    if words:
        assert words in json.loads(got)["error"]


def test_an_npz_archive_is_a_400_not_a_500(server):
    s, _ = server
    buf = io.BytesIO()
    np.savez(buf, a=np.zeros((1, 5)))
    status, headers, got = s.call("POST", "/invocations", buf.getvalue(),
                                  {"Content-Type": "application/x-npy"})
    check_answer(status, headers, got)
    assert status == 400 and ".npz" in json.loads(got)["error"]


def test_xgboost_builtin_answers_400_to_values_xgboost_refuses(tmp_path):
    """Found by this fuzzer against an xgboost-builtin server: a value that is infinite as
    a float32 (XGBoost raises "Input data contains `inf`") was a 500."""
    from portable.serving.handlers import open_model_dir

    (tmp_path / "m").mkdir()
    xgb_classifier().get_booster().save_model(str(tmp_path / "m" / "xgboost-model.json"))
    handler = open_model_dir(tmp_path / "m")
    assert handler.flavor == "xgboost-builtin"
    for cell in ("inf", "-1e999", "3.4028235677973366e+38", "1e39"):
        resp = handler.invoke(f"0,0,0,0,0\n0,0,0,0,{cell}\n".encode(), "text/csv", None)
        check_answer(resp.status, {"content-type": resp.content_type}, resp.body)
        assert resp.status == 400 and "data row 2, column 5" in json.loads(resp.body)["error"]
    resp = handler.invoke(b"0,0,0,0,3.4028234663852886e+38\n", "text/csv", None)  # float32 max
    assert resp.status == 200
