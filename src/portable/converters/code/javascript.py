"""JavaScript (ES2020 modules, Node and browsers) printer.

Files: ``model.js`` (``predict(x, s)``, ``margin(x, s)``), ``trees_NNN.js`` (one function
per tree), ``cli.js``, ``selftest.js`` (``npm test``), ``server.js`` (portable's "node"
runtime) and ``package.json``. JavaScript numbers are doubles: every float32 operation is
wrapped in ``Math.fround``, and float32 constants are written as the double literal equal
to them (``Math.fround(0.1)`` would round twice: decimal -> double -> float32).

Text steps (``TextVectorizer`` in ``model.js``, instances in ``TEXT_VECTORIZERS``) match
``portable.ir.evaluate`` bit for bit:

* Tokens: :func:`~portable.converters._tokens.token_regex` as a ``RegExp`` with the ``u`` and
  ``g`` flags (``matchAll``; ``\\p{L}`` / ``\\p{N}`` are general categories, classes match
  astral code points whole). ``.`` becomes ``[^\\n]`` (JavaScript's ``.`` also stops at
  ``\\r``, U+2028 and U+2029), ``\\-`` outside a class ``-`` (an error in Unicode mode), and
  possessive quantifiers are refused.
* Lowercasing: ``toLowerCase()`` is Python's ``str.lower()``: full mappings and Unicode's
  Final_Sigma rule (ICU), measured over every code point alone and in five sigma contexts.
* ``ln`` of a count is computed correctly rounded with BigInt (cached per count), as
  CPython's and numpy's are for the counts that occur: V8's ``Math.log`` (fdlibm) is 1 ulp
  off already at 3, and that survives ``1 + ln``.

What remains is the engine's Unicode version. Node 20.20 (ICU 78, Unicode 17) against
CPython 3.11 (Unicode 14), every code point, as ``tests/test_native_text.py`` measures:
14,168 differ, all characters the two classify differently: 14,049 letters and digits
unassigned in Unicode 14 are word characters here (e.g. U+105C0), 55 new capitals lowercase
(U+1C89), new marks change sigma contexts, and two characters changed category (U+0295 Ll
to Lo, U+1171E Mn to Mc).
"""

from __future__ import annotations

import json

import numpy as np

from ... import ir
from ...errors import ConversionError
from . import printer as P
from .printer import check_supported
from .._tokens import token_regex
from .lower import Affine, Categorical, Impute, Linear, Program, StrRef, Text, ZeroNaN, lower

CHUNK_NODES = 60_000  # nodes per trees_NNN.js
UNIT_NODES = 3_000    # V8 optimises large functions poorly; split bigger trees
UNIT_DEPTH = 50
F32_88_7 = repr(float(np.float32(88.7)))


class JavaScriptConverter:
    """IR -> JavaScript package (route "code", runtime "node").

    Examples
    --------
    >>> import portable
    >>> from portable.converters.code.javascript import JavaScriptConverter
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> m = portable.import_model(DecisionTreeRegressor(max_depth=2).fit([[0.0], [1.0]], [0, 1]))
    >>> "model.js" in JavaScriptConverter().convert(m)
    True
    """

    name = "javascript"
    route = "code"
    default_runtime = "node"
    supports = frozenset({"tree_ensemble", "linear", "scaler", "imputer", "one_hot",
                          "column_transformer", "zero_as_missing", "text"})

    def convert(self, model: ir.Model, **options) -> dict[str, bytes]:
        """Generate the package files (deterministic for the same model)."""
        if options:
            raise ConversionError(f"Unknown JavaScript option(s) {', '.join(sorted(options))}; "
                                  f"the JavaScript converter takes none.")
        model = ir.check_model(model)
        check_supported(self, model)
        return print_project(lower(model))


def _lits(values, f32: bool) -> list[str]:
    raw = P.f32_as_f64_literals(values) if f32 else P.f64_literals(values)
    return [{"inf": "Infinity", "-inf": "-Infinity", "nan": "NaN"}.get(s, s) for s in raw]


