"""Tree ensembles as flat arrays.

The numeric semantics that decide parity live here as explicit fields, never as
conventions hidden in a converter:

* ``input_dtype``: the dtype the source library casts feature values to before any
  comparison (XGBoost and scikit-learn trees: float32; HistGradientBoosting: float64).
* ``threshold_dtype``: the dtype thresholds are stored and compared in (XGBoost: float32,
  scikit-learn: float64). A float32 input is compared against a float64 threshold exactly,
  as the source does, by widening the input.
* ``split_op``: a row goes left when ``x <op> threshold`` holds (XGBoost ``<``,
  scikit-learn ``<=``); a NaN goes to the node's default side.
* ``accumulate_dtype``: leaf values are added in this dtype, starting from ``base_score``,
  one tree after another in tree order (XGBoost float32, scikit-learn float64).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

SplitOp = Literal["<", "<="]
FloatName = Literal["float32", "float64"]
Aggregation = Literal["sum", "mean"]
PostTransform = Literal["identity", "logistic", "softmax", "exp"]

POST_TRANSFORMS = ("identity", "logistic", "softmax", "exp")


@dataclass(frozen=True, eq=False)
class Tree:
    """One binary tree in flat arrays; node 0 is the root.

    Node ``i`` is a leaf iff ``left[i] == -1`` (then ``right[i] == -1`` too).
    An internal node sends a row to ``left[i]`` when ``x[feature[i]] <op> threshold[i]``
    holds, to ``right[i]`` otherwise; a NaN feature value goes to ``left[i]`` when
    ``default_left[i]`` and to ``right[i]`` otherwise.

    Attributes
    ----------
    feature : int32 array (n_nodes,)
        Feature index tested at each internal node; -1 at leaves.
    threshold : float array (n_nodes,), dtype = the ensemble's ``threshold_dtype``
        Split threshold; 0 at leaves.
    left, right : int32 array (n_nodes,)
        Child node indices; -1 at leaves.
    default_left : bool array (n_nodes,)
        Where a missing (NaN) value goes at each internal node.
    value : float array (n_nodes, n_values), dtype = the ensemble's ``accumulate_dtype``
        Leaf outputs (already multiplied by any learning rate). Rows of internal nodes are
        ignored (kept for inspection).
    output_offset : int
        The leaf vector is added to output columns ``output_offset .. output_offset+n_values-1``.
    """

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    default_left: np.ndarray
    value: np.ndarray
    output_offset: int = 0

    @property
    def n_nodes(self) -> int:
        return int(self.feature.shape[0])

    @property
    def n_values(self) -> int:
        return int(self.value.shape[1])

    @property
    def is_leaf(self) -> np.ndarray:
        return self.left == -1

    @property
    def n_leaves(self) -> int:
        return int(np.count_nonzero(self.left == -1))

    def depths(self) -> np.ndarray:
        """Depth of every node (root = 0), level by level with numpy (no recursion)."""
        depth = np.zeros(self.n_nodes, dtype=np.int32)
        frontier = np.array([0], dtype=np.int64)
        d = 0
        while frontier.size:
            depth[frontier] = d
            frontier = frontier[self.left[frontier] != -1]
            frontier = np.concatenate([self.left[frontier], self.right[frontier]]).astype(np.int64)
            d += 1
        return depth

    def parents(self) -> np.ndarray:
        """Parent of every node (-1 for the root)."""
        parent = np.full(self.n_nodes, -1, dtype=np.int64)
        internal = np.flatnonzero(self.left != -1)
        parent[self.left[internal]] = internal
        parent[self.right[internal]] = internal
        return parent

    def max_depth(self) -> int:
        cached = self.__dict__.get("_max_depth")
        if cached is None:
            cached = int(self.depths().max()) if self.n_nodes else 0
            object.__setattr__(self, "_max_depth", cached)
        return cached


@dataclass(frozen=True, eq=False)
class TreeEnsemble:
    """A sum or mean of trees, then a post-transform.

    ``margin = base_score; for tree in trees: margin[tree cols] += leaf value``
    (in ``accumulate_dtype``, in this order), then ``margin /= len(trees)`` when
    ``aggregation == "mean"``, then ``post_transform``.

    Attributes
    ----------
    trees : tuple of Tree
    n_features : int
        Number of input columns the ensemble reads.
    n_outputs : int
        Number of margin columns (1 for regression and binary boosting, K for K-class
        boosting and for probability trees).
    base_score : float array (n_outputs,), dtype = ``accumulate_dtype``
        Starting margin (XGBoost's base margin, boosting's init prediction; 0 for forests).
    split_op, input_dtype, threshold_dtype, accumulate_dtype : see the module docstring.
    aggregation : "sum" or "mean"
    post_transform : "identity", "logistic", "softmax" or "exp"
        Link applied to the margin. In float32 ensembles it follows XGBoost's float32 math.
    """

    trees: tuple[Tree, ...]
    n_features: int
    n_outputs: int
    base_score: np.ndarray
    split_op: SplitOp = "<="
    input_dtype: FloatName = "float32"
    threshold_dtype: FloatName = "float64"
    accumulate_dtype: FloatName = "float64"
    aggregation: Aggregation = "sum"
    post_transform: PostTransform = "identity"
    kind: str = field(default="tree_ensemble", init=False)

    @property
    def n_trees(self) -> int:
        return len(self.trees)

    def max_depth(self) -> int:
        return max((t.max_depth() for t in self.trees), default=0)

    def n_leaves(self) -> int:
        return sum(t.n_leaves for t in self.trees)
