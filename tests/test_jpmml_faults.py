"""JPMML's JVM crashing or hanging: seen (a crash at once, a hang after the timeout),
killed, restarted once with the request retried, reported (a RuntimeRestartWarning and
``session.restarts``), and a RuntimeFailedError naming both faults when the fresh JVM fails
too. The JVM is shared by the process's sessions: a restart by one leaves the others
working. Rows JPMML rejects stay InputError. Every test runs the real JVM and leaves one
healthy JVM (or none) and no other java process behind: the other PMML modules share it."""

from __future__ import annotations

import contextlib
import os
import signal
import time
import warnings
from pathlib import Path

import numpy as np
import psutil
import pytest

import portable
from portable.errors import (ArtifactError, InputError, RuntimeFailedError,
                             RuntimeRestartWarning, RuntimeUnavailableError)
from portable.runtimes import jpmml as mod

TIMEOUT = 4.0  # seconds; a cold evaluator build on a fresh JVM took about 1 s here


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory, jpmml):
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import load_iris
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    X, y = load_iris(return_X_y=True)
    iris = GradientBoostingClassifier(n_estimators=10, max_depth=3, random_state=0).fit(X, y)
    rng = np.random.default_rng(0)
    C = np.empty((200, 2), dtype=object)
    C[:, 0] = rng.choice(["red", "green", "blue"], len(C))
    C[:, 1] = rng.normal(size=len(C))
    yc = ((C[:, 0] == "red") + C[:, 1].astype(float) > 0.5).astype(int)
    # drop="first": JPMML's encoder rejects a category it has not seen (a per-row error)
    colors = make_pipeline(
        ColumnTransformer([("oh", OneHotEncoder(drop="first"), [0])], remainder="passthrough"),
        LogisticRegression()).fit(C, yc)
    out = tmp_path_factory.mktemp("jpmml_faults")
    for name, est in (("iris", iris), ("colors", colors)):
        portable.export(est, format="pmml", out_dir=out / name, check=False)
    return {"iris": (out / "iris", X), "colors": (out / "colors", C[:20])}


@pytest.fixture(autouse=True)
def one_healthy_jvm():
    """After every test: the process's JVM (if any) runs and is not stopped, and it is the
    only JPMML JVM among the children (no killed JVM left, not even as a zombie). A
    failing test's mess is cleaned up first, so the other modules still get a working JVM."""
    yield
    pid = mod.jvm_pid()
    stopped = pid is not None and _state(pid) in ("T", "t", "Z", None)
    if stopped:
        mod.shutdown()
        pid = None
    extra = [p for p in _java_children() if p.pid != pid]
    for p in extra:
        p.kill()
        p.wait(10)
    assert not stopped, "the test left the JVM stopped or dead"
    assert not extra, [(p.pid, p.status()) for p in extra]


def _load(name: str, artifacts, timeout=TIMEOUT):
    return mod.JpmmlRuntime(timeout=timeout).load(artifacts[name][0])


def _java_children() -> list:
    """This process's JPMML JVMs, and any java child that is a zombie (unreaped: a leak
    whoever started it). pypmml's JVM, which lives as long as the process, is not listed."""
    out = []
    for p in psutil.Process().children(recursive=True):
        try:
            if p.name() == "java" and (p.status() == psutil.STATUS_ZOMBIE or any(
                    "jpmml_evaluator" in arg for arg in p.cmdline())):
                out.append(p)
        except psutil.NoSuchProcess:  # reaped meanwhile
            pass
    return out


