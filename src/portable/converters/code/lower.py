"""Lowering: an ``ir.Model`` becomes one :class:`Program` that every language printer reads.

Value slots: slot ``j < n_inputs`` holds numeric input column ``j``; every preprocessing op
writes a new slot (float64), so a printer emits the ops as straight-line code in order.
String input columns are read only by :class:`Categorical` ops (one-hot over strings) and
:class:`Text` ops (bag of words).

Trees are lowered to flat arrays with internal nodes and leaves numbered separately (no
recursion anywhere: the frontends' node order is kept and children are remapped with numpy):
``children[i] = (l, r)`` where a value ``>= 0`` is an internal node and ``< 0`` is leaf
``~value``. :meth:`LTree.perfect` pads a tree to a complete binary tree for printers that
walk it with index arithmetic (``2 i + 1 + go_right``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ... import ir
from ...errors import ConversionError, UnsupportedFeatureError


# ----------------------------------------------------------------------------- preprocessing
@dataclass(frozen=True)
class StrRef:
    """A string input column (only categorical ops read it)."""

    column: int


@dataclass(frozen=True)
class Affine:
    """``x = src; x -= subtract; x /= divide; x *= multiply; x += add; clip`` (each optional)."""

    dst: int
    src: int
    subtract: float | None
    divide: float | None
    multiply: float | None
    add: float | None
    clip: tuple[float, float] | None


@dataclass(frozen=True)
class Impute:
    """``dst = isnan(src) ? fill : src``."""

    dst: int
    src: int
    fill: float


@dataclass(frozen=True)
class ZeroNaN:
    """``dst = src == 0 ? NaN : src`` (XGBoost reading absent sparse entries)."""

    dst: int
    src: int


@dataclass(frozen=True)
class Text:
    """Bag of words over string column ``src``: ``dsts[j]`` = the weight of term ``j`` of
    ``step`` (an ``ir.TextVectorizer``); ``dsts`` are consecutive slots. Printers need a
    regex engine that finds the same tokens as Python's ``re`` (not C)."""

    src: StrRef
    dsts: tuple
    step: object


@dataclass(frozen=True)
class Categorical:
    """One-hot over one input column: ``dsts[k] = 1`` when the value is ``cats[k]``.

    ``cats`` are floats (``kind == "num"``; NaN matches a missing value) or strings
    (``kind == "str"``; None matches a missing value). A ``dsts`` entry of None is a dropped
    category: known, but it sets no column. With ``unknown_error`` a value matching no
    category is an input error naming ``label``.
    """

    src: int | StrRef
    kind: str
    cats: tuple
    dsts: tuple
    unknown_error: bool
    label: str
    column: int = -1


# ----------------------------------------------------------------------------- estimators
@dataclass(frozen=True, eq=False)
class LTree:
    """One tree: ``n_internal`` split nodes (node 0 is the root when ``n_internal > 0``).

    A row goes left at node ``i`` when ``x[feature[i]] <op> threshold[i]``; a NaN goes left
    iff ``missing_left[i]``. ``leaves`` (n_leaves, n_values) hold exact values of the
    accumulation dtype as float64; a tree whose root is a leaf has ``n_internal == 0``.
    """

    feature: np.ndarray
    threshold: np.ndarray
    missing_left: np.ndarray
    children: np.ndarray
    leaves: np.ndarray
    offset: int
    depth: int

    @property
    def n_internal(self) -> int:
        return int(self.feature.shape[0])

    def perfect(self):
        """The tree padded to depth ``depth`` in heap order, level by level with numpy.

        Returns ``(feature, threshold, missing_left, leaves)``: ``2**depth - 1`` split slots
        (slot ``s`` has children ``2s+1``, ``2s+2``) and ``2**depth`` leaf rows. A leaf
        above the last level is replicated below a padding slot (feature 0), so either
        branch ends at the same value.
        """
        D = self.depth
        n_slots = (1 << D) - 1
        f = np.zeros(n_slots, np.int64)
        t = np.zeros(n_slots, np.float64)
        ml = np.ones(n_slots, bool)
        # Lowered code at each slot of the current level (a leaf root is leaf 0, code ~0).
        code = np.array([0 if self.n_internal else -1], np.int64)
        for level in range(D):
            first = (1 << level) - 1
            internal = code >= 0
            ci = code[internal]
            sl = first + np.flatnonzero(internal)
            f[sl] = self.feature[ci]
            t[sl] = self.threshold[ci]
            ml[sl] = self.missing_left[ci]
            kids = np.empty((code.size, 2), np.int64)
            kids[internal] = self.children[ci]
            kids[~internal] = code[~internal, None]  # padding: both sides keep the leaf
            code = kids.reshape(-1)
        if np.any(code >= 0):  # pragma: no cover - depth is the tree's true depth
            raise ConversionError("internal error: a tree is deeper than its recorded depth")
        return f, t, ml, self.leaves[~code]


