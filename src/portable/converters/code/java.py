"""Java 11+ printer: sources under ``src/portable_model`` and a plain ``javac`` build.sh.

One static method per tree (nested ``if`` on ``float``/``double`` literals). The JVM limits
shape the output: a method's bytecode must stay under 64 KB, so a large tree is split into
several methods (:func:`printer.split_units`); a class's constant pool holds at most 65535
entries, so trees are spread over ``TreesNNN`` classes by an estimate of the constants they
use; a static array initialiser is bytecode too, so long arrays live in ``DataNNN`` holder
classes of 2,000 items each. Classes are ``strictfp``: IEEE float/double arithmetic on every
JVM from 11 (17+ is strict anyway).

Text steps run in ``TextVectorizer.java`` (one ``TextNNN`` holder per step) and match
``portable.ir.evaluate`` bit for bit:

* Tokens: :func:`~portable.converters._tokens.token_regex` for ``java.util.regex``.
  ``\\p{L}`` / ``\\p{N}`` are general categories with or without ``UNICODE_CHARACTER_CLASS``
  (measured identical over all code points) and a class matches a supplementary code point
  whole. ``token_regex`` spells ``.`` as ``[^\\n]`` and escapes ``[`` and ``&`` inside a
  class (a nested class, ``&&`` intersection in Java).
* Lowercasing: ``toLowerCase(Locale.ROOT)``, except capital sigma. Java picks final sigma by
  word boundaries, not by Unicode's rule that Python follows: measured over every code point
  X, ``"aX\u03a3"`` lowercased differently for 28,619 X (e.g. ``"a0\u03a3"``: Python sigma,
  Java final sigma), ``"X\u03a3"`` for 315 and ``"a\u03a3X"`` for 316. ``lower()`` applies
  CPython's rule (cased letter before, skipping case-ignorable characters; none after) with
  the JVM's categories and a 17-entry table of Word_Break mid-letter characters.
* ``ln`` of a count is computed correctly rounded (as CPython's and numpy's are for counts
  below 9,170 and 19,143): HotSpot's x86 ``Math.log`` is, ``StrictMath.log`` (fdlibm, the
  fallback on other JVMs) is 1 ulp off already at 3.

What remains is the JVM's Unicode version. Java 17 (Unicode 13) against CPython 3.11
(Unicode 14), every code point, as ``tests/test_native_text.py`` measures: 642 differ, all
characters the two classify differently: 525 Unicode 14 letters and digits are not word
characters (e.g. U+0870 ARABIC LETTER ALEF WITH ATTACHED FATHA, U+16AC0 TANGSA DIGIT ZERO),
40 Unicode 14 capitals do not lowercase (U+2C2F), and new marks change sigma contexts
(U+1734 changed category).
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

POOL_BUDGET = 30_000   # estimated constant-pool entries per Trees class (limit 65535)
METHOD_BYTES = 45_000  # estimated bytecode per method (limit 65535)
UNIT_DEPTH = 50        # nesting depth per method (javac recurses on nested statements)
ARRAY_ITEMS = 2_000    # items per DataNNN holder class
PREP_COST = 2_000      # preprocessing statements per method


class JavaConverter:
    """IR -> Java 11+ project (route "code", runtime "jvm").

    Examples
    --------
    >>> import portable
    >>> from portable.converters.code.java import JavaConverter
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> m = portable.import_model(DecisionTreeRegressor(max_depth=2).fit([[0.0], [1.0]], [0, 1]))
    >>> "src/portable_model/Model.java" in JavaConverter().convert(m)
    True
    """

    name = "java"
    route = "code"
    default_runtime = "jvm"
    supports = frozenset({"tree_ensemble", "linear", "scaler", "imputer", "one_hot",
                          "column_transformer", "zero_as_missing", "text"})

    def convert(self, model: ir.Model, **options) -> dict[str, bytes]:
        """Generate the project files (deterministic for the same model)."""
        if options:
            raise ConversionError(f"Unknown Java option(s) {', '.join(sorted(options))}; "
                                  f"the Java converter takes none.")
        model = ir.check_model(model)
        check_supported(self, model)
        return JavaPrinter(lower(model)).files()


class JavaPrinter:
    def __init__(self, prog: Program):
        self.prog = prog
        self.head = "".join(f"// {line}\n" for line in P.provenance(prog))
        self.out: dict[str, str] = {}
        self.n_data = 0
        self.text_names: dict[int, str] = {}
        est = prog.estimator
        self.z_t = "double" if isinstance(est, Linear) or not est.cmp32 else "float"
        self.acc_t = "float" if getattr(est, "acc32", False) else "double"

    # ------------------------------------------------------------------------- helpers
    def lits(self, values, ctype: str) -> list[str]:
        f = ctype == "float"
        raw = P.f32_literals(values) if f else P.f64_literals(values)
        box = "Float" if f else "Double"
        special = {"inf": f"{box}.POSITIVE_INFINITY", "-inf": f"{box}.NEGATIVE_INFINITY",
                   "nan": f"{box}.NaN"}
        return [special.get(s, s + ("f" if f else "")) for s in raw]

    def array(self, ctype: str, items: list[str]) -> str:
        """An expression for a ``ctype[]`` of ``items``, via holder classes when long."""
        if len(items) <= ARRAY_ITEMS:
            return f"new {ctype}[]{{{', '.join(items)}}}"
        parts = []
        for a in range(0, len(items), ARRAY_ITEMS):
            name = f"Data{self.n_data:03d}"
            self.n_data += 1
            self.write(name, f"final class {name} {{\n    private {name}() {{}}\n"
                             f"    static final {ctype}[] V = {{{', '.join(items[a:a + ARRAY_ITEMS])}}};\n}}\n")
            parts.append(f"{name}.V")
        return f"Model.cat(new {ctype}[0], {', '.join(parts)})"

    def write(self, cls: str, body: str) -> None:
        self.out[f"src/portable_model/{cls}.java"] = (self.head + "package portable_model;\n\n"
                                                      + body)

    # ------------------------------------------------------------------------- files
    def files(self) -> dict[str, bytes]:
        prog = self.prog
        classes = [] if isinstance(prog.estimator, Linear) else self.trees()
        self.texts()
        self.model(classes)
        self.selftest()
        for name in ("Main", "Server"):
            self.write(name, P.template(f"java/{name}.java").split("\n", 2)[2])
        files = dict(self.out)
        files["build.sh"] = self.head.replace("//", "#") + P.template("java/build.sh").split("\n", 1)[1]
        files["README.md"] = "\n".join([
            "# Generated Java model", "", *[f"    {line}" for line in P.provenance(prog)], "",
            "    ./build.sh                                  # javac into build/, then the self-test",
            "    java -cp build portable_model.Main < rows.csv",
            "    java -cp build portable_model.Main --margin < rows.csv", "",
            "API: `portable_model.Model.predict(double[] x, String[] s)` and `margin(...)`.", ""])
        files["native.json"] = json.dumps({
            "language": "java", "main": "portable_model.Server", "n_features": prog.n_inputs,
            "n_margin": prog.n_margin, "n_prediction": prog.n_prediction,
            "output_dtype": prog.output_dtype,
            "string_columns": [int(s) for s in prog.string_columns]}, indent=1, sort_keys=True) + "\n"
        return {k: v.encode("utf-8") for k, v in sorted(files.items())}

    # ------------------------------------------------------------------------- trees
    def trees(self) -> list[str]:
        est = self.prog.estimator
        wide = 2 if self.acc_t == "double" or self.z_t == "double" else 1
        costs = [(t.n_internal + t.leaves.size) * wide + 8 for t in est.trees]
        classes = []
        for k, rng in enumerate(P.chunks_by_size(costs, POOL_BUDGET)):
            name = f"Trees{k:03d}"
            self.write(name, self.tree_class(name, rng))
            classes.append(name)
        return classes

    def tree_class(self, name: str, rng) -> str:
        est = self.prog.estimator
        z, acc = self.z_t, self.acc_t
        methods, calls = [], []
        for i in rng:
            t = est.trees[i]
            nv = t.leaves.shape[1]
            vals = self.lits(t.leaves.reshape(-1), acc)
            if t.n_internal == 0:
                calls += [f"a[{t.offset + j}] += {vals[j]};" for j in range(nv)]
                continue
            single = nv == 1
            sig = f"({z}[] x)" if single else f"({z}[] x, {acc}[] a)"
            ret = acc if single else "void"
            conds = P.conditions(t, est.split_op, lambda f: f"x[{f}]", self.lits(t.threshold, z))
            per_node = 16 + (4 if single else 12 * nv)
            cut = P.split_units(t, max_nodes=max(8, METHOD_BYTES // per_node), max_depth=UNIT_DEPTH)

            def leaf(k, t=t, vals=vals, nv=nv, single=single):
                if single:
                    return [f"return {vals[k]};"]
                return [f"a[{t.offset + j}] += {vals[k * nv + j]};" for j in range(nv)] + ["return;"]

            def call(u, i=i, single=single):
                return [f"return t{i}_{u}(x);" if single else f"t{i}_{u}(x, a); return;"]
            for u in np.flatnonzero(cut).tolist():
                fn = f"t{i}" if u == 0 else f"t{i}_{u}"
                body = [f"    static {ret} {fn}{sig} {{"]
                if np.count_nonzero(cut) == 1:
                    body += P.nested_ifs(t, conds, leaf, P.C_SYNTAX, 8)
                else:
                    P.emit_subtree(t, u, conds, leaf, call, cut, P.C_SYNTAX, 8, body)
                methods.append("\n".join(body) + "\n    }\n")
            calls.append(f"a[{t.offset}] += t{i}(x);" if single else f"t{i}(x, a);")
        run = [f"    static void run({z}[] x, {acc}[] a) {{"] + [f"        {c}" for c in calls] + ["    }"]
        return (f"strictfp final class {name} {{\n    private {name}() {{}}\n\n"
                + "\n".join(methods) + "\n".join(run) + "\n}\n")

    # ------------------------------------------------------------------------- Model
    def model(self, classes) -> None:
        prog, est = self.prog, self.prog.estimator
        z, acc = self.z_t, self.acc_t
        names = self.array("String", [P.java_string(n) for n in prog.feature_names])
        outs = self.array("String", [P.java_string(n) for n in prog.signature["output_names"]])
        flags = self.array("boolean", ["true" if s else "false" for s in prog.string_columns])
        prep = self.prepare()
        if isinstance(est, Linear):
            W = self.array("double", self.lits(est.coef.reshape(-1), "double"))
            B = self.array("double", self.lits(est.intercept, "double"))
            body = [f"    private static final double[] W = {W};",
                    f"    private static final double[] B = {B};",
                    "    static double[] raw(double[] z) {",
                    "        double[] a = new double[B.length];",
                    "        for (int k = 0; k < B.length; k++) {",
                    "            double s = 0.0;",
                    "            for (int j = 0; j < z.length; j++) s += W[k * z.length + j] * z[j];",
                    "            a[k] = s + B[k];", "        }", "        return a;", "    }"]
        else:
            base = self.array(acc, self.lits(est.base, acc))
            body = [f"    private static final {acc}[] BASE = {base};",
                    f"    static {acc}[] raw({z}[] z) {{", f"        {acc}[] a = BASE.clone();"]
            body += [f"        {c}.run(z, a);" for c in classes]
            if est.mean:
                body.append(f"        for (int k = 0; k < a.length; k++) a[k] /= ({acc}) {len(est.trees)};")
            body += ["        return a;", "    }"]
        text = P.render("java/Model.java", names=names, outs=outs, flags=flags,
                        f32=str(prog.f32).lower(), strings=str(prog.has_strings).lower(),
                        n_features=prog.n_inputs, n_margin=prog.n_margin,
                        n_prediction=prog.n_prediction, z_t=z, acc_t=acc,
                        body="\n".join(body), prepare=prep, link=self.link())
        self.write("Model", text.split("\n", 2)[2])

    # ------------------------------------------------------------------------- text
    def texts(self) -> None:
        """``TextVectorizer.java`` and one ``TextNNN`` holder per text op (its arrays are
        class-initialiser bytecode, kept out of Model's)."""
        ops = [op for op in self.prog.ops if isinstance(op, Text)]
        if not ops:
            return
        self.write("TextVectorizer", P.template("java/TextVectorizer.java").split("\n", 2)[2])
        for k, op in enumerate(ops):
            st = op.step
            if list(op.dsts) != list(range(op.dsts[0], op.dsts[0] + len(op.dsts))):
                raise ConversionError("internal error: text columns are not consecutive slots")
            name = f"Text{k:03d}"
            idf = "null" if st.idf is None else self.array("double", self.lits(st.idf, "double"))
            args = [self.array("String", [_java_term(t) for t in st.vocabulary]),
                    P.java_string(java_regex(st.token_pattern)),
                    "true" if st.lowercase else "false",
                    self.array("String", [_java_term(t) for t in st.stop_words]),
                    str(int(st.ngram_range[0])), str(int(st.ngram_range[1])),
                    "true" if st.binary else "false", "true" if st.sublinear_tf else "false",
                    idf, str({None: 0, "l1": 1, "l2": 2}[st.norm])]
            self.write(name, f"final class {name} {{\n    private {name}() {{}}\n\n"
                             f"    static final TextVectorizer T = new TextVectorizer(\n        "
                             + ",\n        ".join(args) + ");\n}\n")
            self.text_names[op.dsts[0]] = name

    def slot(self, j) -> str:
        return f"x[{j}]" if j < self.prog.n_inputs else f"v[{j}]"

    def prepare(self) -> str:
        prog, est = self.prog, self.prog.estimator
        blocks = [(1, self.op(op)) for op in prog.ops]
        if isinstance(est, Linear) or not est.round_input:
            cast = "{}"
        else:
            cast = "(float) {}" if est.cmp32 else "(double) (float) {}"
        blocks += [(1, [f"z[{k}] = {cast.format(self.slot(j))};"]) for k, j in enumerate(prog.features)]
        methods, calls, cur, cost = [], [], [], 0
        for c, lines in blocks + [(PREP_COST + 1, None)]:
            if cur and (cost + c > PREP_COST or lines is None):
                name = f"prepare{len(methods)}"
                methods.append(f"    private static void {name}(double[] x, String[] s, double[] v, "
                               f"{self.z_t}[] z) {{\n" + "\n".join("        " + s for s in cur)
                               + "\n    }\n")
                calls.append(f"        {name}(x, s, v, z);")
                cur, cost = [], 0
            if lines:
                cur += lines
                cost += c + len(lines)
        nv = prog.n_slots if prog.ops else 0
        return ("\n".join(methods) + f"\n    static {self.z_t}[] prepare(double[] x, String[] s) {{\n"
                f"        double[] v = new double[{nv}];\n        {self.z_t}[] z = new {self.z_t}"
                f"[{len(prog.features)}];\n" + "\n".join(calls) + "\n        return z;\n    }\n")

    def op(self, op) -> list[str]:
        d = lambda v: self.lits([v], "double")[0]  # noqa: E731
        if isinstance(op, Affine):
            lines = [f"{{ double t = {self.slot(op.src)};"]
            for sym, val in (("-", op.subtract), ("/", op.divide), ("*", op.multiply), ("+", op.add)):
                if val is not None:
                    lines.append(f"  t = t {sym} {d(val)};")
            if op.clip is not None:
                lo, hi = d(op.clip[0]), d(op.clip[1])
                lines.append(f"  t = t < {lo} ? {lo} : (t > {hi} ? {hi} : t);")
            return lines + [f"  v[{op.dst}] = t; }}"]
        if isinstance(op, Text):
            return [f"{self.text_names[op.dsts[0]]}.T.bag(s == null ? null : s[{op.src.column}], "
                    f"v, {op.dsts[0]});"]
        s = self.slot(getattr(op, "src", 0)) if not isinstance(getattr(op, "src", 0), StrRef) else ""
        if isinstance(op, Impute):
            return [f"v[{op.dst}] = Double.isNaN({s}) ? {d(op.fill)} : {s};"]
        if isinstance(op, ZeroNaN):
            return [f"v[{op.dst}] = {s} == 0.0 ? Double.NaN : {s};"]
        if isinstance(op, Categorical):
            lines = [f"v[{k}] = 0.0;" for k in op.dsts if k is not None]
            if not op.cats:
                return lines
            if isinstance(op.src, StrRef):
                lines.append(f"{{ String t = s == null ? null : s[{op.src.column}];")
                tests = ["t == null" if c is None else f"{P.java_string(c)}.equals(t)" for c in op.cats]
            else:
                lines.append(f"{{ double t = {s};")
                tests = ["Double.isNaN(t)" if c != c else f"t == {d(c)}" for c in op.cats]
            for k, (test, dst) in enumerate(zip(tests, op.dsts)):
                then = f"v[{dst}] = 1.0;" if dst is not None else "{ /* dropped category */ }"
                lines.append(f"  {'if' if k == 0 else 'else if'} ({test}) {then}")
            if op.unknown_error:
                lines.append(f"  else throw new UnknownCategoryException({op.column}, String.valueOf(t));")
            return lines + ["}"]
        raise ConversionError(f"internal error: unknown op {type(op).__name__}")  # pragma: no cover

    def link(self) -> str:
        prog = self.prog
        f = prog.f32
        ex = "(float) Math.exp" if f else "Math.exp"
        if prog.link == "identity":
            return "        return m;"
        if prog.link == "exp":
            return f"        for (int k = 0; k < m.length; k++) m[k] = {ex}(({'float' if f else 'double'}) m[k]);\n        return m;"
        if prog.link == "logistic":
            if f:  # XGBoost: 1.0f / (1.0f + expf(min(-x, 88.7f)))
                core = ("            float t = -(float) m[k]; if (t > 88.7f) t = 88.7f;\n"
                        "            p[k + TWO] = 1.0f / ((float) Math.exp(t) + 1.0f);")
            else:
                core = "            p[k + TWO] = 1.0 / (1.0 + Math.exp(-m[k]));"
            first = (f"        if (TWO == 1) p[0] = {'1.0f - (float) p[1]' if f else '1.0 - p[1]'};\n")
            return (f"        final int TWO = {int(prog.two_column)};\n"
                    "        double[] p = new double[m.length + TWO];\n"
                    f"        for (int k = 0; k < m.length; k++) {{\n{core}\n        }}\n"
                    + first + "        return p;")
        if prog.link == "softmax":
            t = "float" if f else "double"
            return (f"        {t} mx = ({t}) m[0];\n"
                    f"        for (int k = 1; k < m.length; k++) if (({t}) m[k] > mx || Double.isNaN(m[k])) mx = ({t}) m[k];\n"
                    f"        {t}[] e = new {t}[m.length];\n        double sum = 0.0;\n"
                    f"        for (int k = 0; k < m.length; k++) {{ e[k] = {ex}(({t}) m[k] - mx); sum += e[k]; }}\n"
                    "        double[] p = new double[m.length];\n"
                    f"        for (int k = 0; k < m.length; k++) p[k] = e[k] / ({t}) sum;\n"
                    "        return p;")
        raise ConversionError(f"Unknown link {prog.link!r}.")  # pragma: no cover

    # ------------------------------------------------------------------------- self-test
    def selftest(self) -> None:
        prog, g = self.prog, self.prog.golden

        def rows(a):
            return "{" + ", ".join(self.array("double", self.lits(r, "double"))
                                   for r in np.asarray(a, np.float64)) + "}"
        X = "{" + ", ".join(self.array("double", [
            "Double.NaN" if v is None or s else self.lits([v], "double")[0]
            for v, s in zip(r, prog.string_columns)]) for r in g["inputs"]) + "}"
        S = "{" + ", ".join(self.array("String", [
            P.java_string(v) if s and v is not None else "null"
            for v, s in zip(r, prog.string_columns)]) for r in g["inputs"]) + "}"
        text = P.render("java/SelfTest.java", inputs=X, strings=S, margin=rows(g["margin"]),
                        margin_tol=rows(g["margin_tol"]), prediction=rows(g["prediction"]),
                        prediction_tol=rows(g["prediction_tol"]))
        self.write("SelfTest", text.split("\n", 2)[2])


# ----------------------------------------------------------------------------- text
MAX_TERM = 16_000  # a class-file string constant holds at most 65535 bytes (<= 4 per char)


def _java_term(term: str) -> str:
    if len(term) > MAX_TERM:
        from ...errors import UnsupportedFeatureError
        raise UnsupportedFeatureError(f"A vocabulary term of {len(term)} characters is longer "
                                      f"than a Java string constant can hold; use --format python.")
    return P.java_string(term)


def java_regex(pattern: str) -> str:
    """``pattern`` (Python ``re``) as a ``java.util.regex`` source finding the same tokens
    (see :func:`~portable.converters._tokens.token_regex`); ``UnsupportedFeatureError`` when
    no equivalent is known."""
    return token_regex(pattern, target="Java", dialect="java")
