"""Load ``portable serve`` (2 workers) with 64 concurrent keep-alive clients on loopback:
no errors, every answer the exact prediction for its request, memory that does not grow,
and recovery from a worker killed with SIGKILL mid-load (uvicorn's supervisor starts a
replacement; the surviving worker keeps answering meanwhile).

``PORTABLE_LOAD_SECONDS`` sets the measured steady phase (default 30 s under CI, else 10 s).
``PORTABLE_RECORD=1`` also writes the figures to ``benchmarks/results/server_load.json``.
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from _serving_helpers import (SMALL_VERIFY, Server, request, tree_rss, worker_pids,
                              xgb_classifier)

pytest.importorskip("uvicorn")
pytest.importorskip("xgboost")
psutil = pytest.importorskip("psutil")
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:.*Unknown file format")]

IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false")
SECONDS = float(os.environ.get("PORTABLE_LOAD_SECONDS", "30" if IN_CI else "10"))
RECORD = os.environ.get("PORTABLE_RECORD") == "1"
RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "server_load.json"

CLIENTS = 64
WORKERS = 2
WARMUP = 2.0           # s of load before the "before" RSS: lazy allocations happen first
# A keep-alive connection serves this many requests, then the client opens a new one (as
# real traffic turns connections over); that is how a replacement worker gets requests.
PER_CONNECTION = 200
# After the SIGKILL, errors are allowed only in this window: requests in flight on the
# killed worker's connections fail, and each client reconnects (to the surviving worker)
# on its next request. At most one error per client: its one connection to the dead worker.
KILL_WINDOW = 5.0
RECOVERY_DEADLINE = 5.0    # s for /ping and /invocations to answer 200 again
REPLACE_DEADLINE = 30.0    # s for uvicorn to start a replacement worker that loaded the model
AFTER_RECOVERY = 3.0       # s of load after the replacement is up (the window must also end)
# Memory: the steady phase follows a warm-up, so the process tree (supervisor, resource
# tracker, two workers: ~200 MiB) should stay flat; allocator noise and the buffers of 64
# connections come to a few MiB (1.5 MiB measured on the 2-core development machine). 32 MiB
# (16% of the tree) stays clear of that noise yet fails a leak of 0.4 KiB per request over
# the ~90,000 requests of a 30 s CI run at ~3,000 requests/s.
RSS_GROWTH_LIMIT = 32 * 1024 * 1024
HEADERS = {"Content-Type": "text/csv", "Accept": "text/csv"}


def _cases(pkg, n=32, seed=1):
    """``n`` CSV bodies of 1-4 rows (some cells missing) with the exact bytes the model's
    handler answers, computed here in the test process with one single-threaded load."""
    from portable.serving.sources import prepare

    rng = np.random.default_rng(seed)
    src = prepare(pkg.path)
    try:
        handler = src.open()
        cases = []
        for _ in range(n):
            X = rng.normal(size=(int(rng.integers(1, 5)), 5))
            X[rng.random(X.shape) < 0.1] = np.nan
            body = "".join(",".join("" if v != v else repr(float(v)) for v in r) + "\n"
                           for r in X).encode()
            resp = handler.handle(body, "text/csv", "text/csv")
            assert resp.status == 200
            rows = [[float(v) for v in line.split(",")] for line in resp.body.decode().splitlines()]
            assert len(rows) == len(X) and all(len(r) == 2 for r in rows)
            cases.append((body, resp.body))
        getattr(getattr(handler, "session", None), "close", lambda: None)()
    finally:
        src.cleanup()
    # The package's own sample, checked when it was built, agrees with this handler.
    cases.append(((pkg.path / "samples/request.csv").read_bytes(),
                  (pkg.path / "samples/response.csv").read_bytes()))
    return cases


class Client(threading.Thread):
    """One client: POSTs the cases in turn over a keep-alive http.client connection,
    recording (end time, latency) of every correct answer and (time, what) of every error."""

    def __init__(self, port, cases, stop, index):
        super().__init__(daemon=True)
        self.port, self.cases, self.stop, self.i = port, cases, stop, index
        self.done: list[tuple[float, float]] = []
        self.errors: list[tuple[float, str]] = []

    def run(self):
        conn, served = None, 0
        while not self.stop.is_set():
            body, want = self.cases[self.i % len(self.cases)]
            self.i += 1
            t0 = time.perf_counter()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
                conn.request("POST", "/invocations", body, HEADERS)
                resp = conn.getresponse()
                got = resp.read()
                t1 = time.perf_counter()
                if resp.status != 200 or got != want:
                    self.errors.append((t1, f"{resp.status} {got[:80]!r} != {want[:40]!r}"))
                    conn.close()
                    conn = None
                    continue
                self.done.append((t1, t1 - t0))
                served += 1
                if served % PER_CONNECTION == 0:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                self.errors.append((time.perf_counter(), repr(e)))
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()


def _ok(port, method, path, body=b"", headers=None, want=None) -> bool:
    try:
        status, _, got = request(port, method, path, body, headers, timeout=5)
    except (OSError, http.client.HTTPException):
        return False
    return status == 200 and (want is None or got == want)


def _serves_connections(pid, port) -> bool:
    """Whether process ``pid`` holds an established connection on the server's port."""
    try:
        conns = psutil.Process(pid).net_connections(kind="tcp")
    except psutil.Error:
        return False
    return any(c.status == psutil.CONN_ESTABLISHED and c.laddr and c.laddr.port == port
               for c in conns)


