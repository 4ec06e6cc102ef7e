"""Shared by the packaging / serving / transform / lambda / deploy tests: small trained
models, and servers started as real subprocesses on loopback."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SMALL_GATE = {"n_rows": 120, "n_probe": 200}
SMALL_VERIFY = {"n_rows": 120, "n_nan": 60, "n_probe": 200}


def data(n=400, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return X, (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)


def xgb_classifier(n_trees=12, seed=0):
    import xgboost as xgb

    X, y = data(seed=seed)
    return xgb.XGBClassifier(n_estimators=n_trees, max_depth=3, random_state=seed).fit(X, y)


def xgb_multiclass(n_trees=6):
    import xgboost as xgb

    X, _ = data()
    y = np.digitize(X[:, 0], [-0.5, 0.5])
    return xgb.XGBClassifier(n_estimators=n_trees, max_depth=3,
                             objective="multi:softprob").fit(X, y)


def logistic():
    from sklearn.linear_model import LogisticRegression

    X, y = data()
    return LogisticRegression().fit(X, y)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port, method, path, body=b"", headers=None, timeout=30):
    """(status, headers dict, body) over a fresh loopback connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


class Server:
    """``portable serve`` (the click command) in a subprocess on 127.0.0.1."""

    def __init__(self, args, *, env=None, port=None, module_args=None):
        self.port = port or free_port()
        fd, name = tempfile.mkstemp(prefix=f"portable-serve-{self.port}-", suffix=".log")
        os.close(fd)
        self.log = Path(name)  # read into failure messages, deleted by stop()
        full_env = {**os.environ, **(env or {})}
        if module_args is not None:  # e.g. the container entry point
            cmd = [sys.executable, "-m", *module_args]
        else:
            cmd = [sys.executable, "-c",
                   "import sys; from portable.commands.serving import serve; "
                   "serve.main(sys.argv[1:], prog_name='portable serve')", *map(str, args)]
            if "SAGEMAKER_BIND_TO_PORT" not in (env or {}):
                cmd += ["--port", str(self.port)]
        self._fh = open(self.log, "wb")
        self.proc = subprocess.Popen(cmd, env=full_env, stdout=self._fh, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def wait(self, timeout=90.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited ({self.proc.returncode}):\n{self.read_log()}")
            try:
                status, _, body = request(self.port, "GET", "/ping", timeout=2)
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"no /ping within {timeout} s:\n{self.read_log()}")

    def read_log(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # its own session: our process group only
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self._fh.close()
        self.log.unlink(missing_ok=True)

    def call(self, method, path, body=b"", headers=None):
        return request(self.port, method, path, body, headers)


def worker_pids(server) -> set:
    """Pids of the uvicorn worker processes of a ``--workers N>1`` server (multiprocessing
    spawns them; the resource tracker it also starts is not a worker)."""
    import psutil

    out = set()
    for p in psutil.Process(server.proc.pid).children(recursive=True):
        try:
            if "spawn_main" in " ".join(p.cmdline()):
                out.add(p.pid)
        except psutil.NoSuchProcess:
            pass
    return out


def tree_rss(server) -> int:
    """Resident set size in bytes of the server process and all its descendants."""
    import psutil

    root = psutil.Process(server.proc.pid)
    total = 0
    for p in [root, *root.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total
