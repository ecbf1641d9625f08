"""Which browser origins may use the API: CORS for HTTP, the `Origin` check for WebSockets.

Browsers apply CORS to HTTP requests only: a WebSocket upgrade is never preflighted, so the
server itself refuses one whose `Origin` it does not allow, before accepting it. Clients that
are not browsers (mobile apps, scripts, other servers) send no `Origin` and are let through:
their token decides, as on HTTP.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from app.platform.config import Settings

# The headers Parley's clients send: credentials travel in `Authorization`, never a cookie.
# The Apollo ones come with Apollo Client's GET requests (APQ) and its client awareness.
CLIENT_HEADERS = (
    "authorization",
    "content-type",
    "x-organization-id",
    "x-request-id",
    "apollo-require-preflight",
    "x-apollo-operation-name",
    "apollographql-client-name",
    "apollographql-client-version",
)
EXPOSED_HEADERS = ("retry-after", "x-request-id")
# Chromium caps a preflight's cache at 2 hours (Firefox at 24): one preflight per origin and
# request shape every 2 hours rather than one per request.
PREFLIGHT_MAX_AGE = 7200


class AllowedOrigins:
    def __init__(self, settings: Settings) -> None:
        self.exact = frozenset(settings.cors_origins or ())
        pattern = settings.cors_origin_pattern
        self.pattern = re.compile(pattern) if pattern is not None else None

    def allows(self, origin: str) -> bool:
        return origin in self.exact or (
            self.pattern is not None and self.pattern.fullmatch(origin) is not None
        )

    def cors_options(self) -> dict[str, Any]:
        """Keyword arguments of Starlette's CORSMiddleware."""
        return {
            "allow_origins": sorted(self.exact),
            "allow_origin_regex": self.pattern.pattern if self.pattern is not None else None,
            "allow_methods": ("GET", "POST"),
            "allow_headers": CLIENT_HEADERS,
            "expose_headers": EXPOSED_HEADERS,
            "max_age": PREFLIGHT_MAX_AGE,
        }


class WebSocketOriginMiddleware:
    """Denies (HTTP 403, before accept) a WebSocket upgrade from a browser page on an origin
    that is neither allowed nor the server's own."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.origins = AllowedOrigins(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None or self.origins.allows(origin) or _same_host(origin, headers):
            await self.app(scope, receive, send)
            return
        message = await receive()
        if message["type"] == "websocket.connect":
            # Closing before accepting is answered with 403 by the server.
            await send({"type": "websocket.close", "code": 1008, "reason": "Origin not allowed"})


def _same_host(origin: str, headers: Headers) -> bool:
    # A page served by this API itself (GraphiQL): its origin names the host it connects to.
    # Scheme aside, since a TLS proxy in front turns wss into ws.
    host = headers.get("host")
    return host is not None and origin.partition("://")[2] == host
