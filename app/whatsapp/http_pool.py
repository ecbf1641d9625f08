"""One pooled httpx client per Graph API base URL, shared by every device's provider.

Clients are kept per event loop because an httpx connection pool cannot outlive the loop it was
opened on (tests run one loop per test; the app and its worker share one).
"""

from __future__ import annotations

import asyncio
import weakref

import httpx

TIMEOUT = httpx.Timeout(connect=5.0, read=15.0, write=15.0, pool=5.0)
LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=50, keepalive_expiry=30.0)

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, httpx.AsyncClient]] = (
    weakref.WeakKeyDictionary()
)


def shared_client(base_url: str) -> httpx.AsyncClient:
    """The pooled client for ``base_url`` on the running loop (created on first use)."""
    per_loop = _clients.setdefault(asyncio.get_running_loop(), {})
    client = per_loop.get(base_url)
    if client is None or client.is_closed:
        client = httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT, limits=LIMITS)
        per_loop[base_url] = client
    return client


async def close_shared_clients() -> None:
    """Close this loop's clients; call from the app lifespan / worker shutdown."""
    per_loop = _clients.pop(asyncio.get_running_loop(), {})
    for client in per_loop.values():
        await client.aclose()
