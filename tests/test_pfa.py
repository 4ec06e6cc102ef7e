"""PFA export, evaluated by titus2, against the reference evaluator.

Same zoo and contract as tests/test_pmml.py (0 label flips, margins of trees bit-exact,
predictions within the float32 rounding of the margin). The PFA document does float32
arithmetic itself (titus has doubles only), so float32 margins are asserted bit-exact
and float32 predictions within 1 ULP (a correctly rounded expf against glibc's). The
float32 encodings are also checked without titus, on numpy.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import portable
from portable import ir
from portable.converters._pfa_trees import VELTKAMP, left_test
from portable.parity import compare

from test_pmml import CASES, check_parity, fitted


@pytest.fixture(scope="session")
def titus():
    from portable.runtimes.titus import TitusRuntime

    why = TitusRuntime.available()
    if why:
        pytest.skip(why)
    return TitusRuntime


def _session(model, tmp_path, **options):
    from portable.api import convert

    art = convert(model, format="pfa", **options).save(tmp_path / "pfa", check=False)
    return portable.api.load(art.path)


# ----------------------------------------------------------------------------- parity
@pytest.mark.parametrize("name", CASES)
def test_titus_matches_the_reference_on_heldout_nan_and_threshold_rows(name, titus, tmp_path):
    _, model, rows = fitted(name)
    s = _session(model, tmp_path)
    est = model.estimator
    for kind, X in rows.items():
        X = X[:120]  # titus runs one record at a time
        stats = check_parity(model, X, s.predict(X, output="margin"), s.predict(X))
        if isinstance(est, ir.TreeEnsemble):
            assert stats["margin_ulp"] == 0, (kind, stats)
            if est.post_transform == "identity":
                assert stats["pred_ulp"] == 0, (kind, stats)
            elif est.accumulate_dtype == "float32":
                # Float32 links step by step, with a correctly rounded expf; the reference
                # uses glibc's expf, 1 ULP off for values within a hair of a midpoint.
                assert stats["pred_ulp"] <= 1, (kind, stats)
    if model.signature.task == "classification":
        X = rows["heldout"][:20]
        labels = s.labels(X)
        assert labels.tolist() == [str(c) for c in ir.labels(model, ir.evaluate(model, X))]


def test_yaml_document_gives_the_same_numbers(titus, tmp_path):
    _, model, rows = fitted("xgb_multi")
    X = rows["probe"][:60]
    a = _session(model, tmp_path / "json").predict(X)
    b = _session(model, tmp_path / "yaml", syntax="yaml").predict(X)
    assert np.array_equal(a, b)
    assert compare(ir.evaluate(model, X), a)["max_ulp"] <= 1


def test_unknown_category_raises_when_the_encoder_says_error(titus, tmp_path):
    from portable.errors import InputError

    _, model, rows = fitted("onehot_rf_multi")
    X = rows["heldout"][:3].copy()
    X[2, 1] = "XXL"
    with pytest.raises(InputError, match="row 2.*Unknown category"):
        _session(model, tmp_path).predict(X)


def test_exported_artifact_records_parity_from_titus(titus, tmp_path):
    est, _, _ = fitted("gb_binary")
    art = portable.api.export(est, format="pfa", out_dir=tmp_path / "a")
    parity = art.manifest["parity"]
    assert parity["checked"] and parity["runtime"] == "titus"
    assert parity["margin"]["max_ulp"] == 0 and parity["prediction"]["label_flips"] == 0


# ----------------------------------------------------------------------------- encodings
def test_veltkamp_split_rounds_doubles_to_float32_exactly():
    rng = np.random.default_rng(0)
    a = (rng.normal(size=200_000) * 10.0 ** rng.integers(-6, 6, 200_000)).astype(np.float32)
    b = (rng.normal(size=200_000) * 10.0 ** rng.integers(-6, 6, 200_000)).astype(np.float32)
    f = rng.normal(size=200_000).astype(np.float32)
    ties = (f.astype(float) + np.nextafter(f, np.float32(np.inf)).astype(float)) / 2
    e = rng.integers(-100, 100, 200_000)
    pow2 = np.ldexp(1 + rng.integers(-3, 4, 200_000) * 2.0 ** -25, e)
    for s in (a.astype(float) + b.astype(float), ties, pow2, -pow2):
        c = s * VELTKAMP
        assert np.array_equal(c - (c - s), s.astype(np.float32).astype(float))


@pytest.mark.parametrize("op, thr32", [("<", True), ("<=", False), ("<", False), ("<=", True)])
def test_split_tests_on_doubles_equal_the_float32_comparison(op, thr32):
    rng = np.random.default_rng(1)
    for t in rng.normal(size=300) * 10.0 ** rng.integers(-3, 4, 300):
        t = float(np.float32(t)) if thr32 else float(t)
        kind, v = left_test(t, op, True, thr32)
        assert kind == "lt"
        t32 = np.float32(t)
        grid = [np.nextafter(t32, np.float32(-np.inf)), t32, np.nextafter(t32, np.float32(np.inf))]
        xs = [float(g) for g in grid]
        xs += [(xs[0] + xs[1]) / 2, (xs[1] + xs[2]) / 2, t]  # float32 rounding ties
        xs += [float(np.nextafter(x, d)) for x in xs for d in (-np.inf, np.inf)]
        for x in xs:
            x32 = float(np.float32(x))
            want = x32 < t if op == "<" else x32 <= t
            assert (x < v) == want, (t, x, op)


def test_every_nan_goes_to_the_default_side_even_at_infinite_thresholds(titus, tmp_path):
    from test_pmml import nan_split_model

    model = nan_split_model()  # x <= +inf: "is not missing", both default directions
    X = np.array([[0.0], [1e300], [-np.inf], [np.inf], [np.nan]])
    got = _session(model, tmp_path).predict(X)
    assert got[:, 0].tolist() == ir.evaluate(model, X)[:, 0].tolist() == [101] * 4 + [1001]


def test_float_thresholds_and_leaves_are_exact_json_numbers():
    from portable.converters.pfa import to_pfa

    _, model, _ = fitted("xgb_reg")
    doc = to_pfa(model)
    text = json.dumps(doc, allow_nan=False)
    assert json.loads(text) == doc  # repr() floats: an exact round trip
    meta = doc["metadata"]
    assert meta["portable.dtype"] == "float32"
    assert json.loads(meta["portable.inputs"]) == list(model.signature.feature_names)


# ----------------------------------------------------------------------------- runtime
def test_shims_only_add_what_is_missing():
    import inspect

    from portable.runtimes.titus import apply_shims

    before = (getattr(inspect, "getargspec", None), getattr(np, "float_", None))
    apply_shims()
    added_again = apply_shims()
    assert added_again == []  # idempotent: nothing replaced on a second call
    assert inspect.getargspec is (before[0] or inspect.getfullargspec)
    assert np.float_ is (before[1] or np.float64)


def test_unavailable_titus_names_the_extra(monkeypatch):
    import importlib.util

    from portable.runtimes.titus import TitusRuntime

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda n, *a: None if n == "titus" else real(n, *a))
    assert 'pip install "portable[pfa]"' in TitusRuntime.available()


def test_pfa_and_pmml_share_the_margin_bits(titus, tmp_path):
    # Both documents fold base_score into the first tree: margins are identical bits.
    _, model, rows = fitted("xgb_binary")
    X = rows["probe"][:80]
    m = _session(model, tmp_path).predict(X, output="margin")
    assert compare(ir.evaluate(model, X, output="margin"), m)["max_ulp"] == 0


def test_deep_trees_and_odd_feature_names(titus, tmp_path):
    from _ir_factory import chain_tree

    from test_pmml import odd_names_model

    deep = chain_tree(400)  # titus decodes nested records recursively: needs a deeper stack
    X = np.arange(-1, 402, dtype=np.float64).reshape(-1, 1)
    assert np.array_equal(_session(deep, tmp_path / "deep").predict(X), ir.evaluate(deep, X))
    model, df = odd_names_model()
    s = _session(model, tmp_path / "odd")
    assert np.array_equal(s.predict(df), ir.evaluate(model, df))
