"""Suite-wide rules.

Under CI (``CI`` set), nothing may be skipped: every engine and toolchain the suite needs
must be there, so a skip would only hide a missing feature. Locally a skip is allowed and
says what is missing.
"""

import importlib.util
import os
import shutil

import pytest

IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false")
REQUIRED_MODULES = ("xgboost", "sklearn", "pandas", "onnxruntime", "skl2onnx", "onnxmltools",
                    "jpmml_evaluator", "sklearn2pmml", "titus", "pypmml", "optuna", "skops",
                    "hypothesis")
REQUIRED_TOOLS = ("java", "javac", "gcc", "node", "make")


def pytest_sessionstart(session):
    if not IN_CI:
        return
    missing = [m for m in REQUIRED_MODULES if importlib.util.find_spec(m) is None]
    missing += [t for t in REQUIRED_TOOLS if shutil.which(t) is None]
    if missing:
        pytest.exit(f"CI is missing what the suite needs: {', '.join(missing)}", returncode=1)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if IN_CI and rep.skipped and not hasattr(rep, "wasxfail"):
        rep.outcome = "failed"
        rep.longrepr = f"skipped under CI, which must run everything: {rep.longrepr}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    rep = outcome.get_result()
    if IN_CI and rep.skipped:
        rep.outcome = "failed"
        rep.longrepr = f"module skipped under CI, which must run everything: {rep.longrepr}"


@pytest.fixture(scope="session")
def jpmml():
    """The JPMML runtime; its one JVM (per process) serves the whole test session."""
    from portable.runtimes.jpmml import JpmmlRuntime, backend

    why = JpmmlRuntime.available()
    if why:
        pytest.skip(why)
    backend()
    return JpmmlRuntime
