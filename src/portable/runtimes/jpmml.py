"""JPMML-Evaluator: runs ``model.pmml`` artifacts through ``jpmml_evaluator`` (AGPL-3.0).

One JVM per Python process, started on first use and shared by every session:

* **Backend: py4j, with a JVM launched by portable itself.** The command is
  ``java -classpath <py4j jar>:<jpmml_evaluator jars> <JAVA_OPTIONS> py4j.GatewayServer
  --die-on-broken-pipe --enable-auth 0``: the JVM picks a free loopback port and prints it,
  then a random auth token, on stdout. ``--enable-auth``: without it any local user could
  connect to that port and run Java code as this user; our client sends the token on every
  connection, other clients are refused. ``--die-on-broken-pipe``: the JVM exits when its
  stdin closes, i.e. when this process exits for any reason, even ``kill -9``; ``shutdown()``
  (also an ``atexit`` hook) closes it, and kills the JVM if it has not gone within 2 s.
  py4j's own ``launch_gateway`` is not used: it waits forever for the port (a JVM that hangs
  at start-up hangs Python) and leaves a zombie when the JVM fails to start. Ours reads the
  handshake with a deadline (the timeout below), kills and reaps a JVM that exits, hangs or
  prints anything else, and says why (its first stderr lines, e.g. ``Unrecognized VM
  option``). After the handshake a daemon thread drains the JVM's stdout (so it never blocks
  on a full pipe) and reaps it when it ends; stderr goes to a temporary file. jpype was the
  alternative: in-process and faster on big batches (500-tree model, 20,000 rows: 5.5k
  rows/s against 3.7k), but a JVM inside Python cannot be restarted, cannot coexist with
  pyjnius, puts the JVM's heap into the Python process and takes Python down if it crashes.
* ``JAVA_OPTIONS`` (read at every start) pins the locale: PMML's lowercase is Java's
  ``String.toLowerCase()``, which follows the default locale (a Turkish one lowercases "I"
  to a dotless "ı").
* Batches go to the JVM in one ``evaluateAll`` call (a pickled column table).
* ``load`` runs JPMML's ``verify()`` on the document's ModelVerification rows (golden rows
  with the reference evaluator's outputs) and refuses the artifact if they disagree. The
  document passed ``portable.xmlsafe.check_xml`` before (no DTD or entity reaches the JVM).

Faults. Every call into the JVM that can block (building the evaluator, ``verify()`` and the
field reads at load; ``evaluateAll``) runs in a daemon thread that is given the session's
timeout (``JpmmlRuntime(timeout=...)``, else ``$PORTABLE_RUNTIME_TIMEOUT``, else 120 s); the
JVM's start-up has the same bound. A crash is seen at once: the JVM's exit status before a
call, or a lost py4j connection followed by the JVM's exit. A hang is seen when the timeout
runs out. Either way the JVM is killed first and reaped, py4j's sockets to it are closed
without any call over them (py4j's ``shutdown`` would block on a hung JVM; its retries and
its logging through the root logger are switched off for this gateway), a fresh JVM is
started, the session's evaluator re-created from its document (``verify()`` is not run
again) and the request retried once: a :class:`~portable.errors.RuntimeRestartWarning`,
``session.restarts`` += 1 and the fault in ``session.faults``. A second fault, or a fresh
JVM that cannot start, raises :class:`~portable.errors.RuntimeFailedError` naming both; the
next request starts a new JVM. Java exceptions from a live JVM are not faults: rows JPMML
rejects are an ``InputError``, a document it cannot load an ``ArtifactError``.

Generations. Every JVM start gets a new generation number. A session whose evaluator belongs
to an older JVM (another session restarted it, or ``shutdown()`` ran between requests)
re-creates it on the current one before its call, quietly: that is not a restart. A forked
child forgets the parent's JVM (without touching the parent's sockets or process) and starts
its own on first use; the generation number carries over, so inherited sessions rebuild.
"""

from __future__ import annotations

import atexit
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from typing import NamedTuple

import numpy as np

from ..errors import (ArtifactError, InputError, RuntimeFailedError, RuntimeRestartWarning,
                      RuntimeUnavailableError, UnsupportedFeatureError)
