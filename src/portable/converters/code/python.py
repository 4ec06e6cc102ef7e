"""Pure-standard-library Python printer (runs anywhere CPython >= 3.8 does, e.g. AWS Lambda).

Generated package ``portable_model``: ``predict(row)`` / ``predict_batch(rows, output)``,
a CLI (``python -m portable_model``), a self-test (``python -m portable_model.selftest``)
and a ``pyproject.toml``. Trees are nested ``if`` statements inlined into a few large
functions (a call per tree costs more than the tree: measured 180 vs 80 us/row on a
500-tree model); the row is unpacked into locals so that every test is one specialised
float comparison.

float32 arithmetic without numpy: a double stored into a float32 slot (``memoryview`` cast
to ``"f"``) is rounded to nearest-even, and the sum, difference, product or quotient of two
float32 values computed in double and rounded once is the exact float32 result (double has
more than 2 * 24 + 2 bits), so ``b[0] = s + leaf; s = b[0]`` *is* a float32 addition.
"""

from __future__ import annotations

import json

import numpy as np

from ... import ir
from ...errors import ConversionError
from . import printer as P
from .printer import check_supported
from .lower import Affine, Categorical, Impute, Linear, Program, StrRef, Text, ZeroNaN, lower

CHUNK_NODES = 40_000  # nodes per generated function (and module)
UNIT_NODES = 20_000   # a larger tree is split into several functions
UNIT_DEPTH = 60       # Python refuses more than 100 indentation levels
F32_88_7 = repr(float(np.float32(88.7)))  # XGBoost caps -x at 88.7f before expf


class PythonConverter:
    """IR -> pure-Python package (route "code", runtime "cpython").

    Examples
    --------
    >>> import portable
    >>> from portable.converters.code.python import PythonConverter
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> m = portable.import_model(DecisionTreeRegressor(max_depth=2).fit([[0.0], [1.0]], [0, 1]))
    >>> "portable_model/__init__.py" in PythonConverter().convert(m)
    True
    """

    name = "python"
    route = "code"
    default_runtime = "cpython"
    # "text": Python's own re reproduces the vectorizer's tokenizer exactly.
    supports = frozenset({"tree_ensemble", "linear", "scaler", "imputer", "one_hot",
                          "column_transformer", "zero_as_missing", "text"})

    def convert(self, model: ir.Model, **options) -> dict[str, bytes]:
        """Generate the package files (deterministic for the same model)."""
        if options:
            raise ConversionError(f"Unknown Python option(s) {', '.join(sorted(options))}; "
                                  f"the Python converter takes none.")
        model = ir.check_model(model)
        check_supported(self, model)
        return print_project(lower(model))


def print_project(prog: Program) -> dict[str, bytes]:
    head = "".join(f"# {line}\n" for line in P.provenance(prog))
    files = {}
    est = prog.estimator
    chunk_names = []
    if not isinstance(est, Linear):
        sizes = [t.n_internal + len(t.leaves) for t in est.trees]
        for k, rng in enumerate(P.chunks_by_size(sizes, CHUNK_NODES)):
            files[f"portable_model/_trees_{k:03d}.py"] = head + _chunk(prog, rng)
            chunk_names.append(f"_trees_{k:03d}")
    files["portable_model/__init__.py"] = head + _init(prog, chunk_names)
    files["portable_model/__main__.py"] = head + P.template("python/__main__.py")
    files["portable_model/selftest.py"] = head + _selftest(prog)
    files["pyproject.toml"] = P.render(
        "python/pyproject.toml", description=P.comment_text(
            f"{prog.header['estimator']} exported by portable {prog.header['portable']}"))
    files["README.md"] = "\n".join([
        "# Generated Python model", "", *[f"    {line}" for line in P.provenance(prog)], "",
        "    python -m portable_model.selftest          # golden rows", 
        "    python -m portable_model < rows.csv        # one prediction row per input row",
        "    python -m portable_model --margin < rows.csv", "",
        "    >>> import portable_model", "    >>> portable_model.predict(row)", ""])
    files["native.json"] = json.dumps({
        "language": "python", "package": "portable_model", "n_features": prog.n_inputs,
        "n_margin": prog.n_margin, "n_prediction": prog.n_prediction,
        "output_dtype": prog.output_dtype,
        "string_columns": [int(s) for s in prog.string_columns]}, indent=1, sort_keys=True) + "\n"
    return {k: v.encode("utf-8") for k, v in sorted(files.items())}


