"""Hand-built IR models for tests that must not depend on a frontend."""

from __future__ import annotations

import numpy as np

from portable import ir


def stump(threshold=0.1, *, dtype="float32", op="<", default_left=True, n_features=2):
    """One split on feature 0: left leaf 1.0, right leaf 2.0, base 0.5."""
    fdt = np.dtype(dtype)
    t = ir.Tree(feature=np.array([0, -1, -1], np.int32),
                threshold=np.array([threshold, 0, 0], dtype=fdt),
                left=np.array([1, -1, -1], np.int32), right=np.array([2, -1, -1], np.int32),
                default_left=np.array([default_left, False, False]),
                value=np.array([[0.0], [1.0], [2.0]], dtype=fdt))
    ens = ir.TreeEnsemble(trees=(t,), n_features=n_features, n_outputs=1,
                          base_score=np.array([0.5], dtype=fdt), split_op=op,
                          input_dtype=dtype, threshold_dtype=dtype, accumulate_dtype=dtype)
    names = tuple(f"f{i}" for i in range(n_features))
    sig = ir.Signature(names, (dtype,) * n_features, "regression", ("prediction",), "value")
    return ir.Model(sig, (ens,), ir.Source("test", "0", "Stump"))


def chain_tree(depth: int, *, dtype="float32"):
    """A degenerate tree of the given depth: node k tests x0 < k, right child continues."""
    n = 2 * depth + 1
    feature = np.full(n, -1, np.int32)
    thr = np.zeros(n, dtype)
    left = np.full(n, -1, np.int32)
    right = np.full(n, -1, np.int32)
    value = np.zeros((n, 1), dtype)
    node = 0
    for k in range(depth):
        feature[node] = 0
        thr[node] = k
        left[node] = node + 1
        right[node] = node + 2
        value[node + 1, 0] = k
        node += 2
    value[node, 0] = depth
    t = ir.Tree(feature, thr, left, right, np.zeros(n, bool), value)
    ens = ir.TreeEnsemble(trees=(t,), n_features=1, n_outputs=1,
                          base_score=np.zeros(1, dtype), split_op="<", input_dtype=dtype,
                          threshold_dtype=dtype, accumulate_dtype=dtype)
    sig = ir.Signature(("x",), (dtype,), "regression", ("prediction",), "value")
    return ir.Model(sig, (ens,), ir.Source("test", "0", "Chain"))
