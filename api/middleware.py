"""Pure ASGI middleware that keeps hostile requests from costing memory or leaking a traceback.

Pure ASGI rather than Starlette's BaseHTTPMiddleware: these sit in front of the app and
must see the raw `receive`/`send` channel (to count body bytes before anything parses
them, and to know whether a response has started when something fails).
"""

from __future__ import annotations

import logging

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
"""The largest request body accepted. The biggest legitimate one is a routing table (PUT
/routing): tens of channels and routes fit in a few KiB, so 64 KiB leaves ample room while
a client can no longer make the server hold megabytes (a 5 MB maintenance reason was
accepted before this limit)."""


async def send_problem(scope: Scope, receive: Receive, send: Send, status: int, detail: str) -> None:
    """Answer with the API's JSON problem body, `{"detail": ...}`."""
    await JSONResponse({"detail": detail}, status_code=status)(scope, receive, send)


class BodySizeLimit:
    """413 for a request body larger than `max_bytes`, decided before the app parses any of it.

    A declared Content-Length over the limit is refused without reading the body. Otherwise
    the body is read chunk by chunk, counting, so a chunked upload (no Content-Length, or one
    that lies) is cut off as soon as it passes the limit; the app then gets the buffered body
    (at most `max_bytes`) as one message.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Count, then hand the buffered request to the app."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # http.disconnect: nobody is left to answer
                return
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        pending: list[Message] = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replay() -> Message:
            # The body once, then the real channel (the app may wait for http.disconnect).
            return pending.pop() if pending else await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send_problem(scope, receive, send, 413, f"request body larger than {self.max_bytes} bytes")


def _content_length(scope: Scope) -> int | None:
    """The declared body size; None when absent or unreadable (the counting still applies)."""
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class CatchAll:
    """Any exception a route lets escape becomes a logged 500 with a JSON body, never a traceback.

    The API's own errors (401, 404, 409, 422, ...) are answered further in, by FastAPI's
    exception handlers; what reaches this is a bug, so it is logged with its traceback. If
    the response had already started nothing can be sent any more, and the error goes on to
    the server.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app; turn an escaped exception into a 500."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            log.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            await send_problem(scope, receive, send, 500, "internal error; the server log has the details")
