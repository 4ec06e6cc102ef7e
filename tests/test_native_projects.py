"""Each generated project builds and passes its own self-test with its own toolchain, and its
CLI stub turns CSV rows into the same numbers as ``portable.evaluate``."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys
import tomllib

import numpy as np
import pytest

import portable

from test_native_models import model, rows

TOOLS = {"c": ("make", "gcc"), "python": (), "java": ("javac", "java"), "javascript": ("node", "npm")}
# The build and self-test command of each ecosystem, and the CLI stub.
BUILD = {"c": ["make", "-j2", "all", "test"], "python": [sys.executable, "-m", "portable_model.selftest"],
         "java": ["sh", "build.sh"], "javascript": ["npm", "test", "--silent"]}
CLI = {"c": ["./predict"], "python": [sys.executable, "-m", "portable_model"],
       "java": ["java", "-cp", "build", "portable_model.Main"], "javascript": ["node", "cli.js"]}
MODELS = ("xgb_multi", "onehot_strings_forest")


def _need(lang):
    missing = [t for t in TOOLS[lang] if shutil.which(t) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed")


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    """(language, model) -> folder holding the generated project, built and self-tested."""
    built = {}

    def get(lang, name):
        _need(lang)
        if (lang, name) not in built:
            out = tmp_path_factory.mktemp(f"proj-{lang}-{name}")
            for path, data in portable.api.convert(model(name), format=lang).files.items():
                (out / path).parent.mkdir(parents=True, exist_ok=True)
                (out / path).write_bytes(data)
            r = subprocess.run(BUILD[lang], cwd=out, capture_output=True, text=True, timeout=600)
            built[(lang, name)] = (out, r)
        return built[(lang, name)]
    return get


def _csv(m, X) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(m.signature.feature_names)  # a header row: the stubs must skip it
    for row in X:
        w.writerow(["" if (v is None or (isinstance(v, float) and v != v)) else
                    (v if isinstance(v, str) else repr(float(v))) for v in row])
    return buf.getvalue()


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("lang", list(BUILD))
def test_generated_project_builds_and_its_own_selftest_passes(projects, lang, name):
    out, r = projects(lang, name)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "selftest: 8 golden rows OK" in r.stdout


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("lang", list(BUILD))
def test_cli_stub_prints_the_reference_predictions_and_margins_from_csv(projects, lang, name):
    out, r = projects(lang, name)
    assert r.returncode == 0, r.stderr
    m = model(name)
    X = np.vstack([rows(name, "nan")[:20], rows(name, "probe")[:20]])
    text = _csv(m, X)
    for flag, stage in (([], "prediction"), (["--margin"], "margin")):
        p = subprocess.run(CLI[lang] + flag, cwd=out, input=text, capture_output=True,
                           text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        got = np.array([[float(v) for v in line.split(",")] for line in p.stdout.splitlines()])
        ref = portable.evaluate(m, X, output=stage)
        assert got.shape == ref.shape
        if ref.dtype == np.float32:  # each stub prints text that reads back as the float32
            got = got.astype(np.float32)
        tol = 0 if stage == "margin" else 4 * np.spacing(np.abs(ref).astype(ref.dtype))
        assert np.all(np.abs(got - ref) <= tol), (lang, stage)


@pytest.mark.parametrize("lang", list(BUILD))
def test_cli_stub_rejects_a_row_of_the_wrong_width_with_exit_status_2(projects, lang):
    out, _ = projects(lang, "xgb_multi")
    p = subprocess.run(CLI[lang], cwd=out, input="1,2\n", capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 2 and "column" in p.stderr


@pytest.mark.parametrize("lang", list(BUILD))
def test_cli_stub_skips_empty_and_blank_lines_but_reads_a_row_of_empty_cells(projects, lang):
    out, r = projects(lang, "xgb_multi")
    assert r.returncode == 0, r.stdout + r.stderr
    m = model("xgb_multi")
    n = m.signature.n_features
    empty = ",".join([""] * n)  # a row whose every value is missing
    text = "\n" + "   \r\n" + empty + "\r\n\n" + empty + "\n"
    p = subprocess.run(CLI[lang], cwd=out, input=text, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr
    got = np.array([[float(v) for v in line.split(",")] for line in p.stdout.splitlines()])
    ref = portable.evaluate(m, np.full((2, n), np.nan), output="prediction")
    assert got.shape == ref.shape, p.stdout
    assert np.allclose(got, ref, rtol=1e-6, atol=0)


@pytest.mark.parametrize("lang", list(BUILD))
def test_generation_is_deterministic_and_every_source_names_its_provenance(lang):
    m = model("xgb_multi")
    a = portable.api.convert(m, format=lang).files
    b = portable.api.convert(m, format=lang).files
    assert a == b
    fp = m.fingerprint()
    sources = [k for k in a if k.endswith((".c", ".h", ".py", ".java", ".js"))]
    assert sources and all(f"sha256:{fp}".encode() in a[k] for k in sources)
    assert all(b"xgboost" in a[k] and b"portable" in a[k] for k in sources)


def test_build_files_are_the_ecosystems_own():
    m = model("xgb_multi")
    py = portable.api.convert(m, format="python").files
    meta = tomllib.loads(py["pyproject.toml"].decode())
    assert meta["project"]["dependencies"] == [] and meta["tool"]["setuptools"]["packages"] == ["portable_model"]
    js = portable.api.convert(m, format="javascript").files
    import json
    pkg = json.loads(js["package.json"])
    assert pkg["scripts"]["test"] == "node selftest.js" and pkg["type"] == "module"
    c = portable.api.convert(m, format="c").files
    assert b"STRICT = -std=c99 -ffp-contract=off -fno-fast-math" in c["Makefile"]
    java = portable.api.convert(m, format="java").files
    assert b"javac" in java["build.sh"] and b"portable_model.SelfTest" in java["build.sh"]