def print_project(prog: Program) -> dict[str, bytes]:
    head = "".join(f"// {line}\n" for line in P.provenance(prog))
    files = {}
    est = prog.estimator
    chunks = []
    if not isinstance(est, Linear):
        sizes = [t.n_internal + len(t.leaves) for t in est.trees]
        for k, rng in enumerate(P.chunks_by_size(sizes, CHUNK_NODES)):
            files[f"trees_{k:03d}.js"] = head + _chunk(prog, rng)
            chunks.append(f"trees_{k:03d}")
    files["model.js"] = head + _model(prog, chunks)
    for name in ("cli.js", "server.js"):
        text = P.template(f"javascript/{name}")
        if text.startswith("#!"):
            shebang, text = text.split("\n", 1)
            files[name] = shebang + "\n" + head + text
        else:
            files[name] = head + text
    files["selftest.js"] = head + _selftest(prog)
    desc = P.comment_text(f"{prog.header['estimator']} exported by portable {prog.header['portable']}")
    files["package.json"] = P.render("javascript/package.json", description=desc)
    files["README.md"] = "\n".join([
        "# Generated JavaScript model", "", *[f"    {line}" for line in P.provenance(prog)], "",
        "    npm test                      # golden rows from portable's reference evaluator",
        "    node cli.js < rows.csv        # one prediction row per input row",
        "    node cli.js --margin < rows.csv", "",
        "    import { predict } from \"./model.js\";   // Node >= 14 and browsers (ES modules)",
        ""])
    files["native.json"] = json.dumps({
        "language": "javascript", "main": "server.js", "n_features": prog.n_inputs,
        "n_margin": prog.n_margin, "n_prediction": prog.n_prediction,
        "output_dtype": prog.output_dtype,
        "string_columns": [int(s) for s in prog.string_columns]}, indent=1, sort_keys=True) + "\n"
    return {k: v.encode("utf-8") for k, v in sorted(files.items())}


# ----------------------------------------------------------------------------- trees
def _chunk(prog: Program, rng) -> str:
    est = prog.estimator
    fns, calls = [], []
    f32 = est.acc32

    def add(target, value):
        return f"{target} = Math.fround({target} + {value});" if f32 else f"{target} += {value};"
    for i in rng:
        t = est.trees[i]
        nv = t.leaves.shape[1]
        vals = _lits(t.leaves.reshape(-1), f32)
        if t.n_internal == 0:
            calls += [add(f"a[{t.offset + j}]", vals[j]) for j in range(nv)]
            continue
        single = nv == 1
        conds = P.conditions(t, est.split_op, lambda f: f"x[{f}]", _lits(t.threshold, est.cmp32))
        cut = P.split_units(t, max_nodes=UNIT_NODES, max_depth=UNIT_DEPTH)

        def leaf(k, t=t, vals=vals, nv=nv, single=single):
            if single:
                return [f"return {vals[k]};"]
            return [add(f"a[{t.offset + j}]", vals[k * nv + j]) for j in range(nv)] + ["return;"]

        def call(u, i=i, single=single):
            return [f"return t{i}_{u}(x);" if single else f"t{i}_{u}(x, a); return;"]
        for u in np.flatnonzero(cut).tolist():
            fn = f"t{i}" if u == 0 else f"t{i}_{u}"
            body = [f"function {fn}(x{'' if single else ', a'}) {{"]
            if np.count_nonzero(cut) == 1:
                body += P.nested_ifs(t, conds, leaf, P.C_SYNTAX, 2)
            else:
                P.emit_subtree(t, u, conds, leaf, call, cut, P.C_SYNTAX, 2, body)
            fns.append("\n".join(body) + "\n}\n")
        calls.append(add(f"a[{t.offset}]", f"t{i}(x)") if single else f"t{i}(x, a);")
    run = ["export function run(x, a) {"] + [f"  {c}" for c in calls] + ["}", ""]
    return "\n".join(fns + run)


