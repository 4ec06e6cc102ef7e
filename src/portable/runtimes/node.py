"""Node.js: runs ``--format javascript`` artifacts in a long-lived ``node`` process.

A session starts ``node server.js`` in the artifact folder (an ES module package) and feeds
it batches over pipes (protocol in ``_subprocess.py``). ``close()`` kills the process, as
do a finalizer and an ``atexit`` hook. A process that crashes or stays silent longer than the
timeout (``NodeRuntime(timeout=...)``, else ``$PORTABLE_RUNTIME_TIMEOUT``, else 120 s) is
killed and restarted once per request.
"""

from __future__ import annotations

import shutil
import subprocess

from ._base import Runtime
from ._subprocess import PipeSession, read_native, resolve_timeout

MIN_NODE = 14  # ES modules in .js files ("type": "module")


class NodeRuntime(Runtime):
    """Runtime "node" for the "javascript" format.

    Examples
    --------
    >>> session = portable.load("out/javascript")    # doctest: +SKIP
    >>> session.predict(X); session.close()          # doctest: +SKIP
    """

    name = "node"
    formats = ("javascript",)

    def __init__(self, *, timeout: float | None = None):
        # Seconds the process may stay silent before it counts as hung (then it is killed,
        # restarted once and the request retried); None: $PORTABLE_RUNTIME_TIMEOUT or 120.
        self.timeout = None if timeout is None else resolve_timeout(timeout)

    @classmethod
    def available(cls) -> str | None:
        node = shutil.which("node")
        if node is None:
            return ("The node runtime needs Node.js (14 or later) on PATH "
                    "(e.g. apt-get install nodejs).")
        try:
            out = subprocess.run([node, "--version"], capture_output=True, text=True,
                                 timeout=30).stdout.strip()
            major = int(out.lstrip("v").split(".")[0])
        except (OSError, ValueError, subprocess.TimeoutExpired):
            return f"Cannot tell which Node.js {node!r} is; the node runtime needs 14 or later."
        if major < MIN_NODE:
            return f"Node.js {out} is too old: the node runtime needs {MIN_NODE} or later."
        return None

    def open(self, artifact) -> PipeSession:
        meta = read_native(artifact, "javascript")
        return PipeSession(["node", meta["main"]], cwd=str(artifact.path),
                           signature=artifact.signature, meta=meta, timeout=self.timeout,
                           engine="node")
