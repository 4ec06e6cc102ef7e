"""The reference evaluator's generic semantics, on hand-built models."""

import numpy as np
import pytest

import portable
from portable import ir
from portable.errors import InputError

from _ir_factory import chain_tree, stump


def test_strict_and_inclusive_split_ops_differ_exactly_at_the_threshold():
    t = np.float32(0.1)
    X = np.array([[float(t), 0.0]])
    assert portable.evaluate(stump(0.1, op="<"), X)[0, 0] == np.float32(2.5)
    assert portable.evaluate(stump(0.1, op="<="), X)[0, 0] == np.float32(1.5)


def test_float32_input_cast_happens_before_the_comparison():
    # 0.1 (double) rounds to float32(0.1): equal to the threshold, so it goes right with "<".
    assert portable.evaluate(stump(0.1), np.array([[0.1, 0.0]]))[0, 0] == np.float32(2.5)
    # A float64 ensemble compares the double itself: 0.1 < float64(0.1) is false, too.
    below = np.nextafter(0.1, 0)
    assert portable.evaluate(stump(0.1, dtype="float64"), np.array([[below, 0.0]]))[0, 0] == 1.5


def test_nan_follows_the_default_direction():
    X = np.array([[np.nan, 0.0]])
    assert portable.evaluate(stump(default_left=True), X)[0, 0] == np.float32(1.5)
    assert portable.evaluate(stump(default_left=False), X)[0, 0] == np.float32(2.5)


def test_depth_40_tree_evaluates_without_recursion():
    m = chain_tree(40)
    X = np.arange(-1, 42, dtype=np.float64).reshape(-1, 1)
    out = portable.evaluate(m, X)[:, 0]
    # A row ends in the leaf of the first k with x < k; x >= 40 reaches the last leaf (40).
    assert out[0] == 0 and out[5] == 5 and out[-1] == 40


def test_wrong_feature_count_and_bad_output_are_input_errors():
    with pytest.raises(InputError, match="3 features per row; the model expects 2"):
        portable.evaluate(stump(), np.zeros((2, 3)))
    with pytest.raises(InputError, match="Unknown output"):
        portable.evaluate(stump(), np.zeros((2, 2)), output="labels")
    with pytest.raises(InputError, match="Non-numeric value 'abc'"):
        portable.evaluate(stump(), np.array([["abc", 1.0]], dtype=object))


@pytest.mark.parametrize("link, exact", [("logistic", 1 / (1 + np.exp(-1.5))),
                                          ("exp", np.exp(1.5))])
def test_xgboost_style_float32_links_are_float32_and_within_one_ulp(link, exact):
    import dataclasses
    m = stump()  # margin at x=0 is 0.5 + 1.0 = 1.5
    ens = dataclasses.replace(m.estimator, post_transform=link)
    out = ir.evaluate(ir.Model(m.signature, (ens,), m.source), np.zeros((1, 2)))
    assert out.dtype == np.float32
    assert abs(float(out[0, 0]) - exact) <= float(np.spacing(np.float32(exact)))


def test_one_hot_and_scaler_transforms_match_hand_arithmetic():
    scaler = ir.Scaler(n_inputs=1, subtract=np.array([1.0]), divide=np.array([3.0]))
    onehot = ir.OneHotEncoder(categories=(("a", "b", "c"),), drop=(None,), handle_unknown="ignore")
    ct = ir.ColumnTransformer(n_inputs=2, parts=(
        ir.ColumnPart(columns=(0,), steps=(scaler,)), ir.ColumnPart(columns=(1,), steps=(onehot,))))
    X = np.array([[4.0, "b"], [1.0, "zzz"]], dtype=object)
    out = ir.evaluate.__globals__["apply_transform"](ct, X)
    assert out.tolist() == [[1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
