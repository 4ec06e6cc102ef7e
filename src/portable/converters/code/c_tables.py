"""C printer, tree tables: node types, literals, the layout of each tree, the row block.

Each tree becomes a table of ``{column, threshold}`` nodes walked by the generic walker of
``templates/c/engine.c``. A tree is *complete* (heap order, children ``2i+1``/``2i+2``, no
children table) when padding it to its depth costs at most ``PAD_FACTOR`` times its leaves:
measured on the peer model M2 (300 trees of depth 8, ~50 leaves each), padding with factor
8 instead of 4 took the batch from 160k to 470k rows/s. Other trees get a children table
whose leaves loop onto themselves, so rows still take a fixed number of branch-free steps.
"""

from __future__ import annotations

import numpy as np

from . import printer as P
from .lower import Linear, Program

# Nodes (split slots + leaves) per trees_NNN.c file: small enough to compile in parallel.
CHUNK_NODES = 250_000
PAD_FACTOR = 8
MAX_PERFECT_DEPTH = 16
# Rows per block: the block's inputs (two copies for trees) should stay within ~L1/L2.
BLOCK_MAX = 128
BLOCK_BYTES = 80_000


def types(prog: Program) -> tuple[str, str]:
    est = prog.estimator
    if isinstance(est, Linear):
        return "double", "double"
    return ("float" if est.cmp32 else "double"), ("float" if est.acc32 else "double")


def lits(values, as_float: bool) -> list[str]:
    raw = P.f32_literals(values) if as_float else P.f64_literals(values)
    suffix = "f" if as_float else ""
    out = []
    for s in raw:
        if s in ("inf", "-inf", "nan"):
            out.append({"inf": "INFINITY", "-inf": "(-INFINITY)", "nan": "NAN"}[s])
        else:
            out.append(s + suffix)
    return out


def array(ctype: str, name: str, items) -> str:
    items = list(items)
    if not items:
        items = ["0"]
    return f"static const {ctype} {name}[] = {{{','.join(items)}}};\n"


def internal_h(prog: Program, chunk_names) -> str:
    z_t, acc_t = types(prog)
    lines = ["#ifndef PORTABLE_MODEL_INTERNAL_H", "#define PORTABLE_MODEL_INTERNAL_H",
             "#include <math.h>", "#include <stdint.h>", f"typedef {z_t} z_t;",
             f"typedef {acc_t} acc_t;",
             "/* f: the input column to read, + ZCOPY when a missing value goes right (the",
             " * NaN -> +inf copy of the block); in `general` trees: column | (1 << 31). */",
             "typedef struct { uint32_t f; z_t t; } portable_node;",
             "/* c == 0: complete tree of depth `depth` in heap order; else a children table over",
             " * nint split nodes followed by one self-looping node per leaf. */",
             "typedef struct { const portable_node* n; const int32_t* c; const acc_t* l;"
             " int depth; int nv; int off; int general; int nint; } portable_tree;"]
    lines += [f"extern const portable_tree {c}[];" for c in chunk_names]
    return "\n".join(lines + ["#endif", ""])


# ----------------------------------------------------------------------------- trees
def perfect(t) -> bool:
    return t.depth <= MAX_PERFECT_DEPTH and (1 << t.depth) <= max(64, PAD_FACTOR * len(t.leaves))


def tree_size(t) -> int:
    return ((1 << t.depth) * 2) if perfect(t) else (3 * t.n_internal + 4 * len(t.leaves))


def general(t, split_op: str) -> bool:
    """A split ``x <= +inf`` whose missing values go right: the NaN -> +inf copy would send
    them left, so such a tree tests NaN at every node."""
    return split_op == "<=" and bool(np.any(np.isposinf(t.threshold) & ~t.missing_left))


def chunk(prog: Program, name: str, rng, head: str, zcopy: int) -> str:
    est = prog.estimator
    z_t, acc_t = types(prog)
    laid = []
    for i in rng:
        t = est.trees[i]
        if perfect(t):
            laid.append((i, t, *t.perfect(), None))
        else:  # leaves become self-looping nodes nint.. (see engine.c)
            n, nl = t.n_internal, len(t.leaves)
            kids = np.where(t.children >= 0, t.children, n + ~t.children)
            loops = np.repeat(np.arange(n, n + nl), 2).reshape(nl, 2)
            laid.append((i, t, np.concatenate([t.feature, np.zeros(nl, np.int64)]),
                         np.concatenate([t.threshold, np.zeros(nl)]),
                         np.concatenate([t.missing_left, np.ones(nl, bool)]), t.leaves,
                         np.concatenate([kids, loops])))
    # Literals of the whole chunk in two numpy calls (per-tree calls dominate otherwise).
    thr = iter(lits(np.concatenate([x[3] for x in laid]), z_t == "float"))
    leaf = iter(lits(np.concatenate([x[5].reshape(-1) for x in laid]), acc_t == "float"))
    out = [head, '#include "model_internal.h"\n']
    entries = []
    for i, t, f, _, ml, leaves, children in laid:
        child = "0"
        if children is not None:
            out.append(array("int32_t", f"C{i}", map(str, children.reshape(-1).tolist())))
            child = f"C{i}"
        gen = general(t, est.split_op)
        right = (~np.asarray(ml, bool)).astype(np.int64)
        codes = np.asarray(f, np.int64) + (right << 31 if gen else right * zcopy)
        if codes.size:
            out.append(f"static const portable_node N{i}[] = {{"
                       + ",".join(f"{{{c}u,{next(thr)}}}" for c in codes.tolist()) + "};\n")
        out.append(f"static const acc_t L{i}[] = {{"
                   + ",".join(next(leaf) for _ in range(leaves.size)) + "};\n")
        entries.append(f"{{{f'N{i}' if codes.size else '0'},{child},L{i},{t.depth},"
                       f"{leaves.shape[1]},{t.offset},{int(gen)},{t.n_internal}}}")
    out.append(f"const portable_tree {name}[] = {{\n" + ",\n".join(entries) + "};\n")
    return "".join(out)


def block(prog: Program) -> int:
    """Rows per block: the block's inputs (two copies for trees) should stay within ~L1."""
    width = max(1, len(prog.features))
    z_t, _ = types(prog)
    copies = 1 if isinstance(prog.estimator, Linear) else 2
    b = 8
    while b < BLOCK_MAX and 2 * b * width * (4 if z_t == "float" else 8) * copies <= BLOCK_BYTES:
        b *= 2
    return b