from ..ir.evaluate import OUTPUTS, prepare_input
from ._base import Runtime
from ._subprocess import _exit_phrase, _wait, resolve_timeout

FILE = "model.pmml"
INSTALL = ('The "jpmml" runtime needs jpmml_evaluator and Java: pip install "portable[pmml]" '
           'and put a Java 11+ runtime on PATH (e.g. apt-get install openjdk-17-jre-headless).')

# Options of the JVM, read at each start: the locale that text lowercasing assumes.
JAVA_OPTIONS = ("-Duser.language=en", "-Duser.country=US")

# How long a JVM whose py4j connection broke may take to exit before the break counts as
# a fault of its own, and how long shutdown() waits for the JVM to leave after its stdin
# closed before killing it.
EXIT_GRACE = 2.0

_LOCK = threading.Lock()  # guards starting and stopping the JVM (replaced in a fork child)
# The process's one JVM: "gateway", "backend", "proc", "stderr" while it runs, and
# "generation": how many JVMs this process (and its fork parents) started.
_JVM: dict = {"generation": 0}
_INHERITED: list = []  # a fork parent's JVM objects, kept alive (see _forget_in_child)
_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _missing() -> list[str]:
    from importlib.util import find_spec

    why = [f"the {m} package" for m in ("jpmml_evaluator", "py4j") if find_spec(m) is None]
    if shutil.which("java") is None:
        why.append("a `java` executable on PATH")
    return why


# ----------------------------------------------------------------------------- faults
class _StartError(Exception):
    """A JVM did not get through its start-up; the message says how ("exited with code 1
    at start-up (stderr: ...)", "printed no port within 2 s of its start (hung), ...")."""


class _Fault(Exception):
    """The JVM crashed or hung during a call; the message says how."""


class _ConnectionLost(Exception):
    """py4j's socket to the JVM broke (raised instead of py4j's retry on a new socket)."""


class _Jvm(NamedTuple):
    """A snapshot of ``_JVM``: one started JVM."""

    gateway: object
    backend: object
    proc: subprocess.Popen
    stderr: object
    generation: int


def _snapshot() -> _Jvm:
    return _Jvm(_JVM["gateway"], _JVM["backend"], _JVM["proc"], _JVM["stderr"],
                _JVM["generation"])


def _stderr_text(err) -> str:
    try:
        err.flush()
        err.seek(0, os.SEEK_END)
        size = err.tell()
        err.seek(max(0, size - 16384))
        return err.read().decode("utf-8", "replace")
    except Exception:  # closed meanwhile (the JVM was stopped by another thread)
        return ""


def _shorten(lines: list[str]) -> str:
    text = " | ".join(lines)
    return text if len(text) <= 400 else text[:397] + "..."


def _stderr_head(err) -> str:
    """The first lines the JVM wrote on stderr (why it refused to start)."""
    lines = [ln.strip() for ln in _stderr_text(err).splitlines() if ln.strip()]
    return f" (stderr: {_shorten(lines[:3])})" if lines else ""


def _stderr_tail(err) -> str:
    """The JVM's last words on stderr: its error lines if any, else its last lines."""
    lines = [ln.strip() for ln in _stderr_text(err).splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower() or "exception" in ln.lower()]
    tail = _shorten(errors[:2] or lines[-3:])
    return f" (stderr: {tail})" if tail else ""


def _death(jvm: _Jvm, code: int) -> str:
    """How the JVM ended: its exit code and stderr, or the signal that killed it (then its
    stderr says nothing about why)."""
    return _exit_phrase(code) + (_stderr_tail(jvm.stderr) if code >= 0 else "")


# ----------------------------------------------------------------------------- py4j
_PY4J: dict = {}


