"""`portable transform`: SageMaker batch-transform semantics through the server's request
code, locally and as a Dask job (same bytes)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from _serving_helpers import SMALL_GATE, SMALL_VERIFY, xgb_classifier
from portable.commands.serving import transform as transform_cmd
from portable.packaging import package
from portable.serving.sources import prepare
from portable.serving.transform import TransformError, transform

pytest.importorskip("xgboost")
pytestmark = pytest.mark.filterwarnings("ignore:.*Unknown file format")


def _csv(X) -> str:
    return "".join(",".join("" if v != v else repr(float(v)) for v in r) + "\n" for r in X)


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    root = tmp_path_factory.mktemp("transform")
    clf = xgb_classifier()
    pkg = package(clf, flavor="onnx", out_dir=root / "pkg", verify_options=SMALL_VERIFY)
    rng = np.random.default_rng(5)
    A = rng.normal(size=(12000, 5))
    A[::13, 1] = np.nan
    B = rng.normal(size=(300, 5))
    inp = root / "in"
    (inp / "part").mkdir(parents=True)
    text = _csv(A)
    lines = text.splitlines(keepends=True)
    (inp / "a.csv").write_text("".join(lines[:100]) + "\n" + "".join(lines[100:]))  # a blank line
    (inp / "part" / "b.csv").write_text(_csv(B))
    (inp / ".hidden").write_text("not a record\n")
    return {"clf": clf, "pkg": pkg, "in": inp, "A": A, "B": B, "root": root}


def test_one_out_file_per_input_in_order_equal_to_the_server_code(job, tmp_path):
    rep = transform(job["pkg"].path, job["in"], tmp_path / "out", max_payload_mb=1)
    assert rep["files"] == 2 and rep["written"] == 2 and rep["model_loads"] == 1
    assert rep["requests"] == 3                           # a.csv ~1.1 MB -> 2 requests of <= 1 MiB
    assert sorted(p.relative_to(tmp_path / "out").as_posix()
                  for p in (tmp_path / "out").rglob("*.out")) == ["a.csv.out", "part/b.csv.out"]
    out = (tmp_path / "out" / "a.csv.out").read_text().splitlines()
    assert len(out) == len(job["A"])                      # one line per record, blank line skipped
    got = np.array([[float(v) for v in line.split(",")] for line in out], np.float32)
    want = job["clf"].predict_proba(job["A"]).astype(np.float32)
    assert np.array_equal(got, want)                      # order kept, values exact
    handler = prepare(job["pkg"].path).open()             # what `portable serve` runs
    body = (job["in"] / "part" / "b.csv").read_bytes()
    assert (tmp_path / "out/part/b.csv.out").read_bytes() == handler.handle(
        body, "text/csv", "text/csv").body


def test_single_record_and_multi_record_assemble_to_the_same_bytes(job, tmp_path):
    src = job["root"] / "small"
    src.mkdir()
    (src / "b.csv").write_bytes((job["in"] / "part" / "b.csv").read_bytes())
    multi = transform(job["pkg"].path, src, tmp_path / "m")
    single = transform(job["pkg"].path, src, tmp_path / "s", strategy="SingleRecord")
    assert single["requests"] == 300 and multi["requests"] == 1
    assert (tmp_path / "m/b.csv.out").read_bytes() == (tmp_path / "s/b.csv.out").read_bytes()
    jl = transform(job["pkg"].path, src, tmp_path / "j", accept="application/jsonlines")
    rows = [json.loads(l) for l in (tmp_path / "j/b.csv.out").read_text().splitlines()]
    assert len(rows) == 300 and len(rows[0]) == 2


def test_dask_job_output_is_byte_identical_with_one_model_load_per_partition(job, tmp_path):
    local = transform(job["pkg"].path, job["in"], tmp_path / "local", max_payload_mb=1)
    dask = transform(job["pkg"].path, job["in"], tmp_path / "dask", max_payload_mb=1,
                     engine="dask", scheduler="processes", partitions=3)
    assert dask["model_loads"] == 3 and local["model_loads"] == 1
    for name in ("a.csv.out", "part/b.csv.out"):
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "dask" / name).read_bytes()


def test_bad_record_names_file_and_line_and_writes_no_out_for_that_file(job, tmp_path):
    inp = tmp_path / "in"
    inp.mkdir()
    good = _csv(job["B"][:50])
    (inp / "good.csv").write_text(good)
    lines = good.splitlines(keepends=True)
    lines[36] = "0.1,0.2,oops,0.4,0.5\n"
    (inp / "bad.csv").write_text("".join(lines))
    with pytest.raises(TransformError, match=r"bad\.csv: CSV row 37, column 3 \('f2'\)"):
        transform(job["pkg"].path, inp, tmp_path / "out", strategy="SingleRecord")
    assert (tmp_path / "out/good.csv.out").exists() and not (tmp_path / "out/bad.csv.out").exists()
    with pytest.raises(TransformError, match=r"bad\.csv: CSV row 37"):  # same line, batched
        transform(job["pkg"].path, inp, tmp_path / "out2")
    (inp / "bad.csv").unlink()
    (inp / "huge.csv").write_text(",".join(["1.0"] * 5) * 200_000 + "\n")
    with pytest.raises(TransformError, match="line 1 has .* more than MaxPayloadInMB"):
        transform(job["pkg"].path, inp, tmp_path / "out3", max_payload_mb=1)


def test_xgboost_builtin_package_and_cli(job, tmp_path):
    pkg = package(job["clf"], flavor="xgboost-builtin", out_dir=tmp_path / "xgb",
                  verify_options=SMALL_GATE)
    r = CliRunner().invoke(transform_cmd, [str(pkg.path), "--input", str(job["in"]), "--output",
                                           str(tmp_path / "o"), "--json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)
    assert rep["flavor"] == "xgboost-builtin" and rep["written"] == 2
    got = np.array((tmp_path / "o/part/b.csv.out").read_text().split(), float)
    assert np.array_equal(got, job["clf"].predict_proba(job["B"])[:, 1].astype(float))
    r = CliRunner().invoke(transform_cmd, [str(pkg.path), "--input", str(job["in"]), "--output",
                                           str(tmp_path / "o2"), "--content-type",
                                           "application/json"])
    assert r.exit_code == 2 and "application/jsonlines" in r.output
