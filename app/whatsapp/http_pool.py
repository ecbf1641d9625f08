"""Pooled httpx clients per Graph API base URL, shared by every device's provider.

Clients are kept per event loop because an httpx connection pool cannot outlive the loop it was
opened on (tests run one loop per test; the app and its worker share one).

One base URL gets up to ``SHARDS`` small clients rather than one big one: httpcore's pool walks
all of its connections (a readability check on each idle one) whenever a request is added or
removed, and closes idle ones whenever it holds more connections than its keep-alive limit.
With hundreds of sends in flight (a campaign at 1,000 messages a second, Meta answering in a
few hundred milliseconds) one pool of 200 spent most of a worker's CPU on that bookkeeping and
reopened connections all the time. A request leases the first client with a free connection,
so a quiet process keeps using one warm client and a busy one spreads over several.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Iterator

import httpx

TIMEOUT = httpx.Timeout(connect=5.0, read=15.0, write=15.0, pool=5.0)
SHARDS = 64
CONNECTIONS_PER_SHARD = 4  # 256 connections in all
LIMITS = httpx.Limits(
    max_connections=CONNECTIONS_PER_SHARD,
    max_keepalive_connections=CONNECTIONS_PER_SHARD,
    keepalive_expiry=30.0,
)


class _Shards:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.clients: list[httpx.AsyncClient] = []
        self.busy: list[int] = []  # requests in flight, per client

    def _pick(self) -> int:
        for index, busy in enumerate(self.busy):
            if busy < CONNECTIONS_PER_SHARD:
                return index
        if len(self.clients) < SHARDS:
            self.clients.append(self._new())
            self.busy.append(0)
            return len(self.clients) - 1
        return min(range(len(self.busy)), key=self.busy.__getitem__)

    @contextlib.contextmanager
    def lease(self) -> Iterator[httpx.AsyncClient]:
        index = self._pick()
        if self.clients[index].is_closed:
            self.clients[index] = self._new()
        self.busy[index] += 1
        try:
            yield self.clients[index]
        finally:
            self.busy[index] -= 1

    def _new(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, timeout=TIMEOUT, limits=LIMITS)


_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Shards]] = (
    weakref.WeakKeyDictionary()
)


def _shards(base_url: str) -> _Shards:
    per_loop = _clients.setdefault(asyncio.get_running_loop(), {})
    shards = per_loop.get(base_url)
    if shards is None:
        shards = per_loop[base_url] = _Shards(base_url)
    return shards


def leased_client(base_url: str) -> contextlib.AbstractContextManager[httpx.AsyncClient]:
    """A pooled client for ``base_url`` on the running loop, for one request: the first one
    with a free connection (created on first use)."""
    return _shards(base_url).lease()


async def close_shared_clients() -> None:
    """Close this loop's clients; call from the app lifespan / worker shutdown."""
    per_loop = _clients.pop(asyncio.get_running_loop(), {})
    for shards in per_loop.values():
        for client in shards.clients:
            await client.aclose()
