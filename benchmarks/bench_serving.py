"""Serving benchmark: single-row ``POST /invocations`` latency and throughput of
``portable serve`` under concurrent clients, on loopback.

Standalone, public API only::

    .venv/bin/python benchmarks/bench_serving.py [--trees 500] [--depth 6] [--seconds 20]
        [--clients 32] [--workers 2,1] [--flavors onnx,native-c,native-python]
        [--client raw,http.client]

Model: an XGBRegressor with 500 trees of depth 6 on 20 features (as bench_onnx.py),
packaged with ``portable package --target sagemaker --flavor F``. For each flavor and
worker count a server is started as a subprocess (``portable serve PKG --workers W``; 2 is
SageMaker's default on a 2-CPU machine), warmed up, then ``clients``
threads, each with one keep-alive ``http.client`` connection, POST one CSV row at a time
(rows cycle through 1,000 held-out rows) for ``seconds``. Every response is checked (200,
one line); latency is measured client side, send to last byte. Two client loops: ``raw``
(bare sockets, request bytes prebuilt) and ``http.client``; the clients share the machine's
cores with the server, and http.client's own CPU cost (and the GIL queue of 32 threads) is
part of what it measures.

Writes ``benchmarks/results/serving.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from _models import xgb_regressor

RESULTS = Path(__file__).resolve().parent / "results" / "serving.json"


def _model(trees: int, depth: int):
    est, _, rng = xgb_regressor(trees, depth)
    return est, rng.normal(size=(1000, 20))


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(pkg: Path, workers: int, log: Path):
    port = _port()
    cmd = [sys.executable, "-c", "import sys; from portable.commands.serving import serve; "
           "serve.main(sys.argv[1:], prog_name='portable serve')", str(pkg), "--port", str(port),
           "--workers", str(workers), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(log.read_text())
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/ping")
            if c.getresponse().status == 200:
                return proc, port
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(log.read_text())


def _stop(proc) -> None:
    os.killpg(proc.pid, signal.SIGTERM)  # the server's own session, started above
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


class _RawClient:
    """A keep-alive HTTP/1.1 client on a bare socket: the request bytes are built once per
    body and the response is parsed just enough to check it (status, Content-Length, one
    line), so the client spends ~5x less CPU per request than http.client, whose header
    parsing (email.parser) would otherwise dominate a 2-core machine shared with the server."""

    def __init__(self, port: int, bodies: list[bytes]):
        self.port = port
        self.requests = [b"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Content-Type: text/csv\r\nAccept: text/csv\r\nContent-Length: "
                         + str(len(b)).encode() + b"\r\n\r\n" + b for b in bodies]
        self.sock = None

    def _connect(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def post(self, i: int) -> bool:
        if self.sock is None:
            self._connect()
        try:
            self.sock.sendall(self.requests[i])
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise OSError("closed")
                buf += chunk
            head, _, body = buf.partition(b"\r\n\r\n")
            n = int(head.lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
            while len(body) < n:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise OSError("closed")
                body += chunk
            return head.startswith(b"HTTP/1.1 200") and body.count(b"\n") == 1
        except (OSError, ValueError, IndexError):
            self.close()
            return False

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class _HttpClient:
    """The same loop through the standard library's http.client (keep-alive)."""

    def __init__(self, port: int, bodies: list[bytes]):
        self.port, self.bodies, self.conn = port, bodies, None
        self.headers = {"Content-Type": "text/csv", "Accept": "text/csv"}

    def post(self, i: int) -> bool:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            self.conn.request("POST", "/invocations", self.bodies[i], self.headers)
            r = self.conn.getresponse()
            return r.status == 200 and r.read().count(b"\n") == 1
        except OSError:
            self.close()
            return False

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


CLIENTS = {"raw": _RawClient, "http.client": _HttpClient}


def _load(port: int, bodies: list[bytes], clients: int, seconds: float,
          kind: str = "raw") -> dict:
    latencies, errors, lock = [], [0], threading.Lock()
    start = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def client(k: int):
        c = CLIENTS[kind](port, bodies)
        mine, i, n = [], k, len(bodies)
        start.wait()
        while True:
            t = time.perf_counter()
            if t >= stop_at[0]:
                break
            ok = c.post(i % n)
            i += clients
            mine.append(time.perf_counter() - t)
            if not ok:
                with lock:
                    errors[0] += 1
        c.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    stop_at[0] = t0 + seconds
    start.wait()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    lat = np.array(latencies) * 1e3
    return {"requests": int(len(lat)), "errors": int(errors[0]), "seconds": round(elapsed, 2),
            "throughput_rps": round(len(lat) / elapsed, 1),
            "p50_ms": round(float(np.percentile(lat, 50)), 3),
            "p90_ms": round(float(np.percentile(lat, 90)), 3),
            "p99_ms": round(float(np.percentile(lat, 99)), 3),
            "max_ms": round(float(lat.max()), 3)}


