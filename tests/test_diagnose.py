"""Divergence localisation: for a mismatching row, the first tree and node where a runtime's
path leaves the reference path, found by search on a deliberately broken ONNX graph, on a
hand-made session over a modified IR, and on an upstream converter's real mismatches."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import portable
from portable import ir
from portable.diagnose import diagnose, localise, outputs_from_leaves, reprs
from portable.ir.evaluate import leaf_indices

xgb = pytest.importorskip("xgboost")
pytest.importorskip("sklearn")
from sklearn.datasets import load_breast_cancer, make_regression  # noqa: E402
from sklearn.ensemble import RandomForestRegressor  # noqa: E402


# The engines under test warn freely (converter versions, float casts); keep output readable.
pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture(scope="module")
def xgb_model():
    X, y = make_regression(n_samples=400, n_features=6, random_state=0)
    est = xgb.XGBRegressor(n_estimators=12, max_depth=4, n_jobs=1, random_state=0).fit(X, y)
    return portable.import_model(est)


def _row_reaching(tree: ir.Tree, node: int, n_features: int, rng) -> np.ndarray | None:
    """A float32 row that reaches ``node`` and sits exactly on its threshold (XGBoost '<')."""
    parents = tree.parents()
    x = rng.normal(size=n_features).astype(np.float32)
    used, child, p = {int(tree.feature[node])}, node, parents[node]
    while p != -1:
        f, t = int(tree.feature[p]), np.float32(tree.threshold[p])
        if f in used:
            return None  # the same feature twice on the path: pick another node
        used.add(f)
        x[f] = np.nextafter(t, np.float32(-np.inf)) if tree.left[p] == child else t
        child, p = p, parents[p]
    x[tree.feature[node]] = np.float32(tree.threshold[node])
    return x.astype(np.float64)


def _nudged_onnx(m: ir.Model, tree_id: int, node: int) -> bytes:
    """Our ONNX graph with one threshold moved up by one float32 ULP."""
    import onnx
    from portable.converters.onnx import OnnxConverter

    proto = onnx.load_from_string(OnnxConverter().convert(m)["model.onnx"])
    op = next(n for n in proto.graph.node if n.op_type == "TreeEnsembleRegressor")
    attrs = {a.name: a for a in op.attribute}
    # The graph's first tree may be a single leaf holding the base score.
    shift = max(attrs["nodes_treeids"].ints) + 1 - len(m.estimator.trees)
    k = next(i for i, (t, n) in enumerate(zip(attrs["nodes_treeids"].ints,
                                              attrs["nodes_nodeids"].ints))
             if t == tree_id + shift and n == node)
    assert np.float32(attrs["nodes_values"].floats[k]) == m.estimator.trees[tree_id].threshold[node]
    vals = attrs["nodes_values"].floats
    vals[k] = float(np.nextafter(np.float32(vals[k]), np.float32(np.inf)))
    return proto.SerializeToString()


def test_names_the_tree_and_node_of_a_one_ulp_threshold_nudge_in_a_real_onnx_graph(xgb_model):
    pytest.importorskip("onnxruntime")
    from portable.runtimes.onnxruntime import OnnxSession

    m, rng = xgb_model, np.random.default_rng(0)
    tree_id = 7
    tree = m.estimator.trees[tree_id]
    depth = tree.depths()
    candidates = [n for n in np.flatnonzero((tree.left != -1) & (depth == 2))
                  if _row_reaching(tree, int(n), m.n_features, rng) is not None]
    node = int(candidates[0])
    x = _row_reaching(tree, node, m.n_features, np.random.default_rng(1))
    session = OnnxSession(_nudged_onnx(m, tree_id, node))
    got = session.predict(x[None], output="margin")
    assert got[0, 0] != portable.evaluate(m, x[None], output="margin")[0, 0]

    d = localise(m, x, got[0], output="margin")
    print("\n" + str(d))
    assert (d.tree, d.node, d.depth) == (tree_id, node, 2)
    assert d.hypothesis == "threshold" and d.explained and d.residual_ulp == 0
    assert d.feature == tree.feature[node] and d.op == "<"
    assert (d.reference_side, d.runtime_side) == ("right", "left")  # x == t: not x < t
    assert d.trees_changed == (tree_id,)
    assert reprs(d.value)["float32"] == reprs(d.threshold)["float32"]
    assert d.to_dict()["threshold_repr"]["float32_exact"] is True


def test_the_same_nudge_is_observed_directly_when_the_graph_exports_its_leaves(xgb_model):
    pytest.importorskip("onnxruntime")
    from portable.converters.onnx import OnnxConverter
    from portable.runtimes.onnxruntime import OnnxSession

    m = xgb_model
    rows = portable.probe_rows(m, n=3000)
    session = OnnxSession(OnnxConverter().convert(m, leaves=True)["model.onnx"])

    class Shifted:  # the real graph's leaves, but tree 3 reaches its other leaf on row 0
        def predict(self, X, output="prediction"):
            return outputs_from_leaves(m, self.leaves(X), output)

        def leaves(self, X):
            seen = leaf_indices(m.estimator, np.asarray(X, float)).copy()
            t = m.estimator.trees[3]
            seen[0, 3] = next(int(n) for n in np.flatnonzero(t.left == -1) if n != seen[0, 3])
            return seen

    assert np.array_equal(session.leaves(rows), leaf_indices(m.estimator, rows))
    (d,) = diagnose(m, Shifted(), rows[:1])
    assert d.hypothesis == "observed" and d.tree == 3 and d.residual_ulp == 0


def test_names_a_float32_rounded_threshold_behind_a_session_over_a_modified_ir():
    """A converter bug: one scikit-learn threshold stored as float32 (the source keeps
    float64); the session evaluates that modified IR."""
    X, y = make_regression(n_samples=300, n_features=5, random_state=1)
    m = portable.import_model(RandomForestRegressor(n_estimators=8, max_depth=5,
                                                    random_state=0).fit(X, y))
    ens = m.estimator
    t_id = 5
    tree = ens.trees[t_id]
    internal = np.flatnonzero(tree.left != -1)
    node = int(next(n for n in internal
                    if np.float32(tree.threshold[n]).astype(np.float64) > tree.threshold[n]))
    thr = tree.threshold.copy()
    thr[node] = np.float64(np.float32(thr[node]))  # rounded up: a row at f32floor goes left
    broken = dataclasses.replace(m, steps=(dataclasses.replace(
        ens, trees=ens.trees[:t_id] + (dataclasses.replace(tree, threshold=thr),)
        + ens.trees[t_id + 1:]),))

    class Session:  # a runtime that evaluates the modified IR
        def predict(self, X, output="prediction"):
            return portable.evaluate(broken, X, output=output)

    rows = portable.probe_rows(m, n=4000)
    got, ref = Session().predict(rows), portable.evaluate(m, rows)
    bad = np.flatnonzero(got[:, 0] != ref[:, 0])
    assert bad.size > 0
    found = diagnose(m, Session(), rows, max_rows=len(bad))
    print(f"\n{bad.size} mismatching probe rows; e.g. {found[0]}")
    assert len(found) == bad.size  # every mismatching row localised ...
    assert {(d.tree, d.node) for d in found} == {(t_id, node)}  # ... to the modified node
    assert all(d.explained and d.residual_ulp == 0 for d in found)
    d = found[0]
    assert d.op == "<=" and (d.reference_side, d.runtime_side) == ("right", "left")
    assert d.to_dict()["threshold_repr"]["float32_exact"] is False  # the float64 threshold


def test_names_the_missing_value_direction_when_a_runtime_sends_nan_the_other_way(xgb_model):
    m = xgb_model
    tree = m.estimator.trees[2]
    flipped = tree.default_left.copy()
    flipped[0] = not flipped[0]
    ens = m.estimator
    broken = dataclasses.replace(m, steps=(dataclasses.replace(ens, trees=ens.trees[:2] + (
        dataclasses.replace(tree, default_left=flipped),) + ens.trees[3:]),))
    x = np.random.default_rng(0).normal(size=m.n_features)
    x[tree.feature[0]] = np.nan
    got = portable.evaluate(broken, x[None], output="margin")[0]
    d = localise(m, x, got)
    assert (d.tree, d.node, d.hypothesis, d.explained) == (2, 0, "missing", True)


def test_localises_every_row_skl2onnx_flips_on_a_scaler_tree_pipeline():
    """skl2onnx computes StandardScaler in float32 and stores float64 thresholds as float32:
    rows on a threshold change side. Each is traced to one node within a few ULP."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("skl2onnx")
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    from portable.converters.upstream import convert_upstream
    from portable.runtimes.onnxruntime import OnnxSession

    XB, YB = load_breast_cancer(return_X_y=True)
    est = make_pipeline(StandardScaler(), DecisionTreeClassifier(max_depth=6,
                                                                 random_state=0)).fit(XB, YB)
    m = portable.import_model(est)
    rows = portable.probe_rows(m, n=2000)
    rows = rows[~np.isnan(rows).any(axis=1)]
    session = OnnxSession(convert_upstream(est, engine="skl2onnx")["model.onnx"])
    got = session.predict(rows)
    bad = np.flatnonzero(np.abs(got - est.predict_proba(rows)).max(axis=1) > 1e-6)
    found = diagnose(m, session, rows, output="prediction", max_rows=len(bad))
    print(f"\nskl2onnx: {bad.size} of {len(rows)} probe rows on another leaf; "
          f"{sum(d.explained for d in found)} localised, e.g.\n{found[0]}")
    assert bad.size >= 10
    assert len(found) == bad.size and all(d.explained for d in found)
    tree = m.estimator.trees[0]
    for d in found:
        assert tree.left[d.node] != -1 and d.feature == tree.feature[d.node]
        bits = [int(np.float32(v).view(np.int32)) for v in (d.value, d.threshold)]
        gap = abs(bits[0] - bits[1])
        assert gap <= 4  # the row sat within 4 float32 ULP of the node's threshold


def test_agreeing_rows_and_linear_models_give_nothing(xgb_model):
    m = xgb_model
    rows = portable.probe_rows(m, n=200)
    same = portable.evaluate(m, rows, output="margin")
    assert localise(m, rows[0], same[0]) is None
    assert diagnose(m, lambda X, output: portable.evaluate(m, X, output=output), rows) == []
    from sklearn.linear_model import LinearRegression
    lin = portable.import_model(LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0]))
    assert localise(lin, [0.5], [9.0], output="prediction") is None


def test_outputs_from_leaves_reproduce_the_reference_bit_for_bit(xgb_model):
    m = xgb_model
    rows = portable.probe_rows(m, n=500)
    leaves = leaf_indices(m.estimator, rows)
    for output in ("margin", "prediction"):
        assert np.array_equal(outputs_from_leaves(m, leaves, output),
                              portable.evaluate(m, rows, output=output))
