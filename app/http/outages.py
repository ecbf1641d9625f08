"""A store that is away (Redis restarting) is a 503 with Retry-After, said in one log line.

Without this, every request that needed Redis while it restarted ended as a 500 with a full
traceback: hundreds of identical tracebacks for one restart. Clients (Meta's webhook delivery,
the apps) retry a 503. The first refusal of an outage is logged; later ones are counted and
summed up in the next line, at most one line every ``LOG_EVERY_SECONDS``.
"""

from __future__ import annotations

import time

import structlog
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("parley.outage")

LOG_EVERY_SECONDS = 5.0
UNAVAILABLE = (RedisConnectionError, RedisTimeoutError)


class StoreOutageMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._logged_at = 0.0
        self._unlogged = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except UNAVAILABLE as error:
            if started:
                raise
            self._note(scope["path"], error)
            response = JSONResponse(
                {"errors": [{"message": "Service unavailable, try again shortly."}]},
                status_code=503,
                headers={"Retry-After": "1"},
            )
            await response(scope, receive, send)

    def _note(self, path: str, error: Exception) -> None:
        now = time.monotonic()
        if now - self._logged_at < LOG_EVERY_SECONDS:
            self._unlogged += 1
            return
        log.warning(
            "redis_unavailable",
            path=path,
            error=type(error).__name__,
            refused_since_last_line=self._unlogged,
        )
        self._logged_at, self._unlogged = now, 0
