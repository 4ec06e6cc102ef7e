"""probe_rows places rows that reach each split node at and one ULP around its threshold."""

import dataclasses

import numpy as np

import portable
from portable import ir
from portable.ir.evaluate import apply_transform, leaf_indices

from _ir_factory import chain_tree, stump


def test_stump_probes_sit_at_and_one_float32_ulp_around_the_threshold():
    t = np.float32(0.1)
    X = portable.probe_rows(stump(0.1), nan=True)
    vals = X[:, 0]
    assert float(t) in vals
    assert float(np.nextafter(t, np.float32(-1))) in vals
    assert float(np.nextafter(t, np.float32(1))) in vals
    assert np.isnan(vals).sum() == 1


def test_float64_threshold_probes_bracket_it_with_float32_neighbours():
    thr = 0.30000000000000004  # not a float32 value: sklearn's midpoints look like this
    m = stump(thr, dtype="float64", op="<=")
    m = dataclasses.replace(m, steps=(dataclasses.replace(m.estimator, input_dtype="float32"),))
    vals = portable.probe_rows(m, nan=False)[:, 0].astype(np.float32)
    below = vals[vals.astype(np.float64) <= thr]
    above = vals[vals.astype(np.float64) > thr]
    assert below.max() == np.float32(np.float64(thr)) or float(below.max()) <= thr
    assert np.nextafter(below.max(), np.float32(1)) == above.min()  # adjacent float32 values


def test_every_probe_of_a_deep_chain_reaches_its_node():
    m = chain_tree(12)
    tree = m.estimator.trees[0]
    X = portable.probe_rows(m, n=10_000, nan=False)
    # Node 2k tests x < k; a probe at x == k passes every ancestor (x >= j for j < k), fails
    # its own test and lands in the next node's left leaf 2k+3 (the last test: leaf 24).
    leaves = leaf_indices(m.estimator, X)[:, 0]
    for k in range(12):
        at = X[:, 0] == k
        assert at.any(), f"no probe at threshold {k}"
        assert np.all(leaves[at] == (2 * k + 3 if k < 11 else 24))
    assert set(np.unique(leaves)) == set(np.flatnonzero(tree.left == -1))


def _scaled_stump(subtract, divide):
    m = stump(0.25, dtype="float64", op="<=", n_features=1)
    ens = dataclasses.replace(m.estimator, input_dtype="float64")
    scaler = ir.Scaler(n_inputs=1, subtract=np.array([subtract]), divide=np.array([divide]))
    return ir.check_model(dataclasses.replace(m, steps=(scaler, ens))), scaler


def test_pipeline_probes_hit_the_transformed_threshold_when_an_input_maps_there():
    model, scaler = _scaled_stump(1.0, 2.0)  # (x - 1) / 2 == 0.25 exactly at x = 1.5
    Z = apply_transform(scaler, portable.probe_rows(model, nan=False))[:, 0]
    assert 0.25 in Z
    assert Z[Z > 0.25].min() == min(v for v in Z if v > 0.25)  # and a row just past it


def test_pipeline_probes_straddle_the_flip_with_adjacent_raw_doubles():
    # (x - 3.7) / 0.3 never equals 0.25: one raw ULP moves the result by ~3 ULPs.
    model, scaler = _scaled_stump(3.7, 0.3)
    X = portable.probe_rows(model, nan=False)[:, 0]
    Z = apply_transform(scaler, X.reshape(-1, 1))[:, 0]
    left, right = X[Z <= 0.25], X[Z > 0.25]
    assert left.size and right.size
    assert np.nextafter(left.max(), np.inf) == right.min()  # adjacent doubles, decision flips


def test_probes_are_reproducible_from_the_seed_and_capped_by_n():
    m = chain_tree(30)
    a = portable.probe_rows(m, n=40, seed=3)
    b = portable.probe_rows(m, n=40, seed=3)
    assert len(a) <= 40
    np.testing.assert_array_equal(a, b)