# ----------------------------------------------------------------------------- model.js
def _model(prog: Program, chunks) -> str:
    est = prog.estimator
    lines = [f'import {{ run as run{k} }} from "./{c}.js";' for k, c in enumerate(chunks)]
    lines += ["",
              "export const FEATURE_NAMES = Object.freeze([" + ", ".join(P.js_string(n) for n in prog.feature_names) + "]);",
              "export const OUTPUT_NAMES = Object.freeze([" + ", ".join(
                  P.js_string(n) for n in prog.signature["output_names"]) + "]);",
              "export const STRING_COLUMNS = Object.freeze([" + ", ".join(
                  "true" if s else "false" for s in prog.string_columns) + "]);",
              f"export const OUTPUT_FLOAT32 = {str(prog.f32).lower()};",
              f"export const HAS_STRINGS = {str(prog.has_strings).lower()};",
              f"export const N_FEATURES = {prog.n_inputs};",
              f"export const N_MARGIN = {prog.n_margin};",
              f"export const N_PREDICTION = {prog.n_prediction};", "",
              "/** A value the one-hot encoder never saw (fitted with handle_unknown='error'). */",
              "export class UnknownCategoryError extends Error {",
              "  constructor(column, value) {",
              "    super(`unknown category ${JSON.stringify(value)} in input column `"
              " + (column >= 0 ? FEATURE_NAMES[column] : \"?\"));",
              "    this.column = column;", "  }", "}", ""]
    lines += _texts(prog)
    lines += _prepare(prog)
    if isinstance(est, Linear):
        lines += ["const W = [" + ", ".join("[" + ", ".join(_lits(r, False)) + "]" for r in est.coef) + "];",
                  "const B = [" + ", ".join(_lits(est.intercept, False)) + "];",
                  "function raw(z) {", "  const a = new Array(B.length);",
                  "  for (let k = 0; k < B.length; k++) {", "    let s = 0;",
                  "    for (let j = 0; j < z.length; j++) s += W[k][j] * z[j];",
                  "    a[k] = s + B[k];", "  }", "  return a;", "}", ""]
    else:
        lines += ["const BASE = [" + ", ".join(_lits(est.base, est.acc32)) + "];",
                  "function raw(z) {", "  const a = BASE.slice();"]
        lines += [f"  run{k}(z, a);" for k in range(len(chunks))]
        if est.mean:
            n = float(len(est.trees))
            lines.append(f"  for (let k = 0; k < a.length; k++) a[k] = "
                         + (f"Math.fround(a[k] / {n!r});" if est.acc32 else f"a[k] / {n!r};"))
        lines += ["  return a;", "}", ""]
    lines += ["/** Raw scores before the link. x: numbers (NaN = missing); s: strings or null. */",
              "export function margin(x, s = null) {",
              "  if (x.length !== N_FEATURES) throw new RangeError(`expected ${N_FEATURES} features, got ${x.length}`);",
              "  return raw(prepare(x, s));", "}", "",
              "/** The prediction: values, or class probabilities. */",
              "export function predict(x, s = null) {", "  const m = margin(x, s);"]
    lines += _link(prog) + ["}", ""]
    return "\n".join(lines)


def _slot(prog: Program, j) -> str:
    return f"x[{j}]" if j < prog.n_inputs else f"v[{j}]"


def _prepare(prog: Program) -> list[str]:
    est = prog.estimator
    rnd = not isinstance(est, Linear) and est.round_input
    out = ["function prepare(x, s) {", f"  const v = new Float64Array({prog.n_slots if prog.ops else 0});"]
    d = lambda v: _lits([v], False)[0]  # noqa: E731
    for op in prog.ops:
        if isinstance(op, Affine):
            out.append(f"  {{ let t = {_slot(prog, op.src)};")
            for sym, val in (("-", op.subtract), ("/", op.divide), ("*", op.multiply), ("+", op.add)):
                if val is not None:
                    out.append(f"    t = t {sym} {d(val)};")
            if op.clip is not None:
                lo, hi = d(op.clip[0]), d(op.clip[1])
                out.append(f"    t = t < {lo} ? {lo} : (t > {hi} ? {hi} : t);")
            out.append(f"    v[{op.dst}] = t; }}")
        elif isinstance(op, Impute):
            s = _slot(prog, op.src)
            out.append(f"  v[{op.dst}] = Number.isNaN({s}) ? {d(op.fill)} : {s};")
        elif isinstance(op, ZeroNaN):
            s = _slot(prog, op.src)
            out.append(f"  v[{op.dst}] = {s} === 0 ? NaN : {s};")
        elif isinstance(op, Text):
            k = [o for o in prog.ops if isinstance(o, Text)].index(op)
            out.append(f"  TEXT_VECTORIZERS[{k}].bag(s == null ? null : s[{op.src.column}], v, "
                       f"{op.dsts[0]});")
        elif isinstance(op, Categorical):
            out += [f"  v[{k}] = 0;" for k in op.dsts if k is not None]
            if not op.cats:
                continue
            if isinstance(op.src, StrRef):
                out.append(f"  {{ const t = s == null ? null : s[{op.src.column}];")
                tests = ["t == null" if c is None else f"t === {P.js_string(c)}" for c in op.cats]
            else:
                out.append(f"  {{ const t = {_slot(prog, op.src)};")
                tests = ["Number.isNaN(t)" if c != c else f"t === {d(c)}" for c in op.cats]
            for k, (test, dst) in enumerate(zip(tests, op.dsts)):
                then = f"v[{dst}] = 1;" if dst is not None else "{ /* dropped category */ }"
                out.append(f"    {'if' if k == 0 else 'else if'} ({test}) {then}")
            if op.unknown_error:
                out.append(f"    else throw new UnknownCategoryError({op.column}, t);")
            out.append("  }")
        else:  # pragma: no cover
            raise ConversionError(f"internal error: unknown op {type(op).__name__}")
    cast = "Math.fround({})" if rnd else "{}"
    z = ", ".join(cast.format(_slot(prog, j)) for j in prog.features)
    return out + [f"  return [{z}];", "}", ""]


