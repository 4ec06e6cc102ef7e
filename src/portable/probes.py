"""Threshold-probe rows: inputs placed exactly at, and one ULP either side of, split thresholds.

Random held-out rows almost never sit on a split threshold, yet XGBoost's thresholds are
often training values and sklearn's sit between two float32 values: this is where a
float32/float64 or ``<``/``<=`` mistake flips a row. :func:`probe_rows` builds, for each
sampled split node, a row that *reaches that node* (every ancestor's test is satisfied)
and then sets the node's feature to values at and around its threshold, plus NaN.

For pipelines the rows are built in the space the trees read (after scaling, imputation,
one-hot encoding) and mapped back to raw inputs, refining each value ULP by ULP until the
forward transform lands exactly on the target where such an input exists.
"""

from __future__ import annotations

import numpy as np

from . import ir
from .floats import f32_ceil, f32_floor
from .ir.evaluate import apply_transform, prepare_input
from .ir.transforms import (ColumnTransformer, Imputer, OneHotEncoder, Scaler, TextVectorizer,
                            ZeroAsMissing)

_F32 = np.float32


_I64 = np.iinfo(np.int64)


def probe_rows(model: ir.Model, *, n: int = 1000, seed: int = 0, background=None,
               nan: bool = True) -> np.ndarray:
    """Rows that sit at and one ULP around the model's split thresholds.

    Parameters
    ----------
    model : portable.ir.Model
    n : int
        At most this many rows. Split nodes are sampled (seeded) when there are more than
        ``n // 4`` distinct (feature, threshold) pairs.
    seed : int
    background : array-like, optional
        Rows to take the non-probed features from (default: values derived from the
        model's own thresholds).
    nan : bool
        Also add a row with the node's feature missing (tests the default direction).

    Returns
    -------
    numpy.ndarray (rows, n_features): float64, or object when the model has string inputs.

    Examples
    --------
    >>> import portable
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> m = portable.import_model(DecisionTreeRegressor(max_depth=1).fit([[0.0], [1.0]], [0, 1]))
    >>> portable.probe_rows(m, nan=False)[:, 0].tolist()
    [0.4999999701976776, 0.5, 0.5000000596046448]
    """
    rng = np.random.default_rng(seed)
    sig = model.signature
    base_raw = None
    if background is not None:
        base_raw = prepare_input(sig, background)
        if len(base_raw) == 0:
            base_raw = None
    est = model.estimator
    z_base = _z_base(model, base_raw, rng)
    if not isinstance(est, ir.TreeEnsemble):
        Z = z_base[rng.integers(0, len(z_base), size=min(n, max(len(z_base), 16)))]
        if base_raw is not None:
            return base_raw[rng.integers(0, len(base_raw), size=min(n, len(base_raw)))]
        Z = Z + rng.normal(size=Z.shape)
        return _to_raw(model, Z, None, rng)
    rows, origin, meta = _tree_probes(est, z_base, n=n, rng=rng, nan=nan)
    raw_base = None if base_raw is None else base_raw[origin]
    X = _to_raw(model, rows, raw_base, rng)
    if model.transforms:
        X = _refine_flips(model, X, meta)
    return X


def golden_rows(model: ir.Model, *, k: int = 8) -> np.ndarray:
    """A few deterministic rows (threshold probes, and a NaN row for trees) for manifests
    and self-tests."""
    X = probe_rows(model, n=max(4 * k, 32), seed=0)
    if len(X) <= k:
        return X
    idx = np.linspace(0, len(X) - 1, k).round().astype(int)
    return X[idx]


# ----------------------------------------------------------------------------- tree space
def _z_base(model: ir.Model, base_raw, rng) -> np.ndarray:
    """Base rows in the estimator's input space."""
    if base_raw is not None:
        Z = base_raw
        for step in model.transforms:
            Z = apply_transform(step, Z)
        return np.asarray(Z, dtype=np.float64)
    est = model.estimator
    width = est.n_features
    base = np.zeros((1, width))
    if isinstance(est, ir.TreeEnsemble):
        feats = np.concatenate([t.feature[t.left != -1] for t in est.trees])
        thr = np.concatenate([t.threshold[t.left != -1].astype(np.float64) for t in est.trees])
        for f in np.unique(feats):
            finite = thr[(feats == f) & np.isfinite(thr)]
            base[0, f] = np.median(finite) if finite.size else 0.0
    return base


