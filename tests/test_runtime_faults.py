"""Engine processes (java, node) that crash or hang: seen (a crash at once, a hang after the
timeout), killed, restarted once with the request retried, reported (a warning and
``session.restarts``), and a clear RuntimeFailedError when the fresh process fails too.
No engine process is left behind on any path. Every test runs the real java / node."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

import portable
from portable.errors import (InputError, RuntimeFailedError, RuntimeRestartWarning,
                             RuntimeUnavailableError)
from portable.runtimes import RUNTIMES

from test_native_models import rows
from test_native_runtimes import LANGUAGES, _alive, _export

# The string-column model for node: its server builds JS arrays per row, so a small V8 heap
# runs out on a big batch (a real crash in the middle of a request).
MODEL = {"java": "xgb_multi", "javascript": "onehot_strings_forest"}
SMALL_HEAP = {"java": "-Xmx16m", "javascript": "--max-old-space-size=8"}
BIG_BATCH = {"java": 400_000, "javascript": 150_000}  # rows that do not fit in SMALL_HEAP
OUT_OF_MEMORY = {"java": r"exited with code 1 \(stderr: .*?java\.lang\.OutOfMemoryError",
                 "javascript": r"killed by signal 6 \(SIGABRT\) \(stderr: .*?heap out of memory"}
LANGS = ["java", "javascript"]


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    return {lang: _export(tmp_path_factory.mktemp(lang), MODEL[lang], lang).path
            for lang in LANGS}


@pytest.fixture(autouse=True)
def baseline():
    """Every test: no child process (not even a zombie) remains that was not there before;
    the test gets the pids that were there, for checks of its own along the way."""
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    yield before
    left = _new_children(before)
    assert not left, [(p.pid, p.status(), p.cmdline()) for p in left if p.is_running()]


def _load(path, lang, **kw):
    return RUNTIMES.get(LANGUAGES[lang])(**kw).load(path)


def _new_children(before: set) -> list:
    return [p for p in psutil.Process().children(recursive=True) if p.pid not in before]


def _kill9(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _alive(pid):  # dead once it is a zombie; the session has not reaped it yet
        assert time.monotonic() < deadline
        time.sleep(0.01)


def _freeze(pid: int) -> None:
    """SIGSTOP ``pid`` and wait until every thread of it is stopped (a JVM's busy threads
    take a moment): alive, silent, and deaf to everything but SIGKILL."""
    os.kill(pid, signal.SIGSTOP)
    deadline = time.monotonic() + 10
    while True:
        states = []
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                states.append((task / "stat").read_text().rsplit(")", 1)[1].split()[0])
            except (FileNotFoundError, ProcessLookupError):
                pass
        if states and all(s in "Tt" for s in states):
            return
        assert time.monotonic() < deadline, states
        time.sleep(0.01)


@pytest.mark.parametrize("lang", LANGS)
def test_an_engine_killed_between_requests_is_restarted_once_at_the_next(artifacts, lang):
    s = portable.load(artifacts[lang])  # the default timeout: 120 s
    try:
        X = rows(MODEL[lang], "random")
        ref = s.predict(X)
        first = s.pid
        _kill9(first)
        t = time.perf_counter()
        with pytest.warns(RuntimeRestartWarning) as caught:
            got = s.predict(X)
        took = time.perf_counter() - t
        assert len(caught) == 1 and caught[0].filename == __file__  # points at the caller
        msg = str(caught[0].message)
        engine = "java" if lang == "java" else "node"
        assert msg.startswith(f"The {engine} process (pid {first}) was killed by signal 9 "
                              f"(SIGKILL); started a fresh one (restart 1")
        assert np.array_equal(got, ref) and got.dtype == ref.dtype
        assert s.restarts == 1 and s.faults == ["was killed by signal 9 (SIGKILL)"]
        assert s.pid != first and _alive(s.pid)
        assert took < 10  # seen at once (poll), not after the 120 s timeout
        assert np.array_equal(s.predict(X, output="margin"), s.predict(X, output="margin"))
        assert s.restarts == 1  # a healthy process is not restarted again
    finally:
        s.close()
    assert s.pid is None and not _alive(first)


@pytest.mark.parametrize("lang", LANGS)
def test_a_hung_engine_is_killed_after_the_timeout_and_restarted(artifacts, lang,
                                                                  monkeypatch):
    monkeypatch.setenv("PORTABLE_RUNTIME_TIMEOUT", "3")
    s = portable.load(artifacts[lang])
    assert s.timeout == 3.0
    try:
        X = rows(MODEL[lang], "random")
        ref = s.predict(X)
        hung = s.pid
        _freeze(hung)
        t = time.perf_counter()
        with pytest.warns(RuntimeRestartWarning, match=r"gave no answer within 3 s \(hung\)"):
            got = s.predict(X)
        took = time.perf_counter() - t
        assert 3.0 <= took < 3.0 + 15, took
        assert np.array_equal(got, ref)
        assert s.restarts == 1 and not _alive(hung)  # SIGKILL works on a stopped process
        assert s.faults[0].startswith("gave no answer within 3 s (hung)")
    finally:
        s.close()


@pytest.mark.parametrize("lang", LANGS)
def test_a_hung_engine_is_seen_while_a_big_batch_is_still_being_written(artifacts, lang):
    """A batch bigger than the pipe's buffer: writing it to a frozen engine cannot finish,
    so the write itself must time out (a blocking write would wait forever)."""
    s = _load(artifacts[lang], lang, timeout=3)
    try:
        X = rows(MODEL[lang], "random")
        big = np.repeat(X, 20_000 // len(X), axis=0)  # ~1 MB of request, 16x a pipe buffer
        ref = s.predict(big)
        hung = s.pid
        _freeze(hung)
        t = time.perf_counter()
        with pytest.warns(RuntimeRestartWarning, match=r"did not read its input within 3 s"):
            got = s.predict(big)
        took = time.perf_counter() - t
        assert 3.0 <= took < 3.0 + 15, took
        assert np.array_equal(got, ref) and s.restarts == 1 and not _alive(hung)
    finally:
        s.close()


@pytest.mark.parametrize("lang", LANGS)
def test_a_crash_in_the_middle_of_a_request_is_seen_at_once(artifacts, lang, baseline):
    """A real crash mid-request: the engine runs out of memory on a big batch (a small heap
    is given through ``argv``, which every restart runs). It is seen when the process dies,
    long before the 60 s timeout; the retry crashes too, so RuntimeFailedError names both;
    the next request starts a fresh process."""
    s = _load(artifacts[lang], lang, timeout=60)
    try:
        X = rows(MODEL[lang], "random")
        ref = s.predict(X)
        s.argv.insert(1, SMALL_HEAP[lang])
        _kill9(s.pid)
        with pytest.warns(RuntimeRestartWarning, match="SIGKILL"):
            assert np.array_equal(s.predict(X), ref)  # now on a small heap
        assert s.restarts == 1
        big = np.repeat(X, BIG_BATCH[lang] // len(X), axis=0)
        t = time.perf_counter()
        with pytest.warns(RuntimeRestartWarning, match=OUT_OF_MEMORY[lang]):
            with pytest.raises(RuntimeFailedError) as e:
                s.predict(big)
        took = time.perf_counter() - t
        assert took < 30, took
        msg = str(e.value)
        assert msg.startswith(f"The {'java' if lang == 'java' else 'node'} process stopped "
                              f"answering: it (pid ")
        assert "restarted once and the request retried, but the fresh process" in msg
        assert len(re.findall(OUT_OF_MEMORY[lang], msg)) == 2, msg
        assert s.restarts == 2 and s.pid is None and len(s.faults) == 3
        assert not _new_children(baseline)  # the failed engine is gone, not a zombie
        assert np.array_equal(s.predict(X), ref)  # a fresh process for the next request
        assert s.restarts == 3
    finally:
        s.close()


@pytest.mark.parametrize("lang", LANGS)
def test_when_every_start_fails_the_error_comes_after_exactly_one_restart(artifacts, lang,
                                                                         baseline):
    s = portable.load(artifacts[lang])
    X = rows(MODEL[lang], "random")
    s.predict(X)
    first = s.pid
    # From now on the command exits at once: a missing main class / script.
    if lang == "java":
        s.argv[-1] = "portable_model.NoSuchServer"
        said = r"Could not find or load main class portable_model\.NoSuchServer"
    else:
        s.argv[-1] = "no-such-server.js"
        said = r"Cannot find module '.*no-such-server\.js'"
    _kill9(first)
    t = time.perf_counter()
    with pytest.warns(RuntimeRestartWarning) as caught:
        with pytest.raises(RuntimeFailedError, match=said) as e:
            s.predict(X)
    took = time.perf_counter() - t
    assert len(caught) == 1 and s.restarts == 1
    msg = str(e.value)
    assert f"it (pid {first}) was killed by signal 9 (SIGKILL); it was restarted once" in msg
    assert "the fresh process (pid " in msg and ") exited with code 1 (stderr: " in msg
    assert took < 15, took
    assert s.pid is None and not _new_children(baseline)
    assert isinstance(e.value, RuntimeUnavailableError)  # callers' existing handling holds
    s.close()
    with pytest.raises(RuntimeUnavailableError, match="closed"):
        s.predict(X)
    assert s.restarts == 1  # a closed session starts nothing


@pytest.mark.parametrize("lang", LANGS)
def test_when_every_start_hangs_the_error_comes_after_two_timeouts(artifacts, lang, tmp_path,
                                                                   baseline):
    s = _load(artifacts[lang], lang, timeout=1)
    X = rows(MODEL[lang], "random")
    s.predict(X)
    if lang == "java":  # a real JVM that never answers
        (tmp_path / "Hang.java").write_text(
            "class Hang { public static void main(String[] a) throws Exception "
            "{ Thread.sleep(600_000); } }\n")
        s.argv = ["java", str(tmp_path / "Hang.java")]
    else:
        s.argv = ["node", "-e", "setInterval(() => {}, 1 << 30)"]
    hung = s.pid
    _freeze(hung)
    t = time.perf_counter()
    with pytest.warns(RuntimeRestartWarning, match=r"gave no answer within 1 s"):
        with pytest.raises(RuntimeFailedError) as e:
            s.predict(X)
    took = time.perf_counter() - t
    msg = str(e.value)
    assert msg.count("gave no answer within 1 s (hung), and was killed") == 2, msg
    assert "it was restarted once" in msg
    assert 2.0 <= took < 2.0 + 15, took
    assert s.restarts == 1 and s.pid is None and not _alive(hung)
    assert not _new_children(baseline)
    s.close()


@pytest.mark.parametrize("lang", LANGS)
def test_close_from_another_thread_ends_a_request_stuck_on_a_hung_engine(artifacts, lang):
    s = _load(artifacts[lang], lang, timeout=60)
    X = rows(MODEL[lang], "random")
    s.predict(X)
    pid = s.pid
    _freeze(pid)
    seen = {}

    def ask():
        t = time.perf_counter()
        try:
            s.predict(X)
        except Exception as e:  # noqa: BLE001 - the test inspects it
            seen["error"] = e
        seen["took"] = time.perf_counter() - t

    th = threading.Thread(target=ask)
    th.start()
    time.sleep(0.5)
    s.close()
    th.join(20)
    assert not th.is_alive()
    assert isinstance(seen["error"], RuntimeUnavailableError)
    assert "closed" in str(seen["error"]) and seen["took"] < 10
    assert s.restarts == 0 and not _alive(pid)


def test_the_timeout_comes_from_the_option_then_the_environment_then_120(artifacts,
                                                                          monkeypatch,
                                                                          baseline):
    monkeypatch.delenv("PORTABLE_RUNTIME_TIMEOUT", raising=False)
    s = portable.load(artifacts["javascript"])
    assert s.timeout == 120.0
    s.close()
    monkeypatch.setenv("PORTABLE_RUNTIME_TIMEOUT", "7.5")
    s = portable.load(artifacts["javascript"])
    assert s.timeout == 7.5
    s.close()
    s = _load(artifacts["javascript"], "javascript", timeout=2)  # the option wins
    assert s.timeout == 2.0
    s.close()
    for bad in ("soon", "0", "-3", "nan", "inf"):
        monkeypatch.setenv("PORTABLE_RUNTIME_TIMEOUT", bad)
        with pytest.raises(InputError, match=f"PORTABLE_RUNTIME_TIMEOUT={bad!r} is not a "
                                             f"valid engine timeout"):
            portable.load(artifacts["javascript"])
    assert not _new_children(baseline)  # refused before any process started
    for bad in (0, -1.0, float("nan"), "5", True):
        with pytest.raises(InputError, match="timeout=.* is not a valid engine timeout"):
            RUNTIMES.get("node")(timeout=bad)


@pytest.mark.parametrize("lang", LANGS)
def test_no_engine_process_outlives_a_python_killed_with_sigkill(artifacts, lang):
    """Python killed at once (no atexit, no finalizer): the engine sees its stdin close and
    exits by itself."""
    code = ("import sys, portable; s = portable.load(sys.argv[1]); "
            "print(s.pid, flush=True); sys.stdin.read()")
    proc = subprocess.Popen([sys.executable, "-c", code, str(artifacts[lang])],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        pid = int(proc.stdout.readline())
        assert _alive(pid) and psutil.Process(pid).ppid() == proc.pid
    finally:
        proc.kill()
        proc.wait(30)
        proc.stdin.close()
        proc.stdout.close()
    deadline = time.monotonic() + 20
    while _alive(pid):
        assert time.monotonic() < deadline, f"the {lang} engine outlived its Python"
        time.sleep(0.05)
