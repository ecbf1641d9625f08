"""A store that is away (Redis or PostgreSQL restarting) is a 503 with Retry-After, said in one
log line.

Without this, every request that needed the store while it restarted ended as a 500 with a full
traceback: hundreds of identical tracebacks for one restart. Clients (Meta's webhook delivery,
the apps) retry a 503. The first refusal of an outage is logged; later ones are counted and
summed up in the next line, at most one line every ``LOG_EVERY_SECONDS``.
"""

from __future__ import annotations

import time

import structlog
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.platform.outage_logs import Store, store_away

log = structlog.get_logger("parley.outage")

LOG_EVERY_SECONDS = 5.0


class StoreOutageMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._logged_at: dict[Store, float] = {}
        self._unlogged: dict[Store, int] = {}

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
        except Exception as error:
            away = store_away(error)
            if started or away is None:
                raise
            self._note(scope["path"], *away)
            response = JSONResponse(
                {"errors": [{"message": "Service unavailable, try again shortly."}]},
                status_code=503,
                headers={"Retry-After": "1"},
            )
            await response(scope, receive, send)

    def _note(self, path: str, store: Store, error: BaseException) -> None:
        now = time.monotonic()
        if now - self._logged_at.get(store, 0.0) < LOG_EVERY_SECONDS:
            self._unlogged[store] = self._unlogged.get(store, 0) + 1
            return
        log.warning(
            f"{store}_unavailable",
            path=path,
            error=type(error).__name__,
            refused_since_last_line=self._unlogged.get(store, 0),
        )
        self._logged_at[store], self._unlogged[store] = now, 0
