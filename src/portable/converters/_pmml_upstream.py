"""Upstream PMML engine: sklearn2pmml (``--format pmml --engine sklearn2pmml``).

sklearn2pmml (AGPL-3.0, optional extra ``portable[sklearn2pmml]``) converts estimators the IR
does not hold, TF-IDF text pipelines for instance, into PMML that our ``jpmml`` runtime runs.
It converts the trained object, not the IR; the artifact's parity is measured at save against
the object's own predictions, as for the upstream ONNX engines (``converters/upstream.py``).

How it is driven. sklearn2pmml's ``sklearn2pmml()`` function pickles a ``PMMLPipeline`` and
runs ``java com.sklearn2pmml.Main`` on it (a new JVM per call, 1-2 s). That function has no
timeout, prints the Java logs and a daily banner to stdout, sets ``os.environ`` and
``_escape``s the caller's estimator in place, and fails with a bare ``RuntimeError``. So we
run the same steps ourselves on a deep copy, in a temporary folder: the package's own
``_escape`` (estimator preparation) and ``_classpath`` (its jars), a joblib dump, and the
Java command with a timeout. Java's stdout/stderr are captured; nothing reaches the terminal,
and on failure the end of Java's report becomes the ``ConversionError`` message. The banner
is printed by the Python wrapper only, which we do not call.

Telemetry. ``com.sklearn2pmml.Main`` (inspected with ``javap -c``, 0.133.1) catches a failed
conversion, builds an ``org.jpmml.telemetry.Incident`` (the exception's class, message,
conversion context object and stack trace, plus the ``SKLEARN2PMML_ENVIRONMENT`` variable:
Python, Java and package versions) and POSTs it to ``https://telemetry.jpmml.org/v1/incidents``
with ``HttpClient.newHttpClient()``: no opt-out, no connect or request timeout, errors
ignored. That client uses the JVM's default proxy selector, which honours
``-Dhttps.proxyHost``/``-Dhttps.proxyPort`` (verified: a local listener received
``CONNECT telemetry.jpmml.org:443``). By default we point the proxies at a loopback port this
process holds bound but not listening for the JVM's lifetime: the connection is refused at
once, nothing is resolved or sent (strace: no DNS query for telemetry.jpmml.org), and the
failure is reported as before. Command-line options win over ``JAVA_TOOL_OPTIONS``. We also
do not set ``SKLEARN2PMML_ENVIRONMENT``. Measured with a proxy that accepts and never answers
(a network that drops packets): blocked, the failed conversion returns in 1.3 s; allowed, the
JVM waits until our timeout stops it. ``PORTABLE_SKLEARN2PMML_TELEMETRY=allow`` restores
sklearn2pmml's own behaviour (no proxy options, the environment report its wrapper builds).

Other facts (0.133.1): the jar refuses to run 360 days after its build timestamp
(2026-08-30: "The SkLearn2PMML package has expired") and warns after 180; scikit-learn must be
a version it knows (1.9.0 here). Text: ``token_pattern`` is copied into the document as a Java
regex, where ``\\w`` is ASCII-only, so non-ASCII words tokenize differently; use
``tokenizer=sklearn2pmml.feature_extraction.text.Splitter(), token_pattern=None``. With the
default ``norm="l2"``, JPMML rejects a document that contains no known term (0/0).
"""

from __future__ import annotations

import copy
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConversionError, InputError, RuntimeUnavailableError, UnknownNameError
from ..ir import Signature
from ._onnx_upstream import (
    describe,
    dist_version,
    is_booster,
    sample_rows,
    source_output,
    text_sample,
)
from .upstream import UpstreamBundle, _trained_object, upstream_manifest

ENGINE = "sklearn2pmml"
ENGINES = ("portable", ENGINE)
FILE = "model.pmml"
TELEMETRY_ENV = "PORTABLE_SKLEARN2PMML_TELEMETRY"
TIMEOUT_ENV = "PORTABLE_SKLEARN2PMML_TIMEOUT"
TIMEOUT = 300.0  # seconds for one JVM run; measured runs take 1-3 s
# A conversion is a short-lived JVM: C1-only JIT and the serial GC cut a 5 KiB-2 MiB
# conversion from 1.3-2.2 s to 0.6-0.9 s here, and a 61 MB one was no slower (20 s).
JVM_OPTIONS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")
INSTALL = ('The sklearn2pmml engine needs the sklearn2pmml package (AGPL-3.0) and Java 11+: '
           'pip install "portable[sklearn2pmml]" and put `java` on PATH '
           '(e.g. apt-get install openjdk-17-jre-headless).')
_TAIL_LINES = 30