def _gateway_class():
    """JavaGateway for our JVM: a client that neither retries on a new socket (that blocks
    on a stopped JVM) nor logs through the root logger, and raises _ConnectionLost when the
    socket breaks. Defined on first use: importing this module must not import py4j."""
    if "gateway" in _PY4J:
        return _PY4J["gateway"]
    from py4j.java_gateway import GatewayClient, GatewayConnection, JavaGateway
    from py4j.protocol import Py4JError, Py4JNetworkError, is_fatal_error

    class Connection(GatewayConnection):
        def start(self):
            # As py4j's, without logging the failure as an error of the application.
            self.stream = None
            try:
                self.socket.connect((self.address, self.port))
                self.stream = self.socket.makefile("rb")
                self.is_connected = True
                self._authenticate_connection()
            except Py4JError:
                self.close(reset=False)
                raise
            except Exception as e:
                self.close(reset=False)
                raise Py4JNetworkError(f"cannot connect to the JVM on port {self.port}",
                                       e) from None

    class Client(GatewayClient):
        def _create_connection(self):
            connection = Connection(self.gateway_parameters, self.gateway_property)
            connection.start()
            return connection

        def send_command(self, command, retry=True, binary=False):
            try:
                connection = self._get_connection()
            except Py4JError as e:
                raise _ConnectionLost(f"no connection to the JVM: {e}") from None
            try:
                response = connection.send_command(command)
            except Py4JNetworkError as e:
                connection.close(reset=False)
                raise _ConnectionLost(f"the connection to the JVM broke: {e}") from None
            except BaseException:
                connection.close(reset=False)
                raise
            if binary:
                return response, self._create_connection_guard(connection)
            if is_fatal_error(response):
                connection.close(False)
            else:
                self._give_back_connection(connection)
            return response

    class Gateway(JavaGateway):
        def _create_gateway_client(self):
            return Client(gateway_parameters=self.gateway_parameters)

    _PY4J["gateway"] = Gateway
    return Gateway


def _cut_off(gateway) -> None:
    """Close py4j's idle sockets to a JVM that is gone; no call goes over them. Sockets
    in use by an abandoned call fail on their own (their peer was killed)."""
    if gateway is None:
        return
    client = gateway._gateway_client
    client.is_connected = False  # later calls, and py4j's garbage collection, fail at once
    try:
        client.close()
    except Exception:  # pragma: no cover - best effort
        pass


# ----------------------------------------------------------------------------- launcher
def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    if home and os.path.isfile(os.path.join(home, "bin", "java")):
        return os.path.join(home, "bin", "java")
    return shutil.which("java") or "java"


def _kill(proc: subprocess.Popen) -> None:
    """Kill ``proc`` if it runs (a stopped process too) and reap it: no zombie is left."""
    if proc.poll() is None:
        try:
            proc.kill()
        except OSError:  # pragma: no cover - exited meanwhile
            pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL is not ignored
        pass


def _close(*files) -> None:
    for f in files:
        try:
            if f is not None:
                f.close()
        except Exception:
            pass


def _drain(proc: subprocess.Popen) -> None:
    """Read the JVM's stdout until it ends (a full pipe would block the JVM), then reap
    it. The only reader and closer of ``proc.stdout`` after the handshake."""
    out = proc.stdout
    try:
        while out.read(65536):
            pass
    except (OSError, ValueError):
        pass
    _close(out)
    while True:  # wait(timeout) does not hold Popen's lock while it waits, poll() still works
        try:
            proc.wait(timeout=1)
            return
        except subprocess.TimeoutExpired:
            continue
        except Exception:  # pragma: no cover
            return


def _handshake(proc: subprocess.Popen, err, timeout: float) -> tuple[int, str]:
    """The port and the auth token the JVM prints on stdout, within ``timeout`` s."""
    fd = proc.stdout.fileno()
    deadline = time.monotonic() + timeout
    buf = b""
    while buf.count(b"\n") < 2:
        left = deadline - time.monotonic()
        if left <= 0 or not _wait(fd, select.POLLIN, left):
            raise _StartError(f"printed no port within {timeout:g} s of its start (hung), and "
                              f"was killed")
        chunk = os.read(fd, 4096)
        if not chunk:
            try:
                code = proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                raise _StartError(f"closed its output at start-up, and was killed"
                                  f"{_stderr_head(err)}") from None
            raise _StartError(f"{_exit_phrase(code)} at start-up{_stderr_head(err)}")
        buf += chunk
    port, token = (line.strip() for line in buf.split(b"\n")[:2])
    if not port.isdigit() or not token:
        raise _StartError(f"printed {buf[:80]!r} instead of its port and auth token, and "
                          f"was killed")
    return int(port), token.decode("ascii", "replace")


