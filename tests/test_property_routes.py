"""Property: random IR tree ensembles and linear models agree with ``portable.evaluate``
through every route whose runtime is installed (hypothesis draws the models)."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import portable
from portable import ir
from portable.converters import CONVERTERS
from portable.parity import compare
from portable.runtimes import RUNTIMES

EXAMPLES = int(os.environ.get("PORTABLE_PROPERTY_EXAMPLES", "12"))
ROUTES = ["onnx", "pmml", "pfa", "c", "python", "java", "javascript"]
# Links whose float32 math an engine may round differently from glibc's expf: a few ULP.
LINK_ULP = {"identity": 0, "logistic": 8, "exp": 4, "softmax": 8}


def _route_available(fmt):
    try:
        conv = CONVERTERS.get(fmt)
    except Exception:
        return False
    return RUNTIMES.get(conv.default_runtime).available() is None


AVAILABLE = [f for f in ROUTES if f in CONVERTERS.names() and _route_available(f)]


@st.composite
def trees(draw, n_features, n_values, fdt, max_depth):
    """A random tree grown breadth-first (children after parents, no recursion)."""
    depth_of = [0]
    feature, thr, left, right, dleft = [], [], [], [], []
    value = []
    i = 0
    while i < len(depth_of):
        grow = depth_of[i] < max_depth and (i == 0 or draw(st.booleans()))
        if grow:
            f = draw(st.integers(0, n_features - 1))
            base = draw(st.sampled_from([0.0, 0.5, 1.0, -2.25, 3.0e-3, 1e6]))
            t = np.float32(base) if fdt == np.float32 else np.float64(base) + draw(
                st.sampled_from([0.0, 1e-9, -1e-12]))
            feature.append(f)
            thr.append(t)
            left.append(len(depth_of))
            right.append(len(depth_of) + 1)
            dleft.append(draw(st.booleans()))
            depth_of += [depth_of[i] + 1, depth_of[i] + 1]
            value.append([0.0] * n_values)
        else:
            feature.append(-1)
            thr.append(0.0)
            left.append(-1)
            right.append(-1)
            dleft.append(False)
            value.append([draw(st.floats(-4, 4, allow_nan=False, width=32)) for _ in range(n_values)])
        i += 1
    return ir.Tree(np.array(feature, np.int32), np.array(thr, fdt), np.array(left, np.int32),
                   np.array(right, np.int32), np.array(dleft), np.array(value, fdt))


@st.composite
def ensembles(draw):
    xgb_like = draw(st.booleans())
    fdt = np.float32 if xgb_like else np.float64
    n_features = draw(st.integers(1, 4))
    n_classes = draw(st.sampled_from([0, 2, 3]))  # 0: regression
    link = ("softmax" if n_classes == 3 else "logistic" if n_classes == 2
            else draw(st.sampled_from(["identity", "exp"] if xgb_like else ["identity"])))
    n_out = 3 if n_classes == 3 else 1
    n_trees = draw(st.integers(1, 4))
    ts = []
    for k in range(n_trees * (n_out if xgb_like else 1)):
        t = draw(trees(n_features, 1 if xgb_like else n_out, fdt, draw(st.integers(1, 5))))
        if xgb_like and n_out > 1:
            t = ir.Tree(t.feature, t.threshold, t.left, t.right, t.default_left, t.value,
                        output_offset=k % n_out)
        ts.append(t)
    base = np.array([draw(st.floats(-1, 1, width=32)) for _ in range(n_out)], fdt)
    ens = ir.TreeEnsemble(trees=tuple(ts), n_features=n_features, n_outputs=n_out,
                          base_score=base, split_op="<" if xgb_like else "<=",
                          input_dtype="float32",
                          threshold_dtype="float32" if xgb_like else "float64",
                          accumulate_dtype="float32" if xgb_like else "float64",
                          aggregation="sum", post_transform=link)
    names = tuple(f"x{i}" for i in range(n_features))
    if n_classes:
        classes = tuple(range(n_classes))
        sig = ir.Signature(names, ("float64",) * n_features, "classification",
                           tuple(f"probability({c})" for c in classes), "probability", classes)
    else:
        sig = ir.Signature(names, ("float64",) * n_features, "regression", ("prediction",), "value")
    return ir.check_model(ir.Model(sig, (ens,), ir.Source("hypothesis", "0", "RandomEnsemble")))


def _rows(m, seed):
    X = portable.probe_rows(m, n=200, seed=seed)
    rng = np.random.default_rng(seed)
    extra = rng.normal(size=(20, m.n_features))
    extra[rng.random(extra.shape) < 0.2] = np.nan
    return np.vstack([X, extra])


@pytest.mark.parametrize("fmt", AVAILABLE)
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(m=ensembles(), seed=st.integers(0, 3))
def test_random_ensembles_agree_with_the_reference_on_every_route(fmt, tmp_path, m, seed):
    art = portable.convert(m, format=fmt).save(tmp_path / f"a{seed}", check=False)
    session = portable.load(art.path)
    try:
        X = _rows(m, seed)
        cls = m.signature.task == "classification"
        margin = compare(portable.evaluate(m, X, output="margin"),
                         session.predict(X, output="margin"), classification=cls)
        pred = compare(portable.evaluate(m, X), session.predict(X), classification=cls)
    finally:
        getattr(session, "close", lambda: None)()
    assert margin["max_ulp"] == 0, (fmt, margin)  # same path in every tree, same sums
    assert pred["label_flips"] == 0, (fmt, pred)
    assert pred["max_ulp"] <= LINK_ULP[m.estimator.post_transform] or pred["max_abs"] < 1e-6, (fmt, pred)


@st.composite
def linear_models(draw):
    n_features = draw(st.integers(1, 5))
    n_out = draw(st.sampled_from([1, 3]))
    coef = np.array([[draw(st.floats(-3, 3, width=32)) for _ in range(n_features)]
                     for _ in range(n_out)], np.float64)
    intercept = np.array([draw(st.floats(-1, 1, width=32)) for _ in range(n_out)])
    link = "softmax" if n_out == 3 else draw(st.sampled_from(["identity", "logistic"]))
    lin = ir.LinearModel(coef=coef, intercept=intercept, post_transform=link)
    scaler = ir.Scaler(n_inputs=n_features, subtract=np.full(n_features, 0.25),
                       divide=np.full(n_features, 1.5))
    names = tuple(f"x{i}" for i in range(n_features))
    if link == "identity":
        sig = ir.Signature(names, ("float64",) * n_features, "regression", ("prediction",), "value")
    else:
        classes = tuple(range(max(n_out, 2)))
        sig = ir.Signature(names, ("float64",) * n_features, "classification",
                           tuple(f"probability({c})" for c in classes), "probability", classes)
    return ir.check_model(ir.Model(sig, (scaler, lin), ir.Source("hypothesis", "0", "RandomLinear")))


@pytest.mark.parametrize("fmt", AVAILABLE)
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(m=linear_models())
def test_random_linear_models_agree_within_float64_rounding(fmt, tmp_path, m):
    art = portable.convert(m, format=fmt).save(tmp_path / "a", check=False)
    session = portable.load(art.path)
    try:
        X = np.random.default_rng(0).normal(size=(50, m.n_features)) * 10
        ref, got = portable.evaluate(m, X), session.predict(X)
    finally:
        getattr(session, "close", lambda: None)()
    r = compare(ref, got, classification=m.signature.task == "classification")
    assert r["label_flips"] == 0 and r["max_abs"] <= 1e-12 * max(1.0, np.abs(ref).max()), (fmt, r)
