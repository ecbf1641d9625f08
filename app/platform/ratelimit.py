"""Rate limits on Redis with the ``limits`` library (shared by all processes).

    await enforce(settings, settings.rate_limit_login_per_ip, "login", "ip", ip)

Over the limit raises :class:`app.platform.errors.RateLimited` with the seconds until a slot frees up.
Limits hit thousands of times a second use :func:`over_fixed_window` instead.
"""

from __future__ import annotations

import functools
import time

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter
from limits.storage import storage_from_string

from app.platform.config import Settings
from app.platform.errors import RateLimited
from app.platform.redis import connection_pool, redis_url

_storages: dict[str, Storage] = {}
_moving: dict[str, MovingWindowRateLimiter] = {}
_fixed: dict[str, FixedWindowRateLimiter] = {}


@functools.cache
def _parse(limit: str) -> RateLimitItem:
    # Settings hold a handful of limit strings; the webhook's is checked on every delivery.
    return parse(limit)


def _storage_uri(url: str) -> str:
    if url.startswith("unix://"):
        return "async+redis+unix://" + url[len("unix://") :]
    return "async+" + url


def _storage(url: str) -> Storage:
    if url not in _storages:
        storage = storage_from_string(
            _storage_uri(url),
            implementation="redispy",
            key_prefix="parley-rl",
            # Not the library's own pool, which refuses the 101st concurrent hit (its options
            # are typed as scalars, though a pool is documented).
            connection_pool=connection_pool(url),  # type: ignore[arg-type]
        )
        assert isinstance(storage, Storage)  # an `async+` URI
        _storages[url] = storage
    return _storages[url]


def _limiter(settings: Settings) -> MovingWindowRateLimiter:
    url = redis_url(settings)
    limiter = _moving.get(url)
    if limiter is None:
        limiter = _moving[url] = MovingWindowRateLimiter(_storage(url))
    return limiter


async def enforce(settings: Settings, limit: str, *identifiers: str) -> None:
    """Count one hit against ``limit`` for ``identifiers``; RATE_LIMITED when over it."""
    item = _parse(limit)
    limiter = _limiter(settings)
    if await limiter.hit(item, *identifiers):
        return
    stats = await limiter.get_window_stats(item, *identifiers)
    raise RateLimited(retry_after=max(0.0, stats.reset_time - time.time()))


async def over_fixed_window(settings: Settings, limit: str, *identifiers: str) -> int | None:
    """Count one hit against ``limit`` in a fixed window: ``None`` within it, else the seconds
    to wait (the window's length, an upper bound). One Redis round trip either way, where a
    moving window keeps an entry per hit: for limits of thousands a second."""
    url = redis_url(settings)
    limiter = _fixed.get(url)
    if limiter is None:
        limiter = _fixed[url] = FixedWindowRateLimiter(_storage(url))
    item = _parse(limit)
    if await limiter.hit(item, *identifiers):
        return None
    return item.get_expiry()