@dataclass(frozen=True, eq=False)
class Trees:
    """A tree ensemble: ``acc = base; acc[off:off+nv] += leaf`` per tree in order.

    ``cmp32``: inputs and thresholds are both float32, so comparisons may run in float32.
    ``round_input``: the source casts inputs to float32 before comparing (then widens).
    ``acc32``: leaves are added in float32. ``mean``: divide by the tree count at the end.
    """

    trees: tuple
    n_outputs: int
    base: np.ndarray
    split_op: str
    cmp32: bool
    round_input: bool
    acc32: bool
    mean: bool

    kind = "trees"


@dataclass(frozen=True, eq=False)
class Linear:
    """``margin[k] = sum_j coef[k, j] * x[j] + intercept[k]`` in float64."""

    coef: np.ndarray
    intercept: np.ndarray

    kind = "linear"
    acc32 = False

    @property
    def n_outputs(self) -> int:
        return int(self.coef.shape[0])


@dataclass(frozen=True, eq=False)
class Program:
    """Everything a printer needs; see the module docstring."""

    feature_names: tuple
    string_columns: tuple
    n_slots: int
    ops: tuple
    features: tuple
    estimator: object
    link: str
    two_column: bool
    n_margin: int
    n_prediction: int
    output_dtype: str
    header: dict
    signature: dict
    golden: dict

    @property
    def n_inputs(self) -> int:
        return len(self.feature_names)

    @property
    def has_strings(self) -> bool:
        return any(self.string_columns)

    @property
    def f32(self) -> bool:
        return self.output_dtype == "float32"


# ----------------------------------------------------------------------------- lowering
def lower(model: ir.Model, *, golden_rows=None) -> Program:
    """Lower ``model`` (checked IR) to a :class:`Program`.

    ``golden_rows``: inputs for the embedded self-test (default
    :func:`portable.probes.golden_rows`).
    """
    from ... import __version__

    sig = model.signature
    strings = tuple(t == "string" for t in sig.feature_types)
    refs = [StrRef(j) if s else j for j, s in enumerate(strings)]
    ops: list = []
    slots = [sig.n_features]
    for step in model.transforms:
        refs = _lower_transform(step, refs, ops, slots, sig.feature_names)
    if any(isinstance(r, StrRef) for r in refs):
        raise UnsupportedFeatureError("A string column reaches the estimator without an encoder.")
    est = model.estimator
    if isinstance(est, ir.TreeEnsemble):
        low = _lower_trees(est)
        link_dt = est.accumulate_dtype
    elif isinstance(est, ir.LinearModel):
        low = Linear(np.asarray(est.coef, np.float64), np.asarray(est.intercept, np.float64))
        link_dt = "float64"
    else:  # pragma: no cover - check_model guarantees one of the two
        raise ConversionError(f"Cannot lower an estimator of kind {est.kind!r}.")
    two = sig.prediction_kind == "probability" and est.n_outputs == 1
    src = model.source
    header = {"portable": __version__, "library": f"{src.library} {src.version}".strip(),
              "estimator": src.estimator, "fingerprint": model.fingerprint()}
    prog = Program(
        feature_names=tuple(sig.feature_names), string_columns=strings, n_slots=slots[0],
        ops=tuple(ops), features=tuple(refs), estimator=low, link=est.post_transform,
        two_column=two, n_margin=est.n_outputs, n_prediction=est.n_outputs + int(two),
        output_dtype=link_dt, header=header, signature=sig.to_dict(), golden={})
    from .golden import golden
    object.__setattr__(prog, "golden", golden(model, prog, golden_rows))
    return prog


def _new(slots: list) -> int:
    slots[0] += 1
    return slots[0] - 1