def convert_sklearn2pmml(obj, *, n_features: int | None = None, sample=None,
                         timeout: float | None = None) -> dict[str, bytes]:
    """Convert a trained scikit-learn / XGBoost object to PMML with sklearn2pmml.

    Parameters
    ----------
    obj : fitted estimator or Pipeline (a ``PMMLPipeline`` too)
    n_features : int, optional
        Number of input columns when the object does not record it.
    sample : array-like or DataFrame, optional
        A few input rows (a DataFrame names the columns).
    timeout : float, optional
        Seconds the JVM may run (default ``$PORTABLE_SKLEARN2PMML_TIMEOUT`` or 300).

    Returns
    -------
    dict: ``{"model.pmml": bytes}``; the input fields are the signature's feature names.

    Raises
    ------
    RuntimeUnavailableError
        sklearn2pmml or Java is missing.
    ConversionError
        sklearn2pmml failed (the message ends with Java's report) or timed out.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> est = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    >>> convert_sklearn2pmml(est)["model.pmml"][:5]   # doctest: +SKIP
    b'<?xml'
    """
    obj = _trained_object(obj)
    data, _sig, _logs = _convert(obj, n_features, text_sample(obj, sample), timeout)
    return {FILE: data}


def pmml_upstream_bundle(obj, *, engine: str | None = ENGINE, n_features: int | None = None,
                         sample=None, timeout: float | None = None,
                         **unknown) -> "PmmlUpstreamBundle":
    """``convert_sklearn2pmml`` plus the manifest, as a bundle whose ``save`` runs the
    document with JPMML on the sample rows against the trained object's own predictions.
    """
    if engine not in (None, ENGINE):
        raise UnknownNameError(f"Unknown PMML engine {engine!r}; choose one of "
                               f"{', '.join(ENGINES)}.")
    if unknown:
        raise ConversionError(f"Unknown option(s) for the sklearn2pmml engine: "
                              f"{', '.join(sorted(unknown))}; known: engine, n_features, "
                              f"sample, timeout.")
    obj = _trained_object(obj)
    sample = text_sample(obj, sample)
    data, sig, java_warnings = _convert(obj, n_features, sample, timeout)
    rows = sample_rows(obj, sig, sample)
    manifest = upstream_manifest(
        obj, sig, data, rows, engine=ENGINE, format="pmml", route="document", runtime="jpmml",
        conversion={"telemetry": "allowed" if telemetry_allowed() else "blocked",
                    "warnings": java_warnings})
    return PmmlUpstreamBundle(files={FILE: data}, manifest=manifest, source=obj, rows=rows)


@dataclass
class PmmlUpstreamBundle(UpstreamBundle):
    """A PMML document written by sklearn2pmml; parity is measured against the object."""

    def check(self, folder) -> dict:
        """Run the document with JPMML on the sample rows against the object itself. Rows
        JPMML refuses make the export fail: the artifact could not serve them."""
        from ..parity import compare
        from ..runtimes.jpmml import JpmmlRuntime, JpmmlSession

        why = JpmmlRuntime.available()
        if why:
            return {"checked": False, "runtime": "jpmml", "reason": why}
        sig = Signature.from_dict(self.manifest["signature"])
        session = JpmmlSession((Path(folder) / FILE).read_bytes(), sig)
        try:
            got = session.predict(self.rows)
        except InputError as e:
            raise ConversionError(f"The PMML written by {ENGINE} cannot score the sample "
                                  f"rows: {e}") from None
        finally:
            session.close()
        ref = source_output(self.source, sig, self.rows)
        cls = sig.task == "classification"
        return {"checked": True, "runtime": "jpmml", "rows": len(self.rows),
                "reference": "source object",
                "prediction": compare(ref, got, dtype=got.dtype, classification=cls)}


# ----------------------------------------------------------------------------- telemetry
def telemetry_allowed() -> bool:
    """True when ``PORTABLE_SKLEARN2PMML_TELEMETRY=allow``: run sklearn2pmml unprotected."""
    return os.environ.get(TELEMETRY_ENV, "").strip().lower() == "allow"


def blocking_options(port: int) -> list[str]:
    """JVM options sending the JVM's HTTP(S) client to ``127.0.0.1:port`` (refused)."""
    return ["-Dhttps.proxyHost=127.0.0.1", f"-Dhttps.proxyPort={port}",
            "-Dhttp.proxyHost=127.0.0.1", f"-Dhttp.proxyPort={port}",
            "-Dhttp.nonProxyHosts=localhost", "-Djava.net.useSystemProxies=false"]


class _RefusingPort:
    """A loopback TCP port bound (so nobody else can listen on it) but not listening, so
    every connection to it is refused at once."""

    def __enter__(self) -> int:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        return self._sock.getsockname()[1]

    def __exit__(self, *exc) -> None:
        self._sock.close()