def _launch(timeout: float) -> dict:
    """Start a JVM serving py4j and connect to it; _StartError when it does not start."""
    import jpmml_evaluator
    from jpmml_evaluator.py4j import Py4JBackend
    from py4j.java_gateway import GatewayParameters, find_jar_path

    jar = find_jar_path()
    if not jar:
        raise RuntimeUnavailableError(f"{INSTALL} Missing: py4j's jar (share/py4j).")
    classpath = os.pathsep.join([jar, *jpmml_evaluator._classpath([])])
    argv = [_java(), "-classpath", classpath, *JAVA_OPTIONS, "py4j.GatewayServer",
            "--die-on-broken-pipe", "--enable-auth", "0"]
    err = tempfile.TemporaryFile()  # a file: a chatty JVM never blocks on a full pipe
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=err, bufsize=0)
    except OSError as e:
        err.close()
        raise _StartError(f"could not be run ({e})") from None
    try:
        port, token = _handshake(proc, err, timeout)
    except BaseException:
        _kill(proc)
        _close(proc.stdin, proc.stdout, err)
        raise
    threading.Thread(target=_drain, args=(proc,), daemon=True,
                     name=f"portable-jpmml-stdout-{proc.pid}").start()
    gateway = _gateway_class()(gateway_parameters=GatewayParameters(port=port,
                                                                    auth_token=token))
    return {"gateway": gateway, "backend": Py4JBackend(gateway), "proc": proc, "stderr": err}


def _start_locked(timeout: float) -> None:
    """Start the process's JVM (``_LOCK`` held, none running); _StartError if it fails."""
    why = _missing()
    if why:
        raise RuntimeUnavailableError(f"{INSTALL} Missing: {', '.join(why)}.")
    _JVM.update(_launch(timeout))
    _JVM["generation"] = _JVM.get("generation", 0) + 1


def _stop_locked(graceful: bool) -> None:
    """Stop the process's JVM (``_LOCK`` held), if any. ``graceful``: close its stdin and
    give it EXIT_GRACE seconds to leave; otherwise (a fault) kill it at once. Either way
    it is dead and reaped before py4j's sockets to it are closed."""
    gateway, proc = _JVM.pop("gateway", None), _JVM.pop("proc", None)
    err = _JVM.pop("stderr", None)
    _JVM.pop("backend", None)
    if proc is not None:
        if graceful and proc.poll() is None:
            _close(proc.stdin)  # --die-on-broken-pipe: a closed stdin ends the JVM
            try:
                proc.wait(timeout=EXIT_GRACE)
            except subprocess.TimeoutExpired:
                pass
        _kill(proc)
        _close(proc.stdin)  # proc.stdout belongs to the draining thread
    _cut_off(gateway)
    _close(err)


def _current(timeout: float) -> _Jvm:
    """The process's JVM, started on demand (RuntimeUnavailableError if it cannot be). A
    JVM that died is returned as it is: the caller sees it die and reports the fault."""
    with _LOCK:
        _ensure_locked(timeout)
        return _snapshot()


def _replace(old: _Jvm, timeout: float) -> _Jvm:
    """Kill ``old`` (a JVM that crashed or hung) and return a fresh JVM; _StartError if the
    fresh one cannot start. Another thread may have replaced ``old`` already: then its
    JVM is used."""
    with _LOCK:
        if _JVM.get("proc") is old.proc:
            _stop_locked(graceful=False)
        else:
            _kill(old.proc)
        if "proc" not in _JVM:
            _start_locked(timeout)
        return _snapshot()


def _discard(jvm: _Jvm) -> None:
    """Kill ``jvm`` after a fault (no new one: the next request starts it)."""
    with _LOCK:
        if _JVM.get("proc") is jvm.proc:
            _stop_locked(graceful=False)
        else:
            _kill(jvm.proc)


def backend():
    """The process-wide jpmml_evaluator backend (starting the JVM on demand, and replacing
    one that died)."""
    timeout = resolve_timeout(None)
    with _LOCK:
        proc = _JVM.get("proc")
        if proc is not None and proc.poll() is not None:
            _stop_locked(graceful=False)
        _ensure_locked(timeout)
        return _JVM["backend"]