def test_64_clients_no_errors_flat_memory_and_recovery_from_a_killed_worker(
        tmp_path, record_property):
    from portable.packaging import package

    pkg = package(xgb_classifier(), flavor="onnx", out_dir=tmp_path / "pkg",
                  verify_options=SMALL_VERIFY)
    cases = _cases(pkg)
    s = Server([pkg.path, "--workers", str(WORKERS)])
    stop = threading.Event()
    clients = [Client(s.port, cases, stop, i) for i in range(CLIENTS)]
    try:
        s.wait()
        workers = worker_pids(s)
        assert len(workers) == WORKERS, s.read_log()
        for c in clients:
            c.start()
        time.sleep(WARMUP)
        t_steady, rss_before = time.perf_counter(), tree_rss(s)
        time.sleep(SECONDS)
        t_steady_end, rss_after = time.perf_counter(), tree_rss(s)

        # ---- kill one worker mid-load, and watch the endpoint recover
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        t_kill = time.perf_counter()
        probe, want = cases[0]
        t_ping = t_invoke = t_replaced = None
        replacement = None
        serving_seen = False
        while time.perf_counter() - t_kill < REPLACE_DEADLINE:
            now = time.perf_counter()
            if t_ping is None and _ok(s.port, "GET", "/ping"):
                t_ping = time.perf_counter()
            if t_invoke is None and _ok(s.port, "POST", "/invocations", probe, HEADERS, want):
                t_invoke = time.perf_counter()
            if replacement is None:
                new = worker_pids(s) - workers
                if new and f"worker {min(new)} loaded" in s.read_log():
                    replacement, t_replaced = min(new), time.perf_counter()
            elif not serving_seen:
                serving_seen = _serves_connections(replacement, s.port)
            if (t_ping and t_invoke and replacement and serving_seen
                    and now - t_replaced >= AFTER_RECOVERY and now - t_kill >= KILL_WINDOW
                    + AFTER_RECOVERY):
                break
            time.sleep(0.05)
        t_end = time.perf_counter()
        stop.set()
        for c in clients:
            c.join(30)
        assert not any(c.is_alive() for c in clients)
        alive_after = s.proc.poll() is None
        workers_after = worker_pids(s)
        ping_after = _ok(s.port, "GET", "/ping")
    finally:
        stop.set()
        log = s.read_log()
        s.stop()

    # ---- figures
    done = [d for c in clients for d in c.done]
    errors = sorted(e for c in clients for e in c.errors)
    steady = np.array([lat for t, lat in done if t_steady <= t < t_steady_end])
    before_kill = [e for e in errors if e[0] < t_kill]
    in_window = [e for e in errors if t_kill <= e[0] <= t_kill + KILL_WINDOW]
    after_window = [e for e in errors if e[0] > t_kill + KILL_WINDOW]
    served_after_kill = sum(1 for t, _ in done if t > t_kill)
    mib = 1024 * 1024
    summary = {
        "clients": CLIENTS, "workers": WORKERS,
        "steady_seconds": round(t_steady_end - t_steady, 2),
        "requests_steady": int(steady.size), "requests_total": len(done),
        "rps": round(steady.size / (t_steady_end - t_steady), 1),
        "p50_ms": round(float(np.percentile(steady, 50)) * 1e3, 2) if steady.size else None,
        "p99_ms": round(float(np.percentile(steady, 99)) * 1e3, 2) if steady.size else None,
        "errors_before_kill": len(before_kill),
        "rss_before_mib": round(rss_before / mib, 1), "rss_after_mib": round(rss_after / mib, 1),
        "rss_growth_mib": round((rss_after - rss_before) / mib, 1),
        "kill_window_s": KILL_WINDOW, "errors_in_kill_window": len(in_window),
        "last_error_after_kill_s": round(in_window[-1][0] - t_kill, 3) if in_window else None,
        "errors_after_window": len(after_window),
        "ping_ok_after_s": round(t_ping - t_kill, 3) if t_ping else None,
        "invocations_ok_after_s": round(t_invoke - t_kill, 3) if t_invoke else None,
        "worker_replaced_after_s": round(t_replaced - t_kill, 3) if t_replaced else None,
        "served_after_kill": served_after_kill, "observed_after_kill_s": round(t_end - t_kill, 1),
    }
    record_property("server_load", json.dumps(summary))
    print("\nserver load: " + ", ".join(f"{k}={v}" for k, v in summary.items()))
    if in_window:
        print("errors in the kill window (first 3): " + "; ".join(e[1] for e in in_window[:3]))
    if RECORD:
        import uvicorn

        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps({
            **summary, "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                   "uvicorn": uvicorn.__version__, "platform": platform.platform()},
            "model": "XGBClassifier 12 trees depth 3, 5 features, onnx flavor",
            "request": "text/csv, 1-4 rows"}, indent=2) + "\n")

    # ---- the steady phase: every answer right, memory flat
    assert not before_kill, before_kill[:5]
    assert steady.size > 0 and summary["rps"] > 50, summary
    assert rss_after - rss_before < RSS_GROWTH_LIMIT, summary
    # ---- the kill: errors only in the window, at most one per client; then recovery
    assert len(in_window) <= CLIENTS, in_window[:5]
    assert not after_window, after_window[:5]
    assert t_ping is not None and t_ping - t_kill < RECOVERY_DEADLINE, (summary, log[-3000:])
    assert t_invoke is not None and t_invoke - t_kill < RECOVERY_DEADLINE, summary
    assert replacement is not None, ("no replacement worker", log[-3000:])
    assert serving_seen, f"replacement worker {replacement} never held a connection"
    assert alive_after and ping_after, log[-3000:]
    assert victim not in workers_after and replacement in workers_after, (workers_after, victim)
    assert len(workers_after) == WORKERS, workers_after
    assert served_after_kill > 0
