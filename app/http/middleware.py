"""Pure ASGI middleware: request ids, the access log line, and the body size limit."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("parley.access")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

HTTP_REQUESTS = Counter(
    "parley_http_requests_total", "HTTP requests served.", ["method", "route", "status"]
)
HTTP_DURATION = Histogram(
    "parley_http_request_duration_seconds", "Time to serve an HTTP request.", ["route"]
)


class RequestContextMiddleware:
    """Binds the request id to every log line of the request and writes one access line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            duration = time.perf_counter() - started
            route = _route(scope["path"])
            if scope["type"] == "http":
                HTTP_REQUESTS.labels(scope["method"], route, str(status)).inc()
                HTTP_DURATION.labels(route).observe(duration)
                log.info(
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    duration_ms=round(duration * 1000, 2),
                )
            structlog.contextvars.clear_contextvars()


class BodySizeLimitMiddleware:
    """Refuses bodies larger than the limit with 413 before the app reads them. A multipart
    request (a file upload) to one of ``multipart_paths`` has the larger ``multipart_max_bytes``;
    every other body, a plain GraphQL request among them, keeps ``max_bytes``."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        multipart_max_bytes: int | None = None,
        multipart_paths: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.multipart_max_bytes = multipart_max_bytes or max_bytes
        self.multipart_paths = multipart_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        limit = self.max_bytes
        if scope["path"] in self.multipart_paths and headers.get(
            b"content-type", b""
        ).lower().startswith(b"multipart/form-data"):
            limit = self.multipart_max_bytes
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await _too_large(send)


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Send) -> None:
    body = (
        b'{"errors":[{"message":"Request body too large.","extensions":{"code":"BAD_USER_INPUT"}}]}'
    )
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            return candidate if _REQUEST_ID.match(candidate) else None
    return None


def _route(path: str) -> str:
    # Keep label cardinality bounded: ids in paths collapse to one route.
    if path.startswith("/webhooks/"):
        return "/webhooks"
    if path.startswith("/health"):
        return path if path in ("/health", "/health/live", "/health/ready") else "/health"
    if path.startswith("/media/"):
        return "/media"
    return path if path in ("/graphql", "/metrics") else "other"
