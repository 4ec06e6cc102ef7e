"""Hostile feature names, category values, class labels and metadata can never inject code:
they reach the generated sources only as escaped string literals or sanitised comments."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys

import numpy as np
import pytest

import portable
from portable import ir

pd = pytest.importorskip("pandas")

from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.preprocessing import OneHotEncoder  # noqa: E402
from sklearn.tree import DecisionTreeClassifier  # noqa: E402

PAYLOAD = '"); system("touch PWNED"); //'
HOSTILE = [
    'quote"inside', "back\\slash", "new\nline", "star */ close", PAYLOAD,
    "unicode \u00fcn\u00ef \u2603 \U0001d11e", "??/ trigraph", "\\u000a java escape",
    "${template} `tick`", "</script>", "' or '1'='1", "tab\there", "#!/bin/sh",
]
BUILD = {"c": ["make", "-j2", "all", "test"],
         "python": [sys.executable, "-m", "portable_model.selftest"],
         "java": ["sh", "build.sh"], "javascript": ["node", "selftest.js"]}
CLI = {"c": ["./predict"], "python": [sys.executable, "-m", "portable_model"],
       "java": ["java", "-cp", "build", "portable_model.Main"], "javascript": ["node", "cli.js"]}
TOOLS = {"c": "gcc", "python": None, "java": "javac", "javascript": "node"}


@pytest.fixture(scope="module")
def hostile():
    rng = np.random.default_rng(0)
    n = 300
    cats = ["*/", 'x");exit(1);//', "\\", "\u00e9\n\u00e8", "plain"]
    df = pd.DataFrame({HOSTILE[0]: rng.choice(cats, n)})
    for name in HOSTILE[1:]:
        df[name] = rng.normal(size=n)
    y = np.where(df[HOSTILE[4]] > 0, "yes */ \"no\"", "n\u00f6\nlabel\\")
    est = ColumnTransformer([("oh", OneHotEncoder(handle_unknown="ignore"), [HOSTILE[0]])],
                            remainder="passthrough")
    from sklearn.pipeline import make_pipeline
    fitted = make_pipeline(est, DecisionTreeClassifier(max_depth=4, random_state=0)).fit(df, y)
    m = portable.import_model(fitted)
    evil = ir.Source("lib */ \n#include <evil>", '1"2', PAYLOAD + " \\u000a */")
    m = ir.check_model(ir.Model(m.signature, m.steps, evil))
    return m, df


@pytest.mark.parametrize("lang", list(BUILD))
def test_hostile_names_and_labels_stay_inert_in_every_language(hostile, lang, tmp_path):
    if TOOLS[lang] and shutil.which(TOOLS[lang]) is None:
        pytest.skip(f"{TOOLS[lang]} not installed")
    m, df = hostile
    files = portable.api.convert(m, format=lang).files
    for path, data in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(data)
        lines = data.decode("utf-8").splitlines()
        # Metadata went through the comment sanitiser: no newline broke out of a comment.
        assert not any(line.lstrip().startswith("#include <evil>") for line in lines)
        if lang != "python":  # Python's ascii() may keep '"' raw inside a '...' literal
            assert not any(PAYLOAD in line for line in lines)
    r = subprocess.run(BUILD[lang], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not (tmp_path / "PWNED").exists()
    # The CLI recognises a header row of the exact hostile names (proving they survived
    # escaping byte for byte) and predicts the rows after it like the reference.
    X = df.iloc[:15].to_numpy(dtype=object)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(m.signature.feature_names)
    w.writerows([[v if isinstance(v, str) else repr(float(v)) for v in row] for row in X])
    p = subprocess.run(CLI[lang], cwd=tmp_path, input=buf.getvalue(), capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    got = np.array([[float(v) for v in line.split(",")] for line in p.stdout.splitlines()])
    assert np.array_equal(got, portable.evaluate(m, df.iloc[:15]))
    assert not (tmp_path / "PWNED").exists()


def test_python_package_exposes_the_hostile_names_and_labels_exactly(hostile, tmp_path):
    m, df = hostile
    art = portable.api.convert(m, format="python").save(tmp_path / "a", check=False)
    s = portable.load(art.path)
    assert s.module.FEATURE_NAMES == m.signature.feature_names
    assert s.module.OUTPUT_NAMES == m.signature.output_names
    assert np.array_equal(s.predict(df.iloc[:30]), portable.evaluate(m, df.iloc[:30]))


def test_c_library_exposes_the_hostile_names_byte_for_byte(hostile, tmp_path):
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed")
    import ctypes
    m, _ = hostile
    art = portable.api.convert(m, format="c").save(tmp_path / "a", check=False)
    s = portable.load(art.path)
    n = m.n_features
    names = (ctypes.c_char_p * n).in_dll(s._lib, "portable_feature_names")
    assert tuple(v.decode("utf-8") for v in names) == m.signature.feature_names
