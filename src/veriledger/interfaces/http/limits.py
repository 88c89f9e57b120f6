"""Request bodies, bounded while they stream.

:class:`BodyLimit` is pure ASGI middleware in front of every route. It counts the bytes
of each request body as the server hands them over, whether the client declared a
``Content-Length`` or sent the body chunked, and answers 413 problem+json as soon as
the count passes the route's limit: the handler's read fails there, nothing past the
limit is ever held, and the answer carries ``Connection: close`` so the server stops
reading the rest instead of draining it. A declared length over the limit is refused
before a byte of the body is read.

The limit is the first of ``routes`` whose path prefix the request's path has (most
specific first), else ``default``: EPCIS capture takes documents up to the file size
that ``OPTIONS /epcis/capture`` announces; consumer writes (``items/verify``,
``items/tap``) and named queries need far less than the default.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from veriledger.core.errors import BadInputError, VeriledgerError
from veriledger.interfaces.http import problems

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyTooLargeError(problems.PayloadTooLargeError):
    """A request body passed its route's limit while it was being read."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit + 1, limit, "body", "bytes or more")
        self.field = "body"
        self.limit = limit


class BodyLimit:
    """ASGI middleware: refuse a request body past its route's limit, as it streams.

    Parameters:
        app: the application behind.
        default: bytes allowed where no route prefix matches.
        routes: ``(path prefix, bytes)``; a prefix matches itself and what lies under it.
    """

    def __init__(self, app: ASGIApp, default: int, routes: Sequence[tuple[str, int]] = ()):
        self.app = app
        self.default = default
        self.routes = sorted(routes, key=lambda r: -len(r[0]))

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.routes:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared == -1:
            await _answer(send, BadInputError("Content-Length: not a number of bytes"))
            return
        if declared is not None and declared > limit:
            await _answer(send, problems.PayloadTooLargeError(declared, limit, "body"))
            return
        received = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise BodyTooLargeError(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLargeError(limit)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # whatever the app makes of the failed read, the answer is 413
            started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not exceeded or started:
                raise
        if exceeded and not started:
            await _answer(send, BodyTooLargeError(limit))


def _content_length(scope: Scope) -> int | None:
    """The declared length; None when there is none, -1 when it is not a number."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            if not text.isascii() or not text.isdigit():
                return -1
            return int(text) if len(text) <= 18 else 10**18  # past any limit either way
    return None


async def _answer(send: Send, error: VeriledgerError) -> None:
    response = problems.error_response(error)
    response.headers["Connection"] = "close"  # do not read (or drain) the rest
    await send(
        {
            "type": "http.response.start",
            "status": response.status_code,
            "headers": response.raw_headers,
        }
    )
    await send({"type": "http.response.body", "body": response.body})


__all__ = ["BodyLimit", "BodyTooLargeError"]