def _inclusive_bounds(op: str, t: float, went_left: bool, in32: bool):
    """Inclusive (lo, hi) bound on the input value implied by one ancestor's test."""
    if in32:
        down = f32_floor(t)
        up = f32_ceil(t)
        if op == "<":  # left: x < t ; right: x >= t
            return (-np.inf, float(np.nextafter(_F32(up), _F32(-np.inf)))) if went_left else (float(up), np.inf)
        # "<=": left: x <= t ; right: x > t
        return (-np.inf, float(down)) if went_left else (float(np.nextafter(_F32(down), _F32(np.inf))), np.inf)
    if op == "<":
        return (-np.inf, float(np.nextafter(t, -np.inf))) if went_left else (t, np.inf)
    return (-np.inf, t) if went_left else (float(np.nextafter(t, np.inf)), np.inf)


def _around(t: float, in32: bool) -> list[float]:
    """Values at and one ULP around threshold ``t`` in the input's dtype."""
    if in32:
        down, up = f32_floor(t), f32_ceil(t)
        vals = [np.nextafter(down, _F32(-np.inf)), down, up, np.nextafter(up, _F32(np.inf))]
        if down == up:
            vals = vals[:2] + vals[3:]
        return [float(v) for v in vals if np.isfinite(v)]
    up = np.nextafter(t, np.inf)
    return [float(np.nextafter(t, -np.inf)), float(t), float(up), float(np.nextafter(up, np.inf))]