# ----------------------------------------------------------------------------- literals
def _lits(values, f32: bool) -> list[str]:
    raw = P.f32_as_f64_literals(values) if f32 else P.f64_literals(values)
    return [{"inf": "_INF", "-inf": "-_INF", "nan": "_NAN"}.get(s, s) for s in raw]


def _accs(n: int) -> str:
    return ", ".join(f"s{k}" for k in range(n))


# ----------------------------------------------------------------------------- trees
def _chunk(prog: Program, rng) -> str:
    est = prog.estimator
    nz = len(prog.features)
    accs = _accs(est.n_outputs)
    unpack = "    " + ", ".join(f"x{k}" for k in range(nz)) + (", = x" if nz == 1 else " = x")
    units, body = [], []
    for i in rng:
        t = est.trees[i]
        nv = t.leaves.shape[1]
        vals = _lits(t.leaves.reshape(-1), est.acc32)

        def leaf(k, t=t, vals=vals, nv=nv):
            return _leaf(est, t, vals[k * nv:(k + 1) * nv])
        if t.n_internal == 0:
            body.extend("    " + s for s in leaf(0))
            continue
        conds = P.conditions(t, est.split_op, lambda f: f"x{f}", _lits(t.threshold, est.cmp32),
                             neg="not {}")
        cut = P.split_units(t, max_nodes=UNIT_NODES, max_depth=UNIT_DEPTH)
        if np.count_nonzero(cut) == 1:
            body.extend(P.nested_ifs(t, conds, leaf, P.PY_SYNTAX, 4))
            continue

        def call(u, i=i):
            return [f"{accs} = _u{i}_{u}(x, {accs}, b)"]
        for u in np.flatnonzero(cut).tolist():
            if u == 0:
                continue
            units += [f"def _u{i}_{u}(x, {accs}, b):", unpack]
            P.emit_subtree(t, u, conds, leaf, call, cut, P.PY_SYNTAX, 4, units)
            units.append(f"    return {accs}\n")
        P.emit_subtree(t, 0, conds, leaf, call, cut, P.PY_SYNTAX, 4, body)
    head = ["_INF = float('inf')", "_NAN = float('nan')", ""]
    fn = [f"def chunk(x, {accs}, b):", unpack] + body + [f"    return {accs}", ""]
    return "\n".join(head + units + fn)


def _leaf(est, t, vals) -> list[str]:
    out = []
    for j, v in enumerate(vals):
        s = f"s{t.offset + j}"
        out.append(f"b[0] = {s} + {v}; {s} = b[0]" if est.acc32 else f"{s} += {v}")
    return out


# ----------------------------------------------------------------------------- __init__
def _init(prog: Program, chunks) -> str:
    est = prog.estimator
    lines = ['"""Generated by portable: predict(row), predict_batch(rows, output). Standard '
             'library only."""', "", "import math", "from array import array", ""]
    lines += [f"from .{c} import chunk as _c{k}" for k, c in enumerate(chunks)]
    lines += ["", "_INF = float('inf')", "_NAN = float('nan')",
              "FEATURE_NAMES = (" + "".join(P.py_string(n) + ", " for n in prog.feature_names) + ")",
              "STRING_COLUMNS = (" + "".join(f"{int(s)}, " for s in prog.string_columns) + ")",
              "OUTPUT_NAMES = (" + "".join(P.py_string(n) + ", "
                                           for n in prog.signature["output_names"]) + ")",
              f"OUTPUT_FLOAT32 = {prog.f32}", f"N_MARGIN = {prog.n_margin}",
              f"N_PREDICTION = {prog.n_prediction}", ""]
    lines.append(P.template("python/runtime.py"))
    texts = [op for op in prog.ops if isinstance(op, Text)]
    if texts:
        lines.append("import re" + P.template("python/text.py"))
        for op in texts:
            lines.append(_text_spec(op))
    lines += _prepare(prog)
    lines += _margin(prog, len(chunks))
    lines += _link(prog)
    return "\n".join(lines) + "\n"