def _lower_transform(step, refs: list, ops: list, slots: list, names) -> list:
    if isinstance(step, ir.ColumnTransformer):
        out = []
        for part in step.parts:
            sub = [refs[c] for c in part.columns]
            for s in part.steps:
                sub = _lower_transform(s, sub, ops, slots, names)
            out.extend(sub)
        return out
    if isinstance(step, ir.OneHotEncoder):
        return _lower_one_hot(step, refs, ops, slots, names)
    if isinstance(step, ir.TextVectorizer):
        if len(refs) != 1 or not isinstance(refs[0], StrRef):
            raise UnsupportedFeatureError("A text vectorizer must read one string column.")
        dsts = tuple(_new(slots) for _ in step.vocabulary)
        ops.append(Text(refs[0], dsts, step))
        return list(dsts)
    if any(isinstance(r, StrRef) for r in refs):
        raise UnsupportedFeatureError(f"A {step.kind} step reads a string column; only "
                                      f"one-hot encoders can.")
    out = []
    if isinstance(step, ir.Scaler):
        def at(a, j):
            return None if a is None else float(np.asarray(a)[j])
        for j, r in enumerate(refs):
            dst = _new(slots)
            clip = None if step.clip is None else (float(step.clip[0]), float(step.clip[1]))
            ops.append(Affine(dst, r, at(step.subtract, j), at(step.divide, j),
                              at(step.multiply, j), at(step.add, j), clip))
            out.append(dst)
        return out
    if isinstance(step, ir.Imputer):
        for j, r in enumerate(refs):
            if not bool(step.keep[j]):
                continue
            dst = _new(slots)
            ops.append(Impute(dst, r, float(step.fill[j])))
            out.append(dst)
        return out
    if isinstance(step, ir.ZeroAsMissing):
        for r in refs:
            dst = _new(slots)
            ops.append(ZeroNaN(dst, r))
            out.append(dst)
        return out
    raise UnsupportedFeatureError(f"Native code cannot express a {step.kind!r} step.")


def _is_missing(c) -> bool:
    return c is None or (isinstance(c, (float, np.floating)) and c != c)


def _lower_one_hot(step: ir.OneHotEncoder, refs, ops, slots, names) -> list:
    out = []
    for j, (r, cats, drop) in enumerate(zip(refs, step.categories, step.drop)):
        kind = "str" if isinstance(r, StrRef) else "num"
        label = (names[r.column] if isinstance(r, StrRef) else
                 names[r] if r < len(names) else f"one-hot input {j}")
        keep_cats, dsts = [], []
        for k, c in enumerate(cats):
            dst = None if k == drop else _new(slots)
            if dst is not None:
                out.append(dst)
            if kind == "str":
                if _is_missing(c):
                    keep_cats.append(None)
                elif isinstance(c, (str, np.str_)):
                    keep_cats.append(str(c))
                else:
                    keep_cats.append(_NEVER)  # a number never equals a string input
            else:
                if _is_missing(c):
                    keep_cats.append(float("nan"))
                elif isinstance(c, (str, np.str_, bytes)):
                    keep_cats.append(_NEVER)
                else:
                    keep_cats.append(float(c))
            dsts.append(dst)
        # The reference looks categories up in a dict: of two equal ones, the later wins.
        winner = {}
        for k, c in enumerate(keep_cats):
            if c is not _NEVER:
                winner[("nan",) if _is_missing(c) else c] = k
        won = sorted(winner.values())
        col = r.column if isinstance(r, StrRef) else (r if r < len(names) else -1)
        never = [d for k, d in enumerate(dsts) if k not in won and d is not None]
        if never:  # columns no input value can set: always 0
            ops.append(Categorical(r, kind, (), tuple(never), False, label, col))
        ops.append(Categorical(r, kind, tuple(keep_cats[k] for k in won),
                               tuple(dsts[k] for k in won), step.handle_unknown == "error",
                               label, col))
    return out


_NEVER = object()


def _lower_trees(ens: ir.TreeEnsemble) -> Trees:
    trees = []
    for t in ens.trees:
        left = np.asarray(t.left, np.int64)
        right = np.asarray(t.right, np.int64)
        internal = left != -1
        int_idx = np.cumsum(internal) - 1
        leaf_idx = np.cumsum(~internal) - 1
        code = np.where(internal, int_idx, ~leaf_idx)
        nodes = np.flatnonzero(internal)
        if t.n_nodes and not internal[0]:
            nodes = nodes[:0]
        kids = np.stack([code[left[nodes]], code[right[nodes]]], axis=1) if nodes.size else (
            np.zeros((0, 2), np.int64))
        trees.append(LTree(
            feature=np.asarray(t.feature, np.int64)[nodes],
            threshold=np.asarray(t.threshold, np.float64)[nodes],
            missing_left=np.asarray(t.default_left, bool)[nodes],
            children=kids,
            leaves=np.asarray(t.value, np.float64)[~internal],
            offset=int(t.output_offset), depth=t.max_depth()))
    in32 = ens.input_dtype == "float32"
    return Trees(trees=tuple(trees), n_outputs=ens.n_outputs,
                 base=np.asarray(ens.base_score, np.float64), split_op=ens.split_op,
                 cmp32=in32 and ens.threshold_dtype == "float32", round_input=in32,
                 acc32=ens.accumulate_dtype == "float32", mean=ens.aggregation == "mean")