def _state(pid: int) -> str | None:
    """The process's state letter (R, S, T, Z, ...), None when it does not exist."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return None


def _gone(pid: int) -> bool:
    """Dead and reaped: no process, not even a zombie, and no longer our child."""
    return _state(pid) is None and pid not in {p.pid for p in _java_children()}


def _kill9(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _state(pid) not in (None, "Z"):
        assert time.monotonic() < deadline
        time.sleep(0.01)


def _freeze(pid: int) -> None:
    """SIGSTOP ``pid`` and wait until all its threads are stopped: alive but silent."""
    os.kill(pid, signal.SIGSTOP)
    deadline = time.monotonic() + 10
    while True:
        states = [_state_of_task(t) for t in Path(f"/proc/{pid}/task").iterdir()]
        states = [s for s in states if s]
        if states and all(s in "Tt" for s in states):
            return
        assert time.monotonic() < deadline, states
        time.sleep(0.01)


def _state_of_task(task: Path) -> str | None:
    try:
        return (task / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return None


@contextlib.contextmanager
def _no_restart_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeRestartWarning)
        yield


# ----------------------------------------------------------------------------- crash
def test_a_jvm_killed_between_requests_is_restarted_once_at_the_next(artifacts):
    s = _load("iris", artifacts)
    X = artifacts["iris"][1]
    ref, ref_m = s.predict(X), s.predict(X, output="margin")
    old = mod.jvm_pid()
    _kill9(old)
    t = time.perf_counter()
    with pytest.warns(RuntimeRestartWarning) as caught:
        got = s.predict(X)
    took = time.perf_counter() - t
    new = mod.jvm_pid()
    assert len(caught) == 1 and caught[0].filename == __file__  # points at the caller
    assert str(caught[0].message) == (
        f"JPMML's JVM (pid {old}) was killed by signal 9 (SIGKILL); started a fresh one "
        f"(pid {new}, restart 1 of this session) and retried the request.")
    assert np.array_equal(got, ref) and got.dtype == ref.dtype
    assert s.restarts == 1 and s.faults == ["was killed by signal 9 (SIGKILL)"]
    assert new != old and _state(new) not in (None, "Z") and _gone(old)
    assert took < TIMEOUT  # seen at once (the JVM's exit status), not after the timeout
    with _no_restart_warning():  # the healthy fresh JVM is not restarted again
        assert np.array_equal(s.predict(X, output="margin"), ref_m)
        assert np.array_equal(s.labels(X), s.labels(X))
    assert s.restarts == 1 and mod.jvm_pid() == new


def test_a_jvm_that_died_before_load_is_restarted_by_the_load(artifacts):
    X = artifacts["iris"][1]
    ref = _load("iris", artifacts).predict(X)
    old = mod.jvm_pid()
    _kill9(old)
    with pytest.warns(RuntimeRestartWarning, match=f"pid {old}\\) was killed by signal 9"):
        s = _load("iris", artifacts)  # builds and verifies its evaluator on a fresh JVM
    assert s.restarts == 1 and _gone(old)
    assert np.array_equal(s.predict(X), ref)


# ----------------------------------------------------------------------------- hang
def test_a_stopped_jvm_is_killed_after_the_timeout_and_replaced(artifacts):
    s = _load("iris", artifacts)
    X = artifacts["iris"][1]
    ref = s.predict(X)
    old = mod.jvm_pid()
    _freeze(old)
    t = time.perf_counter()
    with pytest.warns(RuntimeRestartWarning) as caught:
        got = s.predict(X)
    took = time.perf_counter() - t
    hung = f"gave no answer within {TIMEOUT:g} s (hung), and was killed"
    assert len(caught) == 1 and str(caught[0].message).startswith(
        f"JPMML's JVM (pid {old}) {hung}; started a fresh one (pid {mod.jvm_pid()}, "
        f"restart 1 of this session)")
    assert np.array_equal(got, ref)
    assert s.restarts == 1 and s.faults == [hung]
    assert TIMEOUT <= took < TIMEOUT + 30, took  # the timeout, then a restart and the retry
    assert _gone(old)  # the stopped JVM was killed and reaped


# ----------------------------------------------------------------------------- give up
def test_when_the_fresh_jvm_cannot_start_the_error_names_both_faults(artifacts,
                                                                     monkeypatch):
    s = _load("iris", artifacts)
    X = artifacts["iris"][1]
    ref = s.predict(X)
    old = mod.jvm_pid()
    options = mod.JAVA_OPTIONS
    monkeypatch.setattr(mod, "JAVA_OPTIONS", ("-XX:+PortableNoSuchOption",))
    _kill9(old)
    with pytest.raises(RuntimeFailedError) as info:
        s.predict(X)
    msg = str(info.value)
    assert msg.startswith(
        f"JPMML's JVM (pid {old}) was killed by signal 9 (SIGKILL); it was restarted once, "
        f"but the fresh JVM exited with code 1 at start-up (stderr: Unrecognized VM option "
        f"'PortableNoSuchOption'"), msg
    assert msg.endswith("Gave up on this request; the next one starts a new JVM."), msg
    assert s.restarts == 1 and len(s.faults) == 2
    assert mod.jvm_pid() is None and not _java_children()  # the failed start was reaped
    # The next request tries a new JVM once more (on demand: not a restart of this session).
    with pytest.raises(RuntimeUnavailableError, match="JPMML's JVM could not be started"):
        s.predict(X)
    assert s.restarts == 1 and not _java_children()
    monkeypatch.setattr(mod, "JAVA_OPTIONS", options)
    assert np.array_equal(s.predict(X), ref) and s.restarts == 1


def test_when_the_fresh_jvm_hangs_at_start_up_it_is_killed_too(artifacts, monkeypatch,
                                                               tmp_path):
    s = _load("iris", artifacts, timeout=2)
    X = artifacts["iris"][1]
    ref = s.predict(X)
    old = mod.jvm_pid()
    options = mod.JAVA_OPTIONS
    # HotSpot waits before main() until this file is deleted: a JVM that never answers.
    monkeypatch.setattr(mod, "JAVA_OPTIONS", (
        "-XX:+UnlockDiagnosticVMOptions", "-XX:+PauseAtStartup",
        f"-XX:PauseAtStartupFile={tmp_path / 'paused'}"))
    _kill9(old)
    t = time.perf_counter()
    with pytest.raises(RuntimeFailedError, match=(
            f"\\(pid {old}\\) was killed by signal 9 \\(SIGKILL\\); it was restarted once, "
            f"but the fresh JVM printed no port within 2 s of its start \\(hung\\), and was "
            f"killed\\.")):
        s.predict(X)
    took = time.perf_counter() - t
    assert 2 <= took < 20, took
    assert s.restarts == 1 and mod.jvm_pid() is None and not _java_children()
    monkeypatch.setattr(mod, "JAVA_OPTIONS", options)
    assert np.array_equal(s.predict(X), ref)


# ----------------------------------------------------------------------------- sharing
def test_a_restart_by_one_session_leaves_the_others_working(artifacts):
    a, b = _load("iris", artifacts), _load("colors", artifacts)
    Xa, Xb = artifacts["iris"][1], artifacts["colors"][1]
    ref_a, ref_b = a.predict(Xa), b.predict(Xb)
    old = mod.jvm_pid()
    _kill9(old)
    with pytest.warns(RuntimeRestartWarning):
        assert np.array_equal(a.predict(Xa), ref_a)
    new = mod.jvm_pid()
    with _no_restart_warning():  # b's evaluator died with the old JVM: re-created
        assert np.array_equal(b.predict(Xb), ref_b)  # silently on the fresh one
        c = _load("colors", artifacts)  # and a session opened now just works
        assert np.array_equal(c.predict(Xb), ref_b)
    assert (a.restarts, b.restarts, c.restarts) == (1, 0, 0) and b.faults == []
    assert mod.jvm_pid() == new
    # shutdown() between requests is not a fault either: the next request starts a JVM
    mod.shutdown()
    assert mod.jvm_pid() is None and _gone(new)
    with _no_restart_warning():
        assert np.array_equal(b.predict(Xb), ref_b) and b.restarts == 0


# ----------------------------------------------------------------------------- input errors
def test_rows_jpmml_rejects_stay_input_errors_without_a_restart(artifacts):
    s = _load("colors", artifacts)
    X = artifacts["colors"][1].copy()
    ref = s.predict(X)
    pid = mod.jvm_pid()
    X[1, 0] = "purple"
    with _no_restart_warning():
        with pytest.raises(InputError, match="JPMML rejected row 1"):
            s.predict(X)
        with pytest.raises(ArtifactError, match="JPMML cannot load this PMML document"):
            mod.JpmmlSession(b"<PMML/>", s.signature, timeout=TIMEOUT)  # a Java exception
    assert s.restarts == 0 and s.faults == [] and mod.jvm_pid() == pid
    assert np.array_equal(s.predict(artifacts["colors"][1]), ref)


def test_the_timeout_comes_from_the_option_then_the_environment_then_120(artifacts,
                                                                         monkeypatch):
    monkeypatch.delenv("PORTABLE_RUNTIME_TIMEOUT", raising=False)
    assert mod.JpmmlRuntime().load(artifacts["iris"][0]).timeout == 120.0
    assert portable.load(artifacts["iris"][0]).timeout == 120.0
    monkeypatch.setenv("PORTABLE_RUNTIME_TIMEOUT", "7.5")
    assert mod.JpmmlRuntime().load(artifacts["iris"][0]).timeout == 7.5
    assert _load("iris", artifacts, timeout=2).timeout == 2.0  # the option wins
    with pytest.raises(InputError, match="timeout"):
        mod.JpmmlRuntime(timeout=0)


def test_the_gateway_refuses_a_client_without_its_auth_token(artifacts):
    from py4j.java_gateway import GatewayParameters, JavaGateway

    session = _load("iris", artifacts)
    port = mod._JVM["gateway"].gateway_parameters.port
    intruder = JavaGateway(gateway_parameters=GatewayParameters(port=port))
    try:
        with pytest.raises(Exception) as e:  # py4j's auth refusal (or a closed socket)
            intruder.jvm.java.lang.System.getProperty("user.name")
        assert "auth" in str(e.value).lower() or "connect" in str(e.value).lower(), e.value
    finally:
        intruder.close()
    assert session.predict(np.zeros((1, 4))).shape[0] == 1  # our own client still works
