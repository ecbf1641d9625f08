"""One pooled httpx client per Graph API base URL, shared by every device's provider.

Clients are kept per event loop because a connection cannot outlive the loop it was opened on
(tests run one loop per test; the app and its worker share one). Their transport is
``GraphTransport`` (app/whatsapp/transport.py): a campaign keeps hundreds of sends in flight,
and httpx's default pool spent most of a worker's CPU on its own bookkeeping at that size.
"""

from __future__ import annotations

import asyncio
import weakref

import httpx

from app.whatsapp.transport import GraphTransport

TIMEOUT = httpx.Timeout(connect=5.0, read=15.0, write=15.0, pool=5.0)
# Requests in flight to one base URL at most; more wait up to TIMEOUT.pool for a connection.
MAX_CONNECTIONS = 256
KEEPALIVE_SECONDS = 30.0

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, httpx.AsyncClient]] = (
    weakref.WeakKeyDictionary()
)


def pooled_client(base_url: str) -> httpx.AsyncClient:
    """The running loop's client for ``base_url`` (created on first use, again after a close)."""
    per_loop = _clients.setdefault(asyncio.get_running_loop(), {})
    client = per_loop.get(base_url)
    if client is None or client.is_closed:
        client = per_loop[base_url] = httpx.AsyncClient(
            base_url=base_url,
            timeout=TIMEOUT,
            transport=GraphTransport(
                max_connections=MAX_CONNECTIONS, keepalive_expiry=KEEPALIVE_SECONDS
            ),
        )
    return client


async def close_shared_clients() -> None:
    """Close this loop's clients; called when the app or a worker shuts down."""
    for client in _clients.pop(asyncio.get_running_loop(), {}).values():
        await client.aclose()
