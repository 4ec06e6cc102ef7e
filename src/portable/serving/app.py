"""The SageMaker inference contract as a plain ASGI application (no web framework).

========================  =============================================================
``GET /ping``             200 with an empty body (the app exists only once the model is
                          loaded, so a worker that answers is a worker that can predict)
``POST /invocations``     the handler's answer; 413 above 6 MiB (read no further), 415
                          for unsupported content types, 406 for unsupported Accept, 400
                          naming the row and column of bad input; 500 only for our bugs,
                          with a reference to the log and never a traceback
``GET /execution-parameters``  what batch transform should send: MaxConcurrentTransforms
                          (= workers), BatchStrategy MULTI_RECORD, MaxPayloadInMB 6
anything else             404 ``{}`` (as the nginx front of AWS's containers)
========================  =============================================================

Small requests are answered on the event loop: a single-row prediction takes tens of
microseconds, less than a hop to a thread. Bodies above ``INLINE_BYTES`` go to a thread so
that ``/ping`` keeps answering (SageMaker gives a ping 2 s) while a 6 MiB batch is scored.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os

from .codecs import JSON, MAX_PAYLOAD_BYTES, error_body

log = logging.getLogger("portable.serving")
INLINE_BYTES = 64 * 1024
SOURCE_ENV = "PORTABLE_SERVE_SOURCE"  # set by portable.serving.server for its workers
FLAVOR_ENV = "PORTABLE_SERVE_FLAVOR"
WORKERS_ENV = "PORTABLE_SERVE_WORKERS"
LOG_LEVEL_ENV = "PORTABLE_SERVE_LOG_LEVEL"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class InvocationsApp:
    """ASGI app around one handler (see :mod:`portable.serving.handlers`)."""

    def __init__(self, handler, *, workers: int = 1, max_payload: int = MAX_PAYLOAD_BYTES):
        self.handler = handler
        self.max_payload = max_payload
        self.execution_parameters = json.dumps({
            "MaxConcurrentTransforms": int(workers), "BatchStrategy": "MULTI_RECORD",
            "MaxPayloadInMB": max_payload // (1024 * 1024)}).encode()

    async def __call__(self, scope, receive, send):
        kind = scope["type"]
        if kind == "lifespan":
            return await self._lifespan(receive, send)
        if kind != "http":
            return
        path, method = scope["path"], scope["method"]
        if path == "/ping":
            if method not in ("GET", "HEAD"):
                return await _send(send, 405, b"", allow=b"GET, HEAD")
            return await _send(send, 200, b"")
        if path == "/execution-parameters":
            if method != "GET":
                return await _send(send, 405, b"", allow=b"GET")
            return await _send(send, 200, self.execution_parameters, JSON)
        if path != "/invocations":
            return await _send(send, 404, b"{}", JSON)
        if method != "POST":
            return await _send(send, 405, error_body(405, "POST a body to /invocations."),
                               JSON, allow=b"POST")
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_payload:
            return await _send(send, 413, self._too_large(int(length)), JSON)
        body = await self._read(receive)
        if body is None:
            return await _send(send, 413, self._too_large(None), JSON)
        ctype = _header(headers, b"content-type")
        accept = _header(headers, b"accept")
        if len(body) <= INLINE_BYTES:
            resp = self.handler.invoke(body, ctype, accept)
        else:
            loop = asyncio.get_running_loop()
            resp = await loop.run_in_executor(None, self.handler.invoke, body, ctype, accept)
        await _send(send, resp.status, resp.body, resp.content_type)

    def _too_large(self, n) -> bytes:
        size = f"{n:,} bytes" if n is not None else "more"
        return error_body(413, f"The body has {size}; an invocation takes at most "
                               f"{self.max_payload:,} bytes (6 MiB). Split it, or use "
                               f"portable transform / SageMaker batch transform.")

    async def _read(self, receive) -> bytes | None:
        """The whole body, or None as soon as it exceeds the limit."""
        chunks, size = [], 0
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return b"".join(chunks)
            chunk = msg.get("body", b"")
            size += len(chunk)
            if size > self.max_payload:
                return None
            chunks.append(chunk)
            if not msg.get("more_body"):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _lifespan(self, receive, send):
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                close = getattr(getattr(self.handler, "session", None), "close", None)
                if close:
                    close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _header(headers: dict, name: bytes) -> str | None:
    v = headers.get(name)
    return v.decode("latin-1") if v is not None else None


async def _send(send, status: int, body: bytes, content_type: str | None = None, *,
                allow: bytes | None = None) -> None:
    headers = [(b"content-length", str(len(body)).encode())]
    if content_type:
        headers.append((b"content-type", content_type.encode()))
    if allow:
        headers.append((b"allow", allow))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def create_app() -> InvocationsApp:
    """Uvicorn factory, called once in every worker process: loads the model named by
    ``PORTABLE_SERVE_SOURCE`` (a folder prepared by the parent process)."""
    from .handlers import open_model_dir

    # A spawned worker starts with bare logging: configure it as the parent did, or the
    # "loaded" line and the details behind an internal error's reference would be lost.
    logging.basicConfig(level=os.environ.get(LOG_LEVEL_ENV, "INFO").upper(), format=LOG_FORMAT)
    handler = open_model_dir(os.environ[SOURCE_ENV], os.environ.get(FLAVOR_ENV) or None)
    log.info("worker %d loaded %s (%s)", os.getpid(), os.environ[SOURCE_ENV], handler.flavor)
    return InvocationsApp(handler, workers=int(os.environ.get(WORKERS_ENV, "1")))