def _ensure_locked(timeout: float) -> None:
    """Start the JVM unless one is running (the lock is held)."""
    if "proc" not in _JVM:
        try:
            _start_locked(timeout)
        except _StartError as e:
            raise RuntimeUnavailableError(f"JPMML's JVM could not be started: it {e}.") from None


def jvm_pid() -> int | None:
    """Process id of this process's JVM, or None when it is not running."""
    proc = _JVM.get("proc")
    return None if proc is None else proc.pid


def shutdown() -> None:
    """Stop this process's JVM (also run at exit). A later request starts a new one."""
    with _LOCK:
        _stop_locked(graceful=True)


atexit.register(shutdown)


def _forget_in_child() -> None:
    # A forked child must not use (nor close) the parent's gateway sockets: it starts its
    # own JVM on first use. The parent's objects are kept alive, since py4j shuts a
    # connection's socket down when the connection is garbage-collected, and that would
    # cut the parent's connection too; the child's copies of the sockets are detached
    # instead. The child's copy of the JVM's stdin is closed: the JVM still ends with the
    # parent, even when the child lives on.
    global _LOCK
    _LOCK = threading.Lock()
    old = dict(_JVM)
    _JVM.clear()
    _JVM["generation"] = old.get("generation", 0)
    if "gateway" not in old:
        return
    _INHERITED.append(old)
    try:
        client = old["gateway"]._gateway_client
        client.is_connected = False
        for connection in list(client.deque):
            connection.socket.detach()
    except Exception:  # pragma: no cover - best effort
        pass
    proc = old.get("proc")
    if proc is not None:
        _close(proc.stdin)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)


def _warn(message: str) -> None:
    """A RuntimeRestartWarning attributed to the first caller outside portable."""
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename.startswith(_PKG_DIR):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, RuntimeRestartWarning, stacklevel=level)


# ----------------------------------------------------------------------------- runtime
class JpmmlRuntime(Runtime):
    """Runtime "jpmml" for the "pmml" format.

    Examples
    --------
    >>> session = portable.load("out/pmml")      # doctest: +SKIP
    >>> session.predict(X, output="margin")      # doctest: +SKIP
    """

    name = "jpmml"
    formats = ("pmml",)

    def __init__(self, *, timeout: float | None = None):
        # Seconds a JVM call (or the JVM's start-up) may take before the JVM counts as hung
        # (then it is killed, restarted once and the request retried); None:
        # $PORTABLE_RUNTIME_TIMEOUT or 120.
        self.timeout = None if timeout is None else resolve_timeout(timeout)

    @classmethod
    def available(cls) -> str | None:
        why = _missing()
        return f"{INSTALL} Missing: {', '.join(why)}." if why else None

    def open(self, artifact, *, verify: bool = True) -> "JpmmlSession":
        """Open the artifact's PMML document; ``verify``: check its golden rows."""
        path = artifact.file(FILE)
        if not path.is_file():
            raise ArtifactError(f"{str(artifact.path)!r} has no {FILE}.")
        data = path.read_bytes()
        from ..xmlsafe import check_xml
        check_xml(data, what=f"PMML file {str(path)!r}")  # no DTD/entities reach the JVM
        return JpmmlSession(data, artifact.signature, verify=verify, timeout=self.timeout)


