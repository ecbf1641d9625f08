"""Request-level limits on /graphql, checked before the body is read or parsed.

A moving window per caller in Redis (the ``limits`` library, shared by every process): per
user when the request carries a valid access token (its ``sub``, no database lookup), per API
key when it carries one, per client ip otherwise. A refused request gets HTTP 429 with ``Retry-After`` and a GraphQL error
body (RATE_LIMITED, ``retryAfter``). A bad token counts against the ip: it is refused later
anyway, and must not buy a fresh window.
"""

from __future__ import annotations

import math
import time

import orjson
import structlog
from limits import RateLimitItem, parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from starlette.types import ASGIApp, Receive, Scope, Send

from app.http.authentication import bearer_token
from app.integrations.api_keys import hash_secret, is_api_key
from app.platform.config import Settings
from app.platform.errors import AppError, ErrorCode
from app.platform.redis import redis_url
from app.platform.security import InvalidAccessToken, decode_access_token

_PATH = "/graphql"
log = structlog.get_logger("parley.request_limits")


class RequestLimitMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.anonymous = parse(settings.request_limit_anonymous)
        self.user = parse(settings.request_limit_user)
        self.api_key = parse(settings.request_limit_api_key)
        self._limiter: MovingWindowRateLimiter | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != _PATH:
            await self.app(scope, receive, send)
            return
        item, caller = self._limit_for(scope)
        limiter = self._get_limiter()
        try:
            allowed = await limiter.hit(item, "graphql", *caller)
            stats = None if allowed else await limiter.get_window_stats(item, "graphql", *caller)
        except Exception as error:
            # Fail open: the limit protects capacity; an outage of its store must not turn
            # into an outage of the API (/health/ready reports Redis as failing meanwhile).
            log.warning("request_limit_unavailable", error=type(error).__name__)
            stats = None
        if stats is None:
            await self.app(scope, receive, send)
            return
        await _refuse(send, retry_after=max(1, math.ceil(stats.reset_time - time.time())))

    def _limit_for(self, scope: Scope) -> tuple[RateLimitItem, tuple[str, str]]:
        key = self._api_key(scope)
        if key is not None:
            return self.api_key, ("api-key", key)
        user_id = self._user_id(scope)
        if user_id is not None:
            return self.user, ("user", user_id)
        client = scope.get("client")
        return self.anonymous, ("ip", client[0] if client else "unknown")

    def _api_key(self, scope: Scope) -> str | None:
        """An API key's own window, named by the hash of its secret (no database lookup: an
        unknown key only spends a window of its own, and is refused later)."""
        authorization = _header(scope, b"authorization")
        try:
            token = bearer_token(authorization)
        except AppError:
            return None
        if token is None or not is_api_key(token):
            return None
        return hash_secret(token)[:32]

    def _user_id(self, scope: Scope) -> str | None:
        authorization = _header(scope, b"authorization")
        if authorization is None:
            return None
        try:
            token = bearer_token(authorization)
            if token is None:
                return None
            return str(decode_access_token(self.settings, token).user_id)
        except (AppError, InvalidAccessToken):
            return None

    def _get_limiter(self) -> MovingWindowRateLimiter:
        # Built on first use: the embedded Redis only exists once the lifespan started it.
        if self._limiter is None:
            storage = storage_from_string(
                _storage_uri(redis_url(self.settings)),
                implementation="redispy",
                key_prefix="parley-requests",
            )
            self._limiter = MovingWindowRateLimiter(storage)
        return self._limiter


def _storage_uri(url: str) -> str:
    # limits spells a unix socket `redis+unix://`, and its asyncio storages `async+…`.
    if url.startswith("unix://"):
        return "async+redis+unix://" + url[len("unix://") :]
    return "async+" + url


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _refuse(send: Send, *, retry_after: int) -> None:
    body = orjson.dumps(
        {
            "data": None,
            "errors": [
                {
                    "message": "Too many requests; retry later.",
                    "extensions": {
                        "code": ErrorCode.RATE_LIMITED.value,
                        "retryAfter": retry_after,
                    },
                }
            ],
        }
    )
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(retry_after).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