def _cpu_seconds(server_pid: int):
    """(CPU seconds the whole machine has been busy, CPU seconds of the server's process
    tree plus this client process), or None without /proc and psutil."""
    try:
        import psutil
        with open("/proc/stat") as fh:
            fields = [float(v) for v in fh.readline().split()[1:]]
    except (ImportError, OSError, ValueError):
        return None
    tick = os.sysconf("SC_CLK_TCK")
    busy = (sum(fields) - fields[3] - (fields[4] if len(fields) > 4 else 0.0)) / tick
    procs = [psutil.Process(server_pid), psutil.Process()]
    procs += procs[0].children(recursive=True)
    ours = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            ours += t.user + t.system
        except psutil.Error:
            pass
    return busy, ours


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trees", type=int, default=500)
    ap.add_argument("--depth", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--workers", default="2,1",
                    help="Comma-separated worker counts to run (2 = the CPU count, SageMaker's "
                         "default).")
    ap.add_argument("--flavors", default="onnx,native-c,native-python")
    ap.add_argument("--client", default="raw,http.client",
                    help="Client loops to run per flavor: raw (bare keep-alive sockets), "
                         "http.client, or both.")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args(argv)

    from portable.packaging import package

    est, X = _model(args.trees, args.depth)
    bodies = [(",".join(repr(float(v)) for v in row) + "\n").encode() for row in X]
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        for flavor in args.flavors.split(","):
            base, _, native = flavor.partition("-")
            t = time.perf_counter()
            try:
                pkg = package(est, flavor=base, native_format=native or None,
                              out_dir=Path(tmp) / flavor,
                              verify_options={"n_rows": 200, "n_nan": 100, "n_probe": 500})
            except Exception as e:  # a flavor whose converter/runtime is missing here
                results[flavor] = {"skipped": f"{type(e).__name__}: {e}"[:300]}
                print(f"{flavor}: skipped ({e})")
                continue
            package_s = time.perf_counter() - t
            entry = {"package_seconds": round(package_s, 2),
                     "gate": pkg.manifest["gate"]["kind"] + (
                         " passed" if pkg.manifest["gate"]["passed"] else " FAILED")}
            for workers in (int(w) for w in str(args.workers).split(",")):
                proc, port = _start(pkg.path, workers, Path(tmp) / f"{flavor}.log")
                runs = entry[f"workers={workers}"] = {}
                try:
                    _load(port, bodies, 4, 2.0)                  # warm-up
                    for kind in args.client.split(","):
                        before = _cpu_seconds(proc.pid)
                        r = runs[kind] = _load(port, bodies, args.clients, args.seconds, kind)
                        # Other work on the machine shares the cores: record how much.
                        after = _cpu_seconds(proc.pid)
                        if before and after:
                            busy, ours = (after[0] - before[0]), (after[1] - before[1])
                            r["cpu_seconds"] = {
                                "server_and_clients": round(ours, 1),
                                "other_processes": round(max(busy - ours, 0.0), 1),
                                "available": round(r["seconds"] * (os.cpu_count() or 1), 1)}
                        print(f"{flavor:14s} w={workers} {kind:11s} {r['throughput_rps']:8.0f} "
                              f"req/s  p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:6.2f} ms  "
                              f"max {r['max_ms']:7.2f} ms  errors {r['errors']}  other CPU "
                              f"{r.get('cpu_seconds', {}).get('other_processes', '?')} s")
                finally:
                    _stop(proc)
            results[flavor] = entry
    import portable
    report = {
        "benchmark": "serving", "portable": portable.__version__,
        "model": {"estimator": "XGBRegressor", "trees": args.trees, "depth": args.depth,
                  "features": 20},
        "settings": {"seconds": args.seconds, "clients": args.clients,
                     "workers": [int(w) for w in str(args.workers).split(",")],
                     "client_loops": args.client.split(","),
                     "request": "one CSV row, Accept text/csv, keep-alive connection per client",
                     "target_p99_ms": 10.0},
        "results": results,
        "environment": {"python": platform.python_version(), "cpus": os.cpu_count(),
                        "platform": platform.platform()},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    return report


if __name__ == "__main__":
    main()
