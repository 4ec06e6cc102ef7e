"""``make demo``: the seed's workflows end to end, offline, in one command.

Trains the three recipes (house prices, sentiment, iris), verifies every route against the
source library and the reference evaluator, benchmarks the house-price model, packages it
for SageMaker, starts the local endpoint and sends it a real request, runs a batch
transform, and writes one HTML report (plus Markdown and JSON).

Run as ``python -m portable.demo --out demo-out``.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def _log(msg: str) -> None:
    print(f"[demo] {msg}", flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _route_line(name: str, v: dict) -> str:
    parts = []
    for route, e in v["routes"].items():
        ref = (e.get("results") or {}).get("vs_reference") or {}
        flips = sum((k.get("label") or {}).get("label_flips", 0) for k in ref.values())
        extra = f" (flips {flips})" if ref else f" ({e.get('reason', '')[:60]})"
        parts.append(f"{route}: {e.get('status')}{extra}")
    return f"{name}: " + ", ".join(parts)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="demo-out")
    args = ap.parse_args(argv)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()

    import numpy as np

    import portable
    from portable.bench import bench
    from portable.packaging import package
    from portable.recipes import train
    from portable.report import write_report
    from portable.serving.transform import transform

    # 1. Train the seed's three workloads.
    trained = {}
    for recipe in ("house-prices", "sentiment", "iris-multiclass"):
        t0 = time.perf_counter()
        res = train(recipe, out_dir=out / "recipes" / recipe, seed=0)
        trained[recipe] = res
        _log(f"trained {recipe} in {time.perf_counter() - t0:.1f}s: test {res.metrics['test']}")

    # 2. Verify every route on held-out, NaN and threshold-probe rows.
    results = []
    for recipe, res in trained.items():
        t0 = time.perf_counter()
        v = portable.verify(res.model, n_rows=500, n_probe=1000, seed=0)
        v.setdefault("model", {})["name"] = recipe
        results.append(v)
        _log(f"verified in {time.perf_counter() - t0:.1f}s -> " + _route_line(recipe, v))

    # 3. Benchmark the house-price model (quick settings; `make bench` runs the full suite).
    t0 = time.perf_counter()
    house = trained["house-prices"]
    b = bench(house.paths["model"], quick=True, peers=True, seed=0)
    b.setdefault("model", {})["name"] = "house-prices"
    results.append(b)
    _log(f"benchmarked in {time.perf_counter() - t0:.1f}s")

    # 4. Package for SageMaker: AWS's built-in XGBoost container and an ONNX endpoint image.
    pkgs = {}
    for flavor in ("xgboost-builtin", "onnx"):
        pkg = package(house.paths["model"], flavor=flavor, out_dir=out / "sagemaker" / flavor)
        pkgs[flavor] = pkg
        c = pkg.manifest["container"]
        image = c.get("image") or (f"your image, built from container/ on "
                                   f"{c.get('build_context', {}).get('base_image', 'a base')}")
        _log(f"packaged {flavor}: {pkg.path / 'model.tar.gz'} ({image})")

    # 5. The local endpoint: same /ping and /invocations contract as SageMaker.
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "portable.cli", "serve",
                               str(pkgs["onnx"].path), "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                with urllib.request.urlopen(base + "/ping", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("the local endpoint did not come up")
        X_test = np.genfromtxt(house.paths["test"], delimiter=",", skip_header=1)[:, :-1]
        body = "\n".join(",".join("" if np.isnan(v) else repr(float(v)) for v in row)
                         for row in X_test[:3]).encode()
        req = urllib.request.Request(base + "/invocations", data=body,
                                     headers={"Content-Type": "text/csv", "Accept": "text/csv"})
        with urllib.request.urlopen(req, timeout=10) as r:
            answer = r.read().decode().strip().replace("\n", " | ")
        expected = portable.evaluate(portable.import_model(house.paths["model"]), X_test[:3])
        _log(f"POST /invocations (3 rows) -> {answer}; reference {expected[:, 0].tolist()}")
    finally:
        server.terminate()
        server.wait(timeout=30)

    # 6. Batch transform of the test split (SplitType=Line, MultiRecord, AssembleWith=Line).
    inp = out / "transform" / "input"
    inp.mkdir(parents=True, exist_ok=True)
    np.savetxt(inp / "test.csv", X_test, delimiter=",", fmt="%.17g")
    rep = transform(pkgs["onnx"].path, inp, out / "transform" / "output")
    _log(f"batch transform: {rep}")

    # 7. One report.
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    html, md = out / "report.html", out / "report.md"
    write_report(results, html_path=html, md_path=md)
    passed = all(v["passed"] for v in results if v.get("kind") == "verify")
    _log(f"done in {time.perf_counter() - t_start:.0f}s; parity {'PASSED' if passed else 'FAILED'}")
    _log(f"report: {html}")
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