def _tree_probes(ens: ir.TreeEnsemble, z_base: np.ndarray, *, n: int, rng, nan: bool):
    in32 = ens.input_dtype == "float32"
    per = 4 + int(nan)
    # Distinct (feature, threshold) pairs, one representative node each.
    pairs: dict[tuple[int, float], tuple[int, int]] = {}
    for ti, tree in enumerate(ens.trees):
        internal = np.flatnonzero(tree.left != -1)
        for i, f, t in zip(internal.tolist(), tree.feature[internal].tolist(),
                           tree.threshold[internal].astype(np.float64).tolist()):
            pairs.setdefault((f, t), (ti, i))
    keys = list(pairs)
    budget = max(1, n // per)
    if len(keys) > budget:
        keys = [keys[i] for i in sorted(rng.choice(len(keys), size=budget, replace=False))]
    rows, origin, meta = [], [], []
    group = 0
    parents = {}
    for (f, t) in keys:
        ti, node = pairs[(f, t)]
        tree = ens.trees[ti]
        if ti not in parents:
            parents[ti] = tree.parents()
        b = int(rng.integers(0, len(z_base)))
        row = z_base[b].copy()
        lo = {}
        hi = {}
        child, p = node, parents[ti][node]
        ok = True
        must_nan = set()
        while p != -1:
            pf = int(tree.feature[p])
            went_left = tree.left[p] == child
            tp = float(tree.threshold[p])
            if tp == np.inf and not went_left:
                # A missing-vs-present split (threshold +inf): only NaN goes right.
                must_nan.add(pf)
                child, p = p, parents[ti][p]
                continue
            a, c = _inclusive_bounds(ens.split_op, tp, went_left, in32)
            lo[pf] = max(lo.get(pf, -np.inf), a)
            hi[pf] = min(hi.get(pf, np.inf), c)
            if lo[pf] > hi[pf]:
                ok = False  # an unreachable node: no input gets there
                break
            child, p = p, parents[ti][p]
        if not ok:
            continue
        for pf in lo:
            v = row[pf]
            if not (lo[pf] <= v <= hi[pf]) or np.isnan(v):
                row[pf] = (lo[pf] if np.isfinite(lo[pf]) else hi[pf]) if not (
                    np.isfinite(lo[pf]) and np.isfinite(hi[pf])) else _mid(lo[pf], hi[pf], in32)
        for pf in must_nan:
            row[pf] = np.nan
        if f in must_nan:
            continue
        vals = _around(t, in32) if np.isfinite(t) else []
        if f in lo:
            vals = [v for v in vals if lo[f] <= v <= hi[f]] or vals
        if nan:
            vals.append(np.nan)
        for v in vals:
            r = row.copy()
            r[f] = v
            rows.append(r)
            origin.append(b)
            meta.append((group, f, t))
        group += 1
        if len(rows) >= n:
            break
    if not rows:
        return z_base[:1].copy(), [0], [(0, -1, 0.0)]
    return np.array(rows[:n]), origin[:n], meta[:n]


def _mid(a: float, b: float, in32: bool) -> float:
    m = a / 2 + b / 2
    if in32:
        m32 = _F32(m)
        if a <= float(m32) <= b:
            return float(m32)
        return a
    return m


# ----------------------------------------------------------------------------- back to raw
def _to_raw(model: ir.Model, Z: np.ndarray, raw_base, rng) -> np.ndarray:
    """Map estimator-space rows back through the transforms (last to first)."""
    sig = model.signature
    steps = model.transforms
    # Raw-space rows of each intermediate stage, to fill what an inverse cannot recover.
    X = Z
    for k in range(len(steps) - 1, -1, -1):
        X = _inverse(steps[k], X)
    if sig.has_strings:
        out = np.empty(X.shape, dtype=object)
        for j, t in enumerate(sig.feature_types):
            col = X[:, j]
            out[:, j] = col if t == "string" else np.array(
                [np.nan if v is None else float(v) for v in col], dtype=np.float64)
        if raw_base is not None:
            fill = np.array([[v is None for v in r] for r in out])
            out[fill] = raw_base[fill]
        return out
    X = np.asarray(X, dtype=np.float64)
    return X


def _inverse(step, Z: np.ndarray) -> np.ndarray:
    if isinstance(step, Scaler):
        return _inverse_scaler(step, np.asarray(Z, dtype=np.float64))
    if isinstance(step, Imputer):
        X = np.full((Z.shape[0], step.n_inputs), np.nan)
        X[:, step.keep] = Z
        return X
    if isinstance(step, OneHotEncoder):
        return _inverse_one_hot(step, np.asarray(Z, dtype=np.float64))
    if isinstance(step, TextVectorizer):
        # A document holding the terms whose weight is positive (in vocabulary order).
        Z = np.asarray(Z, dtype=np.float64)
        docs = np.empty((Z.shape[0], 1), dtype=object)
        for i, row in enumerate(Z):
            docs[i, 0] = " ".join(step.vocabulary[j] for j in np.flatnonzero(row > 0))
        return docs
    if isinstance(step, ZeroAsMissing):
        return np.where(np.isnan(np.asarray(Z, dtype=np.float64)), 0.0, Z)
    if isinstance(step, ColumnTransformer):
        X = np.empty((Z.shape[0], step.n_inputs), dtype=object)
        X[:] = None
        c0 = 0
        for part in step.parts:
            w = part.n_outputs
            B = Z[:, c0:c0 + w]
            for s in reversed(part.steps):
                B = _inverse(s, B)
            for k, col in enumerate(part.columns):
                empty = np.array([v is None for v in X[:, col]])
                X[empty, col] = B[empty, k]
            c0 += w
        for j in range(step.n_inputs):  # columns no part reads: any value will do
            empty = np.array([v is None for v in X[:, j]])
            X[empty, j] = 0.0
        if all(isinstance(v, (float, int, np.floating, np.integer)) for v in X.ravel()):
            return X.astype(np.float64)
        return X
    return Z


def _forward_scaler(s: Scaler, x: np.ndarray) -> np.ndarray:
    return apply_transform(s, x)


def _inverse_scaler(s: Scaler, Z: np.ndarray) -> np.ndarray:
    """Invert the affine map, then walk ULP by ULP until forward(x) == z where possible."""
    x = Z.copy()
    with np.errstate(all="ignore"):
        if s.add is not None:
            x = x - s.add
        if s.multiply is not None:
            x = x / s.multiply
        if s.divide is not None:
            x = x * s.divide
        if s.subtract is not None:
            x = x + s.subtract
    x = np.where(np.isfinite(Z), x, Z)
    sign = np.ones(Z.shape[1])
    if s.divide is not None:
        sign = sign * np.sign(s.divide)
    if s.multiply is not None:
        sign = sign * np.sign(s.multiply)
    sign = np.broadcast_to(sign, Z.shape)
    for _ in range(64):
        f = _forward_scaler(s, x)
        low = (f < Z) & np.isfinite(Z)
        high = (f > Z) & np.isfinite(Z)
        if not (low.any() or high.any()):
            break
        up = np.where(low, sign > 0, sign < 0)
        step_to = np.where(up, np.inf, -np.inf)
        moved = np.nextafter(x, step_to)
        x = np.where(low | high, moved, x)
    # Where no input maps exactly, keep the candidate whose image is closest.
    return x


def _inverse_one_hot(step: OneHotEncoder, Z: np.ndarray) -> np.ndarray:
    X = np.empty((Z.shape[0], step.n_inputs), dtype=object)
    c0 = 0
    for j, (cats, drop) in enumerate(zip(step.categories, step.drop)):
        kept = [c for k, c in enumerate(cats) if k != drop]
        B = Z[:, c0:c0 + len(kept)]
        for i in range(Z.shape[0]):
            best = int(np.argmax(B[i])) if B.shape[1] else -1
            if best >= 0 and B[i, best] > 0.5:
                X[i, j] = kept[best]
            elif drop is not None:
                X[i, j] = cats[drop]
            elif step.handle_unknown == "ignore":
                X[i, j] = _unknown_like(cats)
            else:
                X[i, j] = kept[max(best, 0)]
        c0 += len(kept)
    return X


def _unknown_like(cats):
    if all(isinstance(c, str) for c in cats):
        k = 0
        while f"__unseen{k}__" in cats:
            k += 1
        return f"__unseen{k}__"
    nums = [float(c) for c in cats if not isinstance(c, str) and c == c]
    return (max(nums) + 1.0) if nums else -1.0


# ----------------------------------------------------------------------------- flip points
def _ordered(x: np.ndarray) -> np.ndarray:
    """Map doubles onto int64 so that adjacent doubles are adjacent integers."""
    i = np.asarray(x, dtype=np.float64).view(np.int64)
    return np.where(i >= 0, i, -(i & np.int64(0x7FFFFFFFFFFFFFFF)))


def _unordered(o: np.ndarray) -> np.ndarray:
    o = np.asarray(o, dtype=np.int64)
    bits = np.where(o >= 0, o, (-o) | np.int64(-0x8000000000000000))
    return bits.view(np.float64)


def _refine_flips(model: ir.Model, X: np.ndarray, meta) -> np.ndarray:
    """For pipelines: replace each node's probe values by the adjacent raw doubles where the
    tree's decision flips (and one double beyond each), found by bisection.

    Inverting a scaler cannot always hit a transformed threshold exactly (a raw ULP may be
    coarser than a transformed one); the flip pair is then the sharpest probe there is.
    """
    est = model.estimator
    in32 = est.input_dtype == "float32"
    strict = est.split_op == "<"
    groups: dict[int, list[int]] = {}
    for i, (g, f, t) in enumerate(meta):
        if f >= 0:
            groups.setdefault(g, []).append(i)
    sig = model.signature
    categorical = _categorical_columns(model)
    numeric = [j for j, ty in enumerate(sig.feature_types)
               if ty != "string" and j not in categorical]
    if not numeric:
        return X

    def visible(rows: np.ndarray, f: int) -> np.ndarray:
        Z = rows
        for step in model.transforms:
            Z = apply_transform(step, Z)
        z = np.asarray(Z[:, f], dtype=np.float64)
        return z.astype(np.float32).astype(np.float64) if in32 else z

    def decide(rows, f, t):
        v = visible(rows, f)
        return (v < t) if strict else (v <= t)

    out = X.copy()
    for g, idx in groups.items():
        _, f, t = meta[idx[0]]
        nums = [i for i in idx if not _row_has_nan_probe(X[i], numeric)]
        if len(nums) < 2:
            continue
        base = X[nums[0]].copy()
        col = _source_column(model, base, numeric, f)
        if col is None:
            continue
        vals = np.array([float(X[i][col]) for i in nums])
        lo, hi = vals.min(), vals.max()
        probe = np.array([base, base])
        probe[0][col], probe[1][col] = lo, hi
        d = decide(probe, f, t)
        width = max(abs(hi - lo), abs(lo) * 1e-12, 1e-300)
        for _ in range(60):  # widen until the decision differs at the two ends
            if d[0] != d[1]:
                break
            width *= 4
            lo, hi = lo - width, hi + width
            probe[0][col], probe[1][col] = lo, hi
            d = decide(probe, f, t)
        if d[0] == d[1]:
            continue
        # Python ints: the distance between two far-apart orderings overflows int64.
        a, b = int(_ordered(np.array([lo]))[0]), int(_ordered(np.array([hi]))[0])
        da = d[0]
        while b - a > 1:
            m = a + (b - a) // 2
            probe[0][col] = _unordered(np.array([m]))[0]
            if decide(probe[:1], f, t)[0] == da:
                a = m
            else:
                b = m
        flips = _unordered(np.array([max(a - 1, _I64.min), a, b, min(b + 1, _I64.max)]))
        for i, v in zip(nums, flips):
            out[i][col] = v
    return out


def _categorical_columns(model: ir.Model) -> set[int]:
    """Raw columns read as categories (one-hot, text): never nudged by ULPs.

    A top-level encoder makes every column categorical; inside a ColumnTransformer, the
    columns of each part whose steps encode.
    """
    encoders = (OneHotEncoder, TextVectorizer)
    n = model.signature.n_features
    out: set[int] = set()
    for step in model.transforms:
        if isinstance(step, encoders):
            return set(range(n))
        if isinstance(step, ColumnTransformer) and step is model.transforms[0]:
            for part in step.parts:
                stack = list(part.steps)
                while stack:
                    sub = stack.pop()
                    if isinstance(sub, encoders):
                        out.update(part.columns)
                    elif isinstance(sub, ColumnTransformer):
                        stack.extend(x for p in sub.parts for x in p.steps)
    return out


def _row_has_nan_probe(row, numeric) -> bool:
    return any(isinstance(row[j], float) and np.isnan(row[j]) for j in numeric)


def _source_column(model: ir.Model, row: np.ndarray, numeric, f: int):
    """The raw numeric column that moves estimator input ``f`` (None if none does)."""
    trial = np.array([row] * (len(numeric) + 1))
    for k, j in enumerate(numeric):
        v = float(trial[k + 1][j])
        trial[k + 1][j] = v * (1 + 1e-3) + 1e-3
    Z = trial
    for step in model.transforms:
        Z = apply_transform(step, Z)
    z = np.asarray(Z[:, f], dtype=np.float64)
    moved = np.flatnonzero(z[1:] != z[0])
    return numeric[int(moved[0])] if moved.size else None


def sample_rows(model: ir.Model, n: int = 1000, *, seed: int = 0, nan_fraction: float = 0.0) -> np.ndarray:
    """Plausible random rows from the model alone (no data): each estimator input is drawn
    around the thresholds the model splits on (or N(0, 1) for linear models), mapped back
    through the transforms. ``nan_fraction`` of the numeric cells are set to NaN."""
    rng = np.random.default_rng(seed)
    est = model.estimator
    width = est.n_features
    Z = rng.normal(size=(n, width))
    if isinstance(est, ir.TreeEnsemble):
        feats = np.concatenate([t.feature[t.left != -1] for t in est.trees])
        thr = np.concatenate([t.threshold[t.left != -1].astype(np.float64) for t in est.trees])
        for f in np.unique(feats):
            tf = thr[(feats == f) & np.isfinite(thr)]
            if not tf.size:
                continue
            spread = (tf.max() - tf.min()) or max(abs(tf.max()), 1.0)
            Z[:, f] = rng.choice(tf, size=n) + rng.normal(scale=0.05 * spread, size=n)
    X = _to_raw(model, Z, None, rng)
    if nan_fraction:
        numeric = [j for j, t in enumerate(model.signature.feature_types) if t != "string"]
        mask = rng.random((n, len(numeric))) < nan_fraction
        for k, j in enumerate(numeric):
            X[mask[:, k], j] = np.nan
    return X