class JpmmlSession:
    """A JPMML ``Evaluator`` behind the ``predict(X, output=...)`` contract.

    Parameters
    ----------
    document : bytes
        The PMML document (kept: the evaluator is re-created from it on a fresh JVM).
    signature :
        The artifact's signature.
    verify : bool
        Run JPMML's check of the document's ModelVerification rows at load.
    timeout : float, optional
        Seconds each JVM call may take before the JVM counts as hung. Default
        ``$PORTABLE_RUNTIME_TIMEOUT``, else 120.

    Attributes
    ----------
    restarts : int
        How many times this session's requests restarted the JVM after a fault.
    faults : list of str
        What happened to each JVM that failed it ("was killed by signal 9 (SIGKILL)", ...).
    """

    def __init__(self, document: bytes, signature, *, verify: bool = True,
                 timeout: float | None = None):
        self.signature = signature
        self.timeout = resolve_timeout(timeout)
        self.restarts = 0
        self.faults: list[str] = []
        self._document = document
        self._ev = None
        self._generation = None
        fields, targets = self._run(lambda jvm: self._open(jvm, verify))
        if not fields:  # sklearn2pmml's regressors have no Output: the target is the value
            fields = targets
        # The document's Output: prediction columns (signature order), margins, label.
        names = [f.getName() for f in fields]
        n = len(signature.output_names)
        rest = list(fields[n:])
        self._columns = {"prediction": names[:n],
                         "margin": [f.getName() for f in rest if f.getOpType() == "continuous"]}
        self._labels = [f.getName() for f in rest if f.getOpType() == "categorical"] or [
            f.getName() for f in targets if f.getOpType() == "categorical"]  # sklearn2pmml
        self._dtype = np.float32 if fields[0].getDataType() == "float" else np.float64

    # ------------------------------------------------------------------ requests
    def predict(self, X, output: str = "prediction") -> np.ndarray:
        """Predict ``X`` (2-D rows, a 1-D row, or a DataFrame) in one JVM call.

        ``output="prediction"``: values, class probabilities or decision scores;
        ``output="margin"``: raw scores before the link. Always a 2-D array. A JVM that
        crashes or hangs is replaced and the request retried once (module docstring).
        """
        if output not in OUTPUTS:
            raise InputError(f"Unknown output {output!r}; choose one of {', '.join(OUTPUTS)}.")
        cols = self._columns[output]
        if not cols:
            raise UnsupportedFeatureError(
                f"This PMML document has no {output!r} output (an upstream engine wrote it); "
                f"re-export with engine 'portable' to get margins.")
        res = self._evaluate(X)
        if res is None:
            return np.empty((0, len(cols)), dtype=self._dtype)
        return np.column_stack([np.asarray(res[c].to_numpy(dtype=np.float64), np.float64)
                                for c in cols]).astype(self._dtype)

    def labels(self, X) -> np.ndarray:
        """Predicted class labels (1-D, as strings) of a classifier."""
        if not self._labels:
            raise InputError("Labels exist only for classifiers.")
        res = self._evaluate(X)
        return np.empty(0, dtype=object) if res is None else res[self._labels[0]].to_numpy(object)

    def close(self) -> None:
        self._ev = None

    def _evaluate(self, X):
        if self._ev is None:
            raise InputError("This session is closed.")
        import pandas as pd

        sig = self.signature
        Z = prepare_input(sig, X)
        if Z.shape[0] == 0:
            return None
        # Plain Python values only: numpy scalars would reach Java as pickled objects.
        data = {}
        for j, (name, t) in enumerate(zip(sig.feature_names, sig.feature_types)):
            col = Z[:, j]
            if t == "string":
                data[name] = pd.Series([None if _is_missing(v) else str(v) for v in col],
                                       dtype=object)
            else:
                data[name] = pd.Series(np.asarray(col, dtype=np.float64))
        df = pd.DataFrame(data)
        res = self._run(lambda jvm: self._evaluate_all(jvm, df))
        if "errors" in res.columns:
            bad = res["errors"].notna().to_numpy()
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise InputError(f"JPMML rejected row {i} ({int(bad.sum())} rows in all): "
                                 f"{res['errors'].iloc[i]}")
        return res

    # ------------------------------------------------------------------ JVM work
    def _open(self, jvm: _Jvm, verify: bool):
        """Build (and verify) the evaluator on ``jvm``; its output and target fields."""
        ev = self._build(jvm)
        if verify:
            try:
                self._call(jvm, ev.verify)
            except _Fault:
                raise
            except Exception as e:
                raise ArtifactError(
                    "JPMML's check of the document's ModelVerification rows (the reference "
                    f"evaluator's outputs) failed: {e}") from None
        try:
            fields = self._call(jvm, lambda: (ev.getOutputFields(), ev.getTargetFields()))
        except _Fault:
            raise
        except Exception as e:
            raise ArtifactError(f"JPMML cannot read this PMML document's fields: {e}") from None
        self._ev, self._generation = ev, jvm.generation
        return fields  # (output fields, target fields)

    def _build(self, jvm: _Jvm):
        import jpmml_evaluator

        try:
            return self._call(jvm, lambda: jpmml_evaluator.make_evaluator(
                self._document, backend=jvm.backend))
        except _Fault:
            raise
        except Exception as e:
            raise ArtifactError(f"JPMML cannot load this PMML document: {e}") from None

    def _evaluate_all(self, jvm: _Jvm, df):
        from pandas.errors import PerformanceWarning

        ev = self._ev
        if ev is None:  # closed meanwhile
            raise InputError("This session is closed.")
        with warnings.catch_warnings():
            # jpmml_evaluator adds the result columns one by one (pandas: "fragmented").
            warnings.simplefilter("ignore", PerformanceWarning)
            try:
                return self._call(jvm, lambda: ev.evaluateAll(df))
            except _Fault:
                raise
            except Exception as e:
                raise InputError(f"JPMML could not evaluate the rows: {e}") from None

    def _run(self, steps):
        """``steps(jvm)`` on the process's JVM, with one restart and retry on a fault."""
        jvm = _current(self.timeout)
        try:
            return self._attempt(jvm, steps)
        except _Fault as e:
            first = str(e)
        pid = jvm.proc.pid
        self.restarts += 1
        self.faults.append(first)
        try:
            jvm = _replace(jvm, self.timeout)
        except _StartError as e:
            self.faults.append(str(e))
            raise RuntimeFailedError(self._gave_up(pid, first, f"the fresh JVM {e}")) from None
        _warn(f"JPMML's JVM (pid {pid}) {first}; started a fresh one (pid {jvm.proc.pid}, "
              f"restart {self.restarts} of this session) and retried the request.")
        try:
            return self._attempt(jvm, steps)
        except _Fault as e:
            self.faults.append(str(e))
            _discard(jvm)
            raise RuntimeFailedError(self._gave_up(
                pid, first, f"the fresh JVM (pid {jvm.proc.pid}) {e}")) from None

    @staticmethod
    def _gave_up(pid: int, first: str, second: str) -> str:
        return (f"JPMML's JVM (pid {pid}) {first}; it was restarted once, but {second}. Gave "
                f"up on this request; the next one starts a new JVM.")

    def _attempt(self, jvm: _Jvm, steps):
        if self._ev is not None and self._generation != jvm.generation:
            # The evaluator died with an older JVM: re-create it (verified already).
            self._ev, self._generation = self._build(jvm), jvm.generation
        return steps(jvm)

    def _call(self, jvm: _Jvm, fn):
        """``fn()`` (calls into ``jvm``) in a daemon thread given ``self.timeout`` seconds.
        _Fault when the JVM is dead, dies during the call or does not answer in time;
        anything else ``fn`` raises (Java exceptions) is raised as it is."""
        from py4j.protocol import Py4JError, Py4JJavaError

        proc = jvm.proc
        code = proc.poll()
        if code is not None:
            raise _Fault(_death(jvm, code))
        box: list = []

        def work():
            try:
                box.append((True, fn()))
            except BaseException as e:  # handed to the caller, never printed by threading
                box.append((False, e))

        worker = threading.Thread(target=work, daemon=True, name="portable-jpmml-call")
        worker.start()
        worker.join(self.timeout)
        if not box:
            code = proc.poll()
            if code is not None:
                raise _Fault(_death(jvm, code))
            raise _Fault(f"gave no answer within {self.timeout:g} s (hung), and was killed")
        ok, value = box[0]
        if ok:
            return value
        if isinstance(value, _ConnectionLost) or (
                isinstance(value, Py4JError) and not isinstance(value, Py4JJavaError)):
            try:
                code = proc.wait(timeout=EXIT_GRACE)
            except subprocess.TimeoutExpired:
                code = None
            if code is not None:
                raise _Fault(_death(jvm, code))
            if isinstance(value, _ConnectionLost):
                raise _Fault(f"lost its py4j connection ({value}), and was killed")
        raise value


def _is_missing(v) -> bool:
    return v is None or (isinstance(v, (float, np.floating)) and v != v)
