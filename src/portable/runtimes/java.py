"""javac + JVM: runs ``--format java`` artifacts in a long-lived ``java`` process.

The sources are compiled once per distinct content (SHA-256 over the sources and javac's
version) into ``$PORTABLE_CACHE_DIR/java/<hash>/classes``; a session then starts
``java portable_model.Server`` and feeds it batches over pipes (protocol in
``_subprocess.py``). ``close()`` kills the JVM, as do a finalizer and an ``atexit`` hook.
A JVM that crashes or stays silent longer than the timeout (``JavaRuntime(timeout=...)``,
else ``$PORTABLE_RUNTIME_TIMEOUT``, else 120 s) is killed and restarted once per request.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ..errors import ArtifactError
from ._base import Runtime
from ._subprocess import PipeSession, read_native, resolve_timeout
from .c import cached_build


class JavaRuntime(Runtime):
    """Runtime "jvm" for the "java" format.

    Examples
    --------
    >>> session = portable.load("out/java")          # doctest: +SKIP
    >>> session.predict(X); session.close()          # doctest: +SKIP
    """

    name = "jvm"
    formats = ("java",)

    def __init__(self, *, timeout: float | None = None):
        # Seconds the process may stay silent before it counts as hung (then it is killed,
        # restarted once and the request retried); None: $PORTABLE_RUNTIME_TIMEOUT or 120.
        self.timeout = None if timeout is None else resolve_timeout(timeout)

    @classmethod
    def available(cls) -> str | None:
        missing = [t for t in ("java", "javac") if shutil.which(t) is None]
        if missing:
            return (f"The jvm runtime needs a JDK (11 or later): {' and '.join(missing)} not "
                    f"found on PATH (e.g. apt-get install openjdk-17-jdk-headless).")
        return None

    def open(self, artifact) -> PipeSession:
        meta = read_native(artifact, "java")
        classes = compile_classes(Path(artifact.path))
        return PipeSession(["java", "-Xss16m", "-cp", str(classes), meta["main"]],
                           cwd=str(classes), signature=artifact.signature, meta=meta,
                           timeout=self.timeout, engine="java")


def compile_classes(folder: Path) -> Path:
    """javac the artifact's ``src`` tree (cached); returns the classes folder."""
    sources = sorted((folder / "src").rglob("*.java"))
    if not sources:
        raise ArtifactError(f"{str(folder)!r} has no Java sources under src/.")
    version = subprocess.run(["javac", "-version"], capture_output=True, text=True)

    def compile_all(tmp: Path) -> None:
        (tmp / "classes").mkdir()
        (tmp / "sources.txt").write_text("\n".join(str(p) for p in sources) + "\n")
        flags = ["-Xlint:-strictfp"] if _lint_ok() else []
        r = subprocess.run(["javac", "-J-Xmx3g", *flags, "-nowarn", "-encoding", "UTF-8",
                            "-d", str(tmp / "classes"), "@" + str(tmp / "sources.txt")],
                           capture_output=True, text=True, timeout=3600)
        if r.returncode:
            raise ArtifactError(f"javac failed: {(r.stdout + r.stderr).strip()[-2000:]}")

    names = [str(p.relative_to(folder)) for p in sources]
    return cached_build("java", version.stdout + version.stderr, folder, names,
                        compile_all) / "classes"


def _lint_ok() -> bool:
    return subprocess.run(["javac", "-Xlint:-strictfp", "-version"],
                          capture_output=True).returncode == 0
