"""``portable serve``: uvicorn worker processes around :class:`~.app.InvocationsApp`.

Settings follow SageMaker's container environment, each overridable by an argument:

* port: ``SAGEMAKER_BIND_TO_PORT``, else 8080;
* workers: ``SAGEMAKER_MODEL_SERVER_WORKERS``, else the CPU count;
* default response type: ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``, else text/csv.

The parent process resolves and extracts the package once (:func:`.sources.prepare`) and
binds the socket; uvicorn then starts the workers, each of which loads the model before
it accepts a request. With more than one worker, uvicorn's supervisor (>= 0.30) checks them
every half second and replaces one that dies, even by SIGKILL; the others keep answering
meanwhile (``tests/test_server_load.py`` kills one under load). SIGTERM stops accepting,
finishes requests in flight and exits, which is what SageMaker expects in the 30 s before
its SIGKILL.
"""

from __future__ import annotations

import logging
import os
import signal

from ..errors import PortableError, RuntimeUnavailableError

INSTALL = ('portable serve needs uvicorn: pip install "uvicorn==0.54.0" "httptools==0.9.0" '
           '"uvloop==0.23.0" (httptools and uvloop are optional speed-ups).')


class ServerError(PortableError):
    """The server cannot start (bad port or worker count, missing server package)."""


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ServerError(f"{name}={raw!r} is not an integer.") from None
    if value <= 0:
        raise ServerError(f"{name}={raw!r} must be positive.")
    return value


def settings(port: int | None = None, workers: int | None = None) -> tuple[int, int]:
    """``(port, workers)`` from the arguments, else the SageMaker environment, else defaults."""
    port = port if port is not None else _int_env("SAGEMAKER_BIND_TO_PORT", 8080)
    workers = workers if workers is not None else _int_env("SAGEMAKER_MODEL_SERVER_WORKERS",
                                                           os.cpu_count() or 1)
    if not 0 < port < 65536:
        raise ServerError(f"Port {port} is out of range (1-65535).")
    if workers < 1:
        raise ServerError(f"Workers must be at least 1, not {workers}.")
    return port, workers


def serve(source, *, host: str = "127.0.0.1", port: int | None = None,
          workers: int | None = None, log_level: str = "info", access_log: bool = False) -> None:
    """Serve ``source`` (package folder, artifact folder, model.tar.gz or model folder)
    until SIGINT/SIGTERM.

    Examples
    --------
    >>> serve("dist/sagemaker/onnx", port=8080, workers=2)   # doctest: +SKIP
    """
    try:
        import uvicorn
    except ImportError:
        raise RuntimeUnavailableError(INSTALL) from None
    from .app import FLAVOR_ENV, LOG_FORMAT, LOG_LEVEL_ENV, SOURCE_ENV, WORKERS_ENV
    from .handlers import open_model_dir
    from .sources import prepare

    port, workers = settings(port, workers)
    src = prepare(source)
    # Workers inherit these: they load the prepared folder, not the original package.
    os.environ[SOURCE_ENV] = str(src.model_dir)
    os.environ[FLAVOR_ENV] = src.flavor
    os.environ[WORKERS_ENV] = str(workers)
    os.environ[LOG_LEVEL_ENV] = log_level
    logging.basicConfig(level=log_level.upper(), format=LOG_FORMAT)
    if workers > 1 and src.flavor == "native":
        # Compile a C library once here (into the shared cache), not once per worker.
        close = getattr(getattr(src.open(), "session", None), "close", None)
        if close:
            close()
    if workers == 1:
        from .app import InvocationsApp
        # One worker: load here, before the socket is bound, so the first ping succeeds.
        target = InvocationsApp(open_model_dir(src.model_dir, src.flavor), workers=1)
        factory = False
    else:
        target, factory = "portable.serving.app:create_app", True
    logging.getLogger("portable.serving").info(
        "serving %s (%s) on http://%s:%d with %d worker(s)", src.origin, src.flavor, host, port,
        workers)
    # Uvicorn re-raises the SIGTERM it caught once it has shut down; with the default
    # disposition that kills the process before `finally` and atexit run, leaving the
    # extracted package behind. A handler that exits normally lets them run.
    previous = signal.getsignal(signal.SIGTERM)
    if previous in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        uvicorn.run(target, factory=factory, host=host, port=port, workers=workers,
                    log_level=log_level, access_log=access_log, timeout_keep_alive=60,
                    timeout_graceful_shutdown=25, server_header=False, date_header=False,
                    proxy_headers=False)
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
        src.cleanup()


def _exit_on_sigterm(signum, frame):
    raise SystemExit(0)