def _slot(prog: Program, j) -> str:
    return f"x[{j}]" if j < prog.n_inputs else f"v{j}"


def _prepare(prog: Program) -> list[str]:
    est = prog.estimator
    rnd = not isinstance(est, Linear) and est.round_input
    out = ["", "def _prepare(x):"]
    for op in prog.ops:
        out += ["    " + s for s in _op(prog, op)]
    ident = not prog.ops and list(prog.features) == list(range(prog.n_inputs))
    z = "x" if ident else "[" + ", ".join(_slot(prog, j) for j in prog.features) + "]"
    # The source casts inputs to float32 before comparing: array('f') rounds each to nearest.
    out.append(f"    return array('f', {z}).tolist()" if rnd else
               f"    return {'list(x)' if ident else z}")
    return out + [""]


def _op(prog: Program, op) -> list[str]:
    if isinstance(op, Affine):
        lines = [f"t = {_slot(prog, op.src)}"]
        for sym, val in (("-", op.subtract), ("/", op.divide), ("*", op.multiply), ("+", op.add)):
            if val is not None:
                lines.append(f"t = t {sym} {_lits([val], False)[0]}")
        if op.clip is not None:
            lo, hi = _lits(op.clip, False)
            lines.append(f"t = {lo} if t < {lo} else ({hi} if t > {hi} else t)")
        return lines + [f"v{op.dst} = t"]
    if isinstance(op, Impute):
        s = _slot(prog, op.src)
        return [f"v{op.dst} = {_lits([op.fill], False)[0]} if {s} != {s} else {s}"]
    if isinstance(op, ZeroNaN):
        s = _slot(prog, op.src)
        return [f"v{op.dst} = _NAN if {s} == 0.0 else {s}"]
    if isinstance(op, Text):
        return [", ".join(f"v{d}" for d in op.dsts) + (", =" if len(op.dsts) == 1 else " =")
                + f" _bag(x[{op.src.column}], _TEXT{op.dsts[0]})"]
    if isinstance(op, Categorical):
        lines = [f"v{d} = 0.0" for d in op.dsts if d is not None]
        if not op.cats:
            return lines
        if isinstance(op.src, StrRef):
            lines.append(f"t = x[{op.src.column}]")
            tests = ["t is None" if c is None else f"t == {P.py_string(c)}" for c in op.cats]
        else:
            lines.append(f"t = {_slot(prog, op.src)}")
            tests = ["t != t" if c != c else f"t == {_lits([c], False)[0]}" for c in op.cats]
        for k, (test, d) in enumerate(zip(tests, op.dsts)):
            lines.append(f"{'if' if k == 0 else 'elif'} {test}:")
            lines.append(f"    v{d} = 1.0" if d is not None else "    pass  # dropped category")
        if op.unknown_error:
            lines += ["else:", f"    raise UnknownCategory({op.column}, t)"]
        return lines
    raise ConversionError(f"internal error: unknown op {type(op).__name__}")  # pragma: no cover


def _text_spec(op: Text) -> str:
    st = op.step
    vocab = "{" + ", ".join(f"{P.py_string(t)}: {j}" for j, t in enumerate(st.vocabulary)) + "}"
    stop = "frozenset((" + "".join(P.py_string(w) + ", " for w in st.stop_words) + "))"
    idf = "None" if st.idf is None else "(" + "".join(v + ", " for v in _lits(st.idf, False)) + ")"
    return (f"_TEXT{op.dsts[0]} = ({vocab}, re.compile({P.py_string(st.token_pattern)}), "
            f"{bool(st.lowercase)}, {stop}, {int(st.ngram_range[0])}, {int(st.ngram_range[1])}, "
            f"{bool(st.binary)}, {bool(st.sublinear_tf)}, {idf}, "
            f"{'None' if st.norm is None else P.py_string(st.norm)})\n")


