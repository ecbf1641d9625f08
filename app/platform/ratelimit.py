"""Rate limits on Redis with the ``limits`` library (moving windows, shared by all processes).

    await enforce(settings, settings.rate_limit_login_per_ip, "login", "ip", ip)

Over the limit raises :class:`app.errors.RateLimited` with the seconds until a slot frees up.
"""

from __future__ import annotations

import time

from limits import parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from app.errors import RateLimited
from app.platform.config import Settings
from app.platform.redis import redis_url

_limiters: dict[str, MovingWindowRateLimiter] = {}


def _storage_uri(url: str) -> str:
    if url.startswith("unix://"):
        return "async+redis+unix://" + url[len("unix://") :]
    return "async+" + url


def _limiter(settings: Settings) -> MovingWindowRateLimiter:
    url = redis_url(settings)
    limiter = _limiters.get(url)
    if limiter is None:
        storage = storage_from_string(
            _storage_uri(url), implementation="redispy", key_prefix="parley-rl"
        )
        limiter = _limiters[url] = MovingWindowRateLimiter(storage)
    return limiter


async def enforce(settings: Settings, limit: str, *identifiers: str) -> None:
    """Count one hit against ``limit`` for ``identifiers``; RATE_LIMITED when over it."""
    item = parse(limit)
    limiter = _limiter(settings)
    if await limiter.hit(item, *identifiers):
        return
    stats = await limiter.get_window_stats(item, *identifiers)
    raise RateLimited(retry_after=max(0.0, stats.reset_time - time.time()))
