"""Keep-alive pings, idle and unauthenticated sockets closed, /metrics access (issue 8)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.live.support import METRICS_TOKEN, Socket, metrics
from tests.support.client import Api
from tests.support.messaging import member
from tests.support.server import RunningServer


async def test_a_socket_that_never_sends_connection_init_is_closed_with_4408(
    live_server: RunningServer,
) -> None:
    socket = await Socket.open(live_server, None, init=False)
    with pytest.raises(ConnectionClosed):
        await socket.receive(timeout=5)
    assert socket.connection.close_code == 4408


async def test_the_server_pings_and_closes_a_client_that_never_answers(
    live_server: RunningServer,
) -> None:
    owner = await member(live_server, Api(live_server.graphql_url))
    silent = await Socket.open(live_server, owner.token)
    answering = await Socket.open(live_server, owner.token)
    await silent.subscribe("1", "subscription { messageEvents { kind } }")
    await answering.subscribe("1", "subscription { messageEvents { kind } }")
    before = await metrics(live_server)

    async def answer_pings() -> None:
        # Answers each ping for 7 s; nothing else comes.
        with pytest.raises(TimeoutError):
            await answering.receive(timeout=7.0)

    pings = 0
    answering_task = asyncio.create_task(answer_pings())
    with pytest.raises(ConnectionClosed):
        while True:  # reads, but never answers a ping
            message = await asyncio.wait_for(silent.connection.recv(), 8)
            pings += '"ping"' in str(message)
    await answering_task

    assert pings >= 2
    assert silent.connection.close_code == 4498
    assert "Idle timeout" in (silent.connection.close_reason or "")
    after = await metrics(live_server)
    assert after["parley_ws_idle_closed_total"] - before["parley_ws_idle_closed_total"] == 1
    # The client that answered is still there, subscribed.
    assert answering.connection.close_code is None
    await answering.subscribe("2", "subscription { messageEvents { kind } }")
    await answering.close()


async def test_metrics_are_for_the_token_holder_or_loopback_only(
    live_server: RunningServer, server: RunningServer
) -> None:
    async with httpx.AsyncClient() as client:
        refused = await client.get(f"{live_server.url}/metrics")
        wrong = await client.get(
            f"{live_server.url}/metrics", headers={"Authorization": "Bearer nope"}
        )
        allowed = await client.get(
            f"{live_server.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
        )
        # Without a token (the session server): loopback reads, a forwarded client does not.
        loopback = await client.get(f"{server.url}/metrics")
        remote = await client.get(
            f"{server.url}/metrics", headers={"X-Forwarded-For": "203.0.113.9"}
        )
    assert (refused.status_code, wrong.status_code, allowed.status_code) == (403, 403, 200)
    assert "parley_ws_connections" in allowed.text
    assert (loopback.status_code, remote.status_code) == (200, 403)
