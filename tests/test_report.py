"""Reports: a self-contained HTML page (inline SVG parity matrix, error histograms, latency
distributions; tables) checked in headless Chromium, a Markdown summary, `portable report`."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest
from click.testing import CliRunner

from portable.commands.harness import report as report_cmd
from portable.report import dumps, load_results, render_html, render_markdown

xgb = pytest.importorskip("xgboost")
pytest.importorskip("onnxruntime")
from sklearn.datasets import make_classification  # noqa: E402

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


# The engines under test warn freely (converter versions, float casts); keep output readable.
pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture(scope="module")
def results():
    """A verify result with a failing route (a nudged runtime) and a quick bench result."""
    from portable.bench import bench
    from portable.verify import verify

    X, y = make_classification(n_samples=400, n_features=6, random_state=0)
    est = xgb.XGBClassifier(n_estimators=8, max_depth=3, n_jobs=1, random_state=0).fit(X, y)
    v = verify(est, formats=["onnx", "pmml"], n_rows=200, n_nan=50, n_probe=300)
    probes = v["routes"]["onnx/onnxruntime"]["results"]["vs_reference"]["probes"]
    probes["margin"]["histogram"][5] = 7
    v["routes"]["onnx/onnxruntime"]["status"] = "failed"  # as a broken runtime would show
    v["routes"]["pfa/titus"] = {"id": "pfa/titus", "format": "pfa", "runtime": "titus",
                                "engine": "portable", "status": "skipped",
                                "reason": "titus2 is not installed (test)"}
    b = bench(est, formats=["onnx"], quick=True, peers=False)
    return json.loads(dumps(v)), json.loads(dumps(b))


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "headless_shell"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _dump_dom(html_path) -> str:
    exe = _chromium()
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI: apt-get update && apt-get install -y chromium")
        pytest.skip("chromium is not installed (apt-get install -y chromium); CI must have it")
    with tempfile.TemporaryDirectory() as profile:
        out = subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom",
                              f"file://{os.path.abspath(html_path)}"],
                             capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_html_renders_plots_and_tables_in_headless_chromium(results, tmp_path):
    v, b = results
    path = tmp_path / "report.html"
    path.write_text(render_html([v, b]))
    dom = _dump_dom(path)
    # The page's script ran in the browser: it counted the plots and measured each one.
    n_plots = int(re.search(r'<body[^>]*data-plots="(\d+)"', dom).group(1))
    rendered = re.findall(r'<svg class="plot ([\w-]+)"[^>]*data-rendered="(\d+)x(\d+)"', dom)
    kinds = [k for k, _, _ in rendered]
    assert n_plots == len(rendered) == 1 + 2 + 1  # matrix, one histogram per run route, latency
    assert kinds.count("parity-matrix") == 1 and kinds.count("error-hist") == 2
    assert kinds.count("latency-dist") == 1
    assert all(int(w) > 50 and int(h) > 20 for _, w, h in rendered)  # laid out, not empty
    cells = re.findall(r'<rect class="cell" data-status="(\w+)"', dom)
    assert "failed" in cells and "passed" in cells and "skipped" in cells
    assert dom.count('class="bar"') == 2 * len(v["settings"]["histogram_bins"])
    assert 'data-count="7"' in dom  # the 7 rows put in an ULP bin above
    ok_runners = [n for n, e in b["runners"].items() if e["status"] == "ok"]
    assert dom.count('class="p50"') == dom.count('class="p99"') == len(ok_runners)
    routes_table = re.search(r'<table class="routes">(.*?)</table>', dom, re.S).group(1)
    assert routes_table.count("<tr>") == 1 + len(v["routes"])
    bench_table = re.search(r'<table class="bench">(.*?)</table>', dom, re.S).group(1)
    assert bench_table.count("<tr>") == 1 + len(b["runners"])
    assert "onnx/onnxruntime" in bench_table and "xgboost.predict_proba" in bench_table
    assert "http://" not in path.read_text().replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_html_screenshot_is_not_blank(results, tmp_path):
    v, b = results
    path = tmp_path / "report.html"
    path.write_text(render_html([v, b]))
    _dump_dom(path)  # skips / fails exactly as above when chromium is missing
    shot = tmp_path / "shot.png"
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                        "--window-size=1200,1600", f"--screenshot={shot}",
                        f"file://{path}"], capture_output=True, timeout=120, check=True)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # a page, not a blank


def test_markdown_summary_has_the_parity_matrix_and_the_bench_table(results):
    v, b = results
    md = render_markdown([v, b])
    assert "| model | source | " in md and "onnx/onnxruntime" in md
    row = next(line for line in md.splitlines() if line.startswith("| XGBClassifier | passed"))
    assert "ULP" in row
    bench_rows = [line for line in md.splitlines() if line.startswith("| onnx/onnxruntime |")]
    assert len(bench_rows) == 1 and bench_rows[0].count("|") == 6 + len(b["settings"]["sizes"]) + 1


def test_portable_report_rerenders_saved_results(results, tmp_path):
    v, b = results
    (tmp_path / "v.json").write_text(dumps(v))
    (tmp_path / "b.json").write_text(dumps(b))
    out, md = tmp_path / "out.html", tmp_path / "out.md"
    r = CliRunner().invoke(report_cmd, [str(tmp_path / "v.json"), str(tmp_path / "b.json"),
                                        "-o", str(out), "--markdown", str(md)])
    assert r.exit_code == 0, r.output
    page = out.read_text()
    assert page.count('class="plot ') == 4 and "<table class=\"bench\">" in page
    assert md.read_text().startswith("# portable")
    (tmp_path / "junk.json").write_text('{"kind": "other"}')
    bad = CliRunner().invoke(report_cmd, [str(tmp_path / "junk.json")])
    assert bad.exit_code == 2 and "no portable verify, bench or suite results" in bad.output


def test_saved_json_is_strict_and_loads_back(results, tmp_path):
    v, _ = results
    v = dict(v, seconds=float("inf"))
    text = dumps(v)
    assert "Infinity" not in text and '"inf"' in text
    (tmp_path / "v.json").write_text(text)
    assert load_results([tmp_path / "v.json"])[0]["seconds"] == "inf"


def test_a_missing_chromium_fails_in_ci_and_skips_only_locally(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y chromium"):
        _dump_dom(tmp_path / "x.html")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        _dump_dom(tmp_path / "x.html")