def _texts(prog: Program) -> list[str]:
    """The TextVectorizer class and ``TEXT_VECTORIZERS`` (one per text op, in order)."""
    ops = [op for op in prog.ops if isinstance(op, Text)]
    if not ops:
        return []
    out = [P.template("javascript/text.js"), "/** The text steps, in input order. */",
           "export const TEXT_VECTORIZERS = Object.freeze(["]
    for op in ops:
        st = op.step
        if list(op.dsts) != list(range(op.dsts[0], op.dsts[0] + len(op.dsts))):
            raise ConversionError("internal error: text columns are not consecutive slots")
        idf = "null" if st.idf is None else "[" + ", ".join(_lits(st.idf, False)) + "]"
        args = ["[" + ", ".join(P.js_string(t) for t in st.vocabulary) + "]",
                P.js_string(js_regex(st.token_pattern)), "true" if st.lowercase else "false",
                "[" + ", ".join(P.js_string(t) for t in st.stop_words) + "]",
                str(int(st.ngram_range[0])), str(int(st.ngram_range[1])),
                "true" if st.binary else "false", "true" if st.sublinear_tf else "false",
                idf, str({None: 0, "l1": 1, "l2": 2}[st.norm])]
        out.append("  new TextVectorizer(\n    " + ",\n    ".join(args) + "),")
    return out + ["]);", ""]


def js_regex(pattern: str) -> str:
    """``pattern`` (Python ``re``) as a JavaScript source that, with the ``u`` flag, finds the
    same tokens (see :func:`~portable.converters._tokens.token_regex`)."""
    return token_regex(pattern, target="JavaScript", dialect="js")


def _link(prog: Program) -> list[str]:
    f = prog.f32
    fr = "Math.fround" if f else ""
    if prog.link == "identity":
        return ["  return m;"]
    if prog.link == "exp":
        return [f"  return m.map((v) => {fr}(Math.exp(v)));"]
    if prog.link == "logistic":
        if f:  # XGBoost: 1.0f / (1.0f + expf(min(-x, 88.7f))), every step in float32
            body = ["  const p = m.map((v) => {", f"    const t = -v > {F32_88_7} ? {F32_88_7} : -v;",
                    "    return Math.fround(1 / Math.fround(Math.fround(Math.exp(t)) + 1));", "  });"]
        else:
            body = ["  const p = m.map((v) => 1 / (1 + Math.exp(-v)));"]
        if prog.two_column:
            body.append(f"  p.unshift({fr}(1 - p[0]));")
        return body + ["  return p;"]
    if prog.link == "softmax":
        return ["  let mx = m[0];",
                "  for (const v of m) if (v > mx || Number.isNaN(v)) mx = v;",
                f"  const e = m.map((v) => {fr}(Math.exp({fr}(v - mx))));",
                "  let sum = 0;", "  for (const v of e) sum += v;",
                f"  return e.map((v) => {fr}(v / {fr}(sum)));"]
    raise ConversionError(f"Unknown link {prog.link!r}.")  # pragma: no cover


def _selftest(prog: Program) -> str:
    g = prog.golden

    def rows(a):
        return "[" + ", ".join("[" + ", ".join(_lits(r, False)) + "]" for r in np.asarray(a, np.float64)) + "]"
    X = "[" + ", ".join("[" + ", ".join("NaN" if v is None or s else _lits([v], False)[0]
                                        for v, s in zip(r, prog.string_columns)) + "]"
                        for r in g["inputs"]) + "]"
    S = "[" + ", ".join("[" + ", ".join(P.js_string(v) if s and v is not None else "null"
                                        for v, s in zip(r, prog.string_columns)) + "]"
                        for r in g["inputs"]) + "]"
    return P.render("javascript/selftest.js", inputs=X, strings=S, margin=rows(g["margin"]),
                    margin_tol=rows(g["margin_tol"]), prediction=rows(g["prediction"]),
                    prediction_tol=rows(g["prediction_tol"]))
