"""check_model rejects inconsistent IR models with messages that name the problem."""

import dataclasses

import numpy as np
import pytest

from portable import ir
from portable.errors import InvalidModelError

from _ir_factory import chain_tree, stump


def _with_tree(model, **changes):
    ens = model.estimator
    tree = dataclasses.replace(ens.trees[0], **changes)
    return dataclasses.replace(model, steps=(dataclasses.replace(ens, trees=(tree,)),))


def test_valid_models_pass_unchanged():
    m = stump()
    assert ir.check_model(m) is m
    assert ir.check_model(chain_tree(40)).estimator.max_depth() == 40


@pytest.mark.parametrize("changes, message", [
    ({"left": np.array([1, -1, 5], np.int32)}, "exactly one child"),
    ({"left": np.array([1, -1, -1], np.int32), "right": np.array([1, -1, -1], np.int32)}, "two parents"),
    ({"feature": np.array([7, -1, -1], np.int32)}, "splits on feature 7"),
    ({"threshold": np.array([np.nan, 0, 0], np.float32)}, "NaN threshold"),
    ({"threshold": np.array([0.1, 0, 0], np.float64)}, "thresholds are float64"),
    ({"value": np.array([[0.0], [np.inf], [1.0]], np.float32)}, "non-finite leaf"),
    ({"output_offset": 1}, "writes columns 1..1 of 1"),
])
def test_broken_trees_are_rejected_with_a_reason(changes, message):
    with pytest.raises(InvalidModelError, match=message):
        ir.check_model(_with_tree(stump(), **changes))


def test_feature_count_mismatch_between_signature_and_estimator():
    m = stump()
    sig = dataclasses.replace(m.signature, feature_names=("a",), feature_types=("float32",))
    with pytest.raises(InvalidModelError, match="reads 2 features but receives 1"):
        ir.check_model(dataclasses.replace(m, signature=sig))


def test_classifier_without_classes_and_bad_link_are_rejected():
    m = stump()
    sig = dataclasses.replace(m.signature, task="classification")
    with pytest.raises(InvalidModelError, match="needs its class labels"):
        ir.check_model(dataclasses.replace(m, signature=sig))
    ens = dataclasses.replace(m.estimator, post_transform="softmax")
    with pytest.raises(InvalidModelError, match="softmax needs at least 2 outputs"):
        ir.check_model(dataclasses.replace(m, steps=(ens,)))


def test_transform_width_must_chain():
    m = stump()
    scaler = ir.Scaler(n_inputs=3, subtract=np.zeros(3), divide=np.ones(3))
    with pytest.raises(InvalidModelError, match="reads 3 columns but receives 2"):
        ir.check_model(dataclasses.replace(m, steps=(scaler, m.estimator)))


def test_fingerprint_is_stable_and_sensitive():
    a, b = stump(0.1), stump(0.1)
    assert a.fingerprint() == b.fingerprint()
    assert stump(np.nextafter(np.float32(0.1), np.float32(1))).fingerprint() != a.fingerprint()
