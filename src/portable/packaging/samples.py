"""Sample requests and the exact responses a deployed package must give them.

The responses come from the package's own handler (the same code ``portable serve`` runs),
on the model's golden rows; the gate has already compared that handler with the source
library, so the samples are a byte-exact smoke test for any endpoint serving the package.
One deliberately malformed CSV request documents the 400 answer.
"""

from __future__ import annotations

import json

import numpy as np

from ..serving import codecs
from ..serving.codecs import CSV, JSON, JSONLINES, CodecError
from .gates import csv_body

EXT = {CSV: "csv", JSON: "json", JSONLINES: "jsonl"}


def _cells(row) -> list:
    return [None if isinstance(v, (float, np.floating)) and v != v
            else (float(v) if isinstance(v, (float, int, np.floating, np.integer)) else str(v))
            for v in row]


def request_body(X, media: str) -> bytes:
    """Rows as a request body of type ``media`` (CSV, JSON ``{"instances"}``, JSON Lines)."""
    X = np.asarray(X, dtype=object)
    if media == CSV:
        return csv_body(X)
    rows = [_cells(r) for r in X]
    if media == JSON:
        return json.dumps({"instances": rows}).encode()
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def make_samples(handler, ir_model) -> tuple[list, dict]:
    """``(manifest entries, files)`` under ``samples/``."""
    from ..probes import golden_rows

    X = golden_rows(ir_model)
    try:
        handler.handle(request_body(X, CSV), CSV, CSV)
    except CodecError:  # the estimator refuses missing values: show rows it takes
        keep = [i for i, r in enumerate(np.asarray(X, dtype=object))
                if not any(isinstance(v, float) and v != v for v in r)]
        X = X[keep]
    entries, files = [], {}
    for accept in (t for t in handler.response_types if t in EXT):
        ctype = accept if accept in handler.request_types else CSV
        req = f"samples/request.{EXT[ctype]}"
        files[req] = request_body(X, ctype)
        resp = handler.handle(files[req], ctype, accept)
        files[f"samples/response.{EXT[accept]}"] = resp.body
        entries.append({"request": req, "content_type": ctype, "accept": accept,
                        "status": resp.status, "response": f"samples/response.{EXT[accept]}"})
    numeric = [j for j in range(handler.schema.n_features) if j not in handler.schema.string_columns]
    bad = np.asarray(X[:2], dtype=object).copy()
    if numeric:  # a word where a number belongs: 400 naming row 2 and that column
        bad[1, numeric[0]] = "not-a-number"
        body = request_body(bad, CSV)
    else:  # text-only models: one column too many
        body = request_body(bad, CSV).replace(b"\n", b",extra\n")
    files["samples/bad-request.csv"] = body
    try:
        handler.handle(files["samples/bad-request.csv"], CSV, CSV)
        status, message = 200, ""
    except CodecError as e:
        status, message = e.status, str(e)
    files["samples/bad-response.json"] = codecs.error_body(status, message)
    entries.append({"request": "samples/bad-request.csv", "content_type": CSV, "accept": CSV,
                    "status": status, "response": "samples/bad-response.json"})
    return entries, files