# ----------------------------------------------------------------------------- conversion
def _convert(obj, n_features, sample, timeout) -> tuple[bytes, Signature, list[str]]:
    escape, classpath = _require()
    if is_booster(obj):
        raise ConversionError(f"{ENGINE} converts estimators, not a bare XGBoost Booster: "
                              f"load the model into xgboost.XGBClassifier / XGBRegressor "
                              f"(load_model) or use engine 'portable'.")
    sig, _inputs = describe(obj, n_features, sample)
    if sig.prediction_kind == "decision":
        raise ConversionError(
            f"{ENGINE} writes only the predicted label of {type(obj).__name__} (no "
            f"predict_proba), and portable checks scores: use engine 'portable' or "
            f"--format onnx --engine skl2onnx.")
    pipeline = _pmml_pipeline(obj, sig, escape)
    seconds = _timeout(timeout)
    with tempfile.TemporaryDirectory(prefix="portable-sklearn2pmml-") as tmp:
        import joblib

        pkl, out = os.path.join(tmp, "estimator.pkl.z"), os.path.join(tmp, FILE)
        joblib.dump(pipeline, pkl, compress=3)
        args = ["-cp", os.pathsep.join(classpath), "com.sklearn2pmml.Main",
                "--pkl-input", pkl, "--pmml-output", out]
        if telemetry_allowed():
            proc = _run_java(args, [], _environment_report(), tmp, seconds, obj)
        else:
            with _RefusingPort() as port:
                proc = _run_java(args, blocking_options(port), None, tmp, seconds, obj)
        if proc.returncode != 0 or not os.path.isfile(out):
            raise ConversionError(f"{ENGINE} could not convert {type(obj).__name__} "
                                  f"(java exit code {proc.returncode}):\n"
                                  f"{_tail(proc.stderr, proc.stdout)}")
        data = Path(out).read_bytes()
    logs = (proc.stderr + proc.stdout).splitlines()
    java_warnings = [ln[len("WARNING:"):].strip() for ln in logs if ln.startswith("WARNING:")]
    return data, sig, java_warnings


def _run_java(args: list[str], jvm_options: list[str], report: str | None, cwd: str,
              seconds: float, obj) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "SKLEARN2PMML_ENVIRONMENT"}
    if report is not None:
        env["SKLEARN2PMML_ENVIRONMENT"] = report
    cmd = [shutil.which("java") or "java", *JVM_OPTIONS, *jvm_options, *args]
    try:
        return subprocess.run(cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, errors="replace",
                              timeout=seconds)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        raise ConversionError(f"{ENGINE} did not finish converting {type(obj).__name__} "
                              f"within {seconds:g} s (set {TIMEOUT_ENV} or timeout= to "
                              f"allow more); the JVM was stopped.\n{_tail(err, out)}") from None
    except OSError as e:
        raise RuntimeUnavailableError(f"{INSTALL} Starting java failed: {e}") from None


def _pmml_pipeline(obj, sig: Signature, escape):
    """A ``PMMLPipeline`` over a deep copy of ``obj`` (``_escape`` edits objects in place),
    with the signature's feature names as its input fields."""
    from sklearn2pmml.pipeline import PMMLPipeline

    if isinstance(obj, PMMLPipeline):
        pipeline = copy.deepcopy(obj)
    else:
        steps = obj.steps if hasattr(obj, "steps") and hasattr(obj, "named_steps") else [
            ("estimator", obj)]
        pipeline = PMMLPipeline(copy.deepcopy(list(steps)))
    pipeline.active_fields = np.asarray(sig.feature_names)
    if getattr(pipeline, "target_fields", None) is None:
        pipeline.target_fields = np.asarray(["y"])
    return escape(pipeline, escape_func=escape)


def _environment_report() -> str:
    """``SKLEARN2PMML_ENVIRONMENT`` as sklearn2pmml's own wrapper builds it."""
    import sklearn2pmml

    build = getattr(sklearn2pmml, "_environment", None)
    try:
        env = build() if build else {}
    except Exception:  # pragma: no cover - the report is best effort, as upstream
        env = {}
    return "\n".join(f"{k}: {v}" for k, v in env.items())


def _timeout(timeout) -> float:
    from ..settings import positive_setting

    return positive_setting(timeout, TIMEOUT_ENV, TIMEOUT, name="timeout",
                            what="sklearn2pmml timeout", unit="seconds")


def _tail(stderr: str, stdout: str) -> str:
    """The end of Java's report without stack frames: exception, solution, context, cause."""
    lines = [ln.rstrip() for ln in "\n".join(filter(None, (stdout, stderr))).splitlines()]
    keep = [ln.strip() if ln.startswith("    ") else ln for ln in lines
            if ln.strip() and not ln.lstrip().startswith(("at ", "... "))
            and set(ln.strip()) - set("=-") and ln.strip() != "Stack trace:"]
    text = "\n".join(keep[-_TAIL_LINES:])
    return text[-4000:] if text else "(java printed nothing)"


def _require():
    """sklearn2pmml's escape function and jar classpath; Java on PATH."""
    try:
        import sklearn2pmml  # noqa: F401
    except ImportError:
        raise RuntimeUnavailableError(f"{INSTALL} Missing: the sklearn2pmml package.") from None
    if shutil.which("java") is None:
        raise RuntimeUnavailableError(f"{INSTALL} Missing: a `java` executable on PATH.")
    try:
        from sklearn2pmml import _classpath, _escape
    except ImportError:
        raise RuntimeUnavailableError(
            f"sklearn2pmml {dist_version(ENGINE)} lacks the functions portable drives "
            f"(_escape, _classpath; tested with 0.133.1).") from None
    return _escape, _classpath([])
