"""Parity gates: a package is written only if what the host will run predicts what the
model predicts.

* Converted flavors (``onnx``, ``pmml``, ``native``, Lambda's ``python``) ship an artifact:
  the gate is :func:`portable.verify` for that format (its route must run and pass).
* ``xgboost-builtin`` and ``sklearn`` ship the trained model itself, so there is no
  converter to verify; their gate runs the shipped bytes the way the AWS container will
  (the XGBoost container's loader; the generated ``code/inference.py`` handlers, fed CSV
  request bodies) on sampled, NaN and threshold-probe rows, and requires the responses to
  equal the source library's predictions exactly.
"""

from __future__ import annotations

import csv
import io

import numpy as np

from ..serving.codecs import CodecError


def gate_rows(ir_model, options: dict | None = None) -> dict:
    """Held-out-like, NaN and threshold-probe rows for ``ir_model`` (seeded)."""
    from ..probes import probe_rows, sample_rows

    o = {"n_rows": 500, "n_probe": 1000, "seed": 0, **(options or {})}
    rows = {"sampled": sample_rows(ir_model, o["n_rows"], seed=o["seed"]),
            "nan": sample_rows(ir_model, max(o["n_rows"] // 4, 1), seed=o["seed"] + 1,
                               nan_fraction=0.15),
            "probes": probe_rows(ir_model, n=o["n_probe"], seed=o["seed"])}
    if not any(t != "string" for t in ir_model.signature.feature_types):
        rows.pop("nan")
    return rows


def csv_body(X) -> bytes:
    """Rows as a CSV request body: shortest round-trip floats, empty cells for NaN."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for row in np.asarray(X, dtype=object):
        w.writerow(["" if v is None or (isinstance(v, float) and v != v)
                    else (repr(float(v)) if isinstance(v, (float, int, np.floating, np.integer))
                          else str(v)) for v in row])
    return buf.getvalue().encode()


def read_csv_numbers(body: bytes) -> np.ndarray:
    rows = [[float(c) for c in r] for r in csv.reader(io.StringIO(body.decode())) if r]
    return np.array(rows, dtype=np.float64)


def verify_gate(model, fmt: str, options: dict | None = None) -> dict:
    """:func:`portable.verify` on one format; passes only if its route ran and passed."""
    from ..verify import verify

    o = {"n_rows": 500, "n_nan": 250, "n_probe": 1000, **(options or {})}
    res = verify(model, formats=[fmt], **o)
    routes = {k: v for k, v in res["routes"].items() if v["format"] == fmt}
    ran = [r for r in routes.values() if r["status"] in ("passed", "failed", "error")]
    summary = {"kind": "verify", "format": fmt, "passed": bool(res["passed"] and ran),
               "source": res["source"]["status"], "rows": res["rows"],
               "routes": {k: {"status": v["status"], **({"reason": v["reason"]} if
                                                       v.get("reason") else {})}
                          for k, v in routes.items()}}
    for rid, r in routes.items():
        stages = r.get("results", {}).get("vs_reference", {})
        summary["routes"][rid]["max_abs"] = max(
            (s.get("max_abs", 0.0) for kind in stages.values() for s in kind.values()
             if "max_abs" in s), default=None)
    if not ran:
        summary["reason"] = "; ".join(f"{k}: {v.get('reason', v['status'])}"
                                      for k, v in routes.items()) or f"no {fmt} route"
    return summary


def _compare(ref: np.ndarray, got: np.ndarray) -> tuple[int, float]:
    ref = np.asarray(ref, np.float64).reshape(len(ref), -1)
    got = np.asarray(got, np.float64).reshape(len(got), -1)
    if ref.shape != got.shape:
        return len(ref), float("inf")
    same = (ref == got) | (np.isnan(ref) & np.isnan(got))
    with np.errstate(invalid="ignore"):
        diff = np.where(same, 0.0, np.abs(ref - got))
    return int(np.count_nonzero(~same.all(axis=1))), float(np.nan_to_num(diff, nan=np.inf).max(
        initial=0.0))


def xgboost_gate(booster_ref, handler, rows: dict, iteration_range=None) -> dict:
    """The shipped file through the container's loader, fed CSV bodies, against the
    source Booster's ``predict`` (float32 values, compared bit for bit)."""
    import xgboost as xgb

    out = {"kind": "container-parity", "compared_with": "xgboost Booster.predict",
           "container": "sagemaker-xgboost (loader emulated: pickle.load, then load_model)",
           "kinds": {}}
    kw = {"iteration_range": iteration_range} if iteration_range else {}
    for kind, X in rows.items():
        ref = booster_ref.predict(xgb.DMatrix(np.asarray(X, np.float64), missing=np.nan),
                                  validate_features=False, **kw)
        resp = handler.handle(csv_body(X), "text/csv", "text/csv")
        got = read_csv_numbers(resp.body)
        bad, max_abs = _compare(ref, got)
        out["kinds"][kind] = {"rows": int(len(X)), "mismatched_rows": bad, "max_abs": max_abs}
    out["passed"] = all(k["mismatched_rows"] == 0 for k in out["kinds"].values())
    return out


def script_gate(obj, ir_model, handler, rows: dict) -> dict:
    """The generated ``code/inference.py`` (CSV in, CSV out) against the estimator's own
    predictions; rows the estimator refuses (NaN) must be refused with a 400."""
    from ..source import source_predict

    out = {"kind": "container-parity", "compared_with": "scikit-learn predictions",
           "container": "sagemaker-scikit-learn (code/inference.py handlers)", "kinds": {}}
    for kind, X in rows.items():
        try:
            ref = source_predict(obj, ir_model, X, output="prediction")
        except ValueError:
            ref = None
        entry, status = {"rows": int(len(X))}, None
        try:
            got = np.concatenate([read_csv_numbers(handler.handle(
                csv_body(X[i:i + 1000]), "text/csv", "text/csv").body)
                for i in range(0, len(X), 1000)])
        except CodecError as e:
            got, status, entry["refused"] = None, e.status, f"{e.status}: {e}"[:300]
        if ref is None:  # the estimator refuses these rows: so must the endpoint
            entry.update(mismatched_rows=0 if status == 400 else len(X),
                         max_abs=0.0, note="the estimator refuses these rows")
        elif got is None:
            entry.update(mismatched_rows=len(X), max_abs=float("inf"))
        else:
            entry["mismatched_rows"], entry["max_abs"] = _compare(ref, got)
        out["kinds"][kind] = entry
    out["passed"] = all(k["mismatched_rows"] == 0 for k in out["kinds"].values())
    return out