def _margin(prog: Program, n_chunks: int) -> list[str]:
    est = prog.estimator
    out = ["def _margin(x, b):", "    z = _prepare(x)"]
    if isinstance(est, Linear):
        out[0:0] = [f"_W = ({''.join('(' + ', '.join(_lits(r, False)) + ',), ' for r in est.coef)})",
                    f"_B = ({''.join(v + ', ' for v in _lits(est.intercept, False))})", ""]
        out += ["    out = []", "    for w, c in zip(_W, _B):", "        s = 0.0",
                "        for wj, zj in zip(w, z):", "            s += wj * zj",
                "        out.append(s + c)", "    return out", ""]
        return out
    accs = _accs(est.n_outputs)
    for k, v in enumerate(_lits(est.base, est.acc32)):
        out.append(f"    s{k} = {v}")
    out += [f"    {accs} = _c{c}(z, {accs}, b)" for c in range(n_chunks)]
    if est.mean:
        n = f"{float(len(est.trees))!r}"
        for k in range(est.n_outputs):
            out.append(f"    b[0] = s{k} / {n}; s{k} = b[0]" if est.acc32 else f"    s{k} = s{k} / {n}")
    return out + [f"    return [{accs}]", ""]


def _link(prog: Program) -> list[str]:
    f32 = prog.f32
    out = ["def _link(m, b):"]
    if prog.link == "identity":
        return out + ["    return m", ""]
    if prog.link == "exp":
        body = (["    out = []", "    for v in m:", "        b[0] = _exp(v)",
                 "        out.append(b[0])", "    return out"] if f32 else
                ["    return [_exp(v) for v in m]"])
        return out + body + [""]
    if prog.link == "logistic":
        if f32:  # XGBoost: 1.0f / (1.0f + expf(min(-x, 88.7f))), all float32
            body = ["    out = []", "    for v in m:", "        t = -v",
                    f"        if t > {F32_88_7}:", f"            t = {F32_88_7}",
                    "        b[0] = _exp(t)", "        b[0] = b[0] + 1.0",
                    "        b[0] = 1.0 / b[0]", "        out.append(b[0])"]
            if prog.two_column:
                body += ["    b[0] = 1.0 - out[0]", "    out.insert(0, b[0])"]
        else:
            body = ["    out = [1.0 / (1.0 + _exp(-v)) for v in m]"]
            if prog.two_column:
                body += ["    out.insert(0, 1.0 - out[0])"]
        return out + body + ["    return out", ""]
    if prog.link == "softmax":
        body = ["    mx = m[0]", "    for v in m[1:]:", "        if v > mx or v != v:",
                "            mx = v", "    e = []", "    s = 0.0", "    for v in m:"]
        if f32:  # expf(x - max) in float32, summed in double, divided in float32
            body += ["        b[0] = v - mx", "        b[0] = _exp(b[0])", "        e.append(b[0])",
                     "        s += b[0]", "    b[0] = s", "    s = b[0]", "    out = []",
                     "    for v in e:", "        b[0] = v / s", "        out.append(b[0])",
                     "    return out"]
        else:
            body += ["        e.append(_exp(v - mx))", "        s += e[-1]",
                     "    return [v / s for v in e]"]
        return out + body + [""]
    raise ConversionError(f"Unknown link {prog.link!r}.")  # pragma: no cover


def _selftest(prog: Program) -> str:
    g = prog.golden

    def rows(a):
        return "[" + ", ".join("[" + ", ".join(_lits(r, False)) + "]" for r in np.asarray(a)) + "]"
    inputs = "[" + ", ".join(
        "[" + ", ".join("None" if v is None and s else "_NAN" if v is None else
                        P.py_string(v) if s else _lits([v], False)[0]
                        for v, s in zip(r, prog.string_columns)) + "]"
        for r in g["inputs"]) + "]"
    return P.render("python/selftest.py", inputs=inputs, margin=rows(g["margin"]),
                    margin_tol=rows(g["margin_tol"]), prediction=rows(g["prediction"]),
                    prediction_tol=rows(g["prediction_tol"]))
