"""The legacy graphql-ws protocol (subscriptions-transport-ws; Python gql's default) is
served by app/live like graphql-transport-ws: shared groups, the send queue (4499), the idle
timeout (4498), metrics, and queries answered (issue 16, item 5)."""

from __future__ import annotations

import asyncio

import pytest
from gql import gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport
from graphql import print_ast
from websockets.exceptions import ConnectionClosed

from app.platform.events import MESSAGES, channel
from app.platform.ids import from_global_id
from tests.live.support import Socket, metrics
from tests.support.client import Api
from tests.support.messaging import member, sandbox_device, simulate, unique_phone
from tests.support.server import RunningServer

LEGACY = [WebsocketsTransport.APOLLO_SUBPROTOCOL]  # "graphql-ws"
EVENTS = "subscription { messageEvents { kind message { id body } } }"


async def test_a_query_over_graphql_ws_is_answered(live_server: RunningServer) -> None:
    owner = await member(live_server, Api(live_server.graphql_url))

    async with owner.api.websocket(subprotocols=LEGACY) as session:
        answer = await session.execute(gql("{ __typename }"))
        with pytest.raises(TransportQueryError) as invalid:
            await session.execute(gql("{ noSuchField }"))

    assert answer == {"__typename": "Query"}
    assert invalid.value.errors is not None
    assert invalid.value.errors[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_graphql_ws_and_graphql_transport_ws_subscribers_share_one_execution(
    live_server: RunningServer,
) -> None:
    owner = await member(live_server, Api(live_server.graphql_url))
    device_id = await sandbox_device(owner)
    before = await metrics(live_server)
    received: list[dict[str, object]] = []
    subscribed = asyncio.Event()

    async def listen() -> None:
        async with owner.api.websocket(subprotocols=LEGACY) as session:
            subscribed.set()
            async for event in session.subscribe(gql(EVENTS)):
                received.append(event)
                return

    legacy = asyncio.create_task(listen())
    await subscribed.wait()
    modern = await Socket.open(live_server, owner.token)
    await modern.subscribe("1", print_ast(gql(EVENTS).document))  # the text gql sends
    for _ in range(250):
        now = await metrics(live_server)
        if now["parley_ws_subscriptions"] - before["parley_ws_subscriptions"] == 2:
            break
        await asyncio.sleep(0.02)
    during = await metrics(live_server)

    await simulate(owner, device_id, unique_phone(), "hello from both")
    modern_event = await modern.receive()
    await asyncio.wait_for(legacy, 10)

    assert during["parley_ws_connections"] - before["parley_ws_connections"] == 2
    assert during["parley_ws_subscriptions"] - before["parley_ws_subscriptions"] == 2
    assert during["parley_ws_subscription_groups"] - before["parley_ws_subscription_groups"] == 1
    assert modern_event["type"] == "next"
    assert received == [modern_event["payload"]["data"]]  # type: ignore[index]
    after = await metrics(live_server)
    executed = (
        after["parley_ws_subscription_executions_total"]
        - before["parley_ws_subscription_executions_total"]
    )
    assert executed == 1
    await modern.close()


async def test_a_graphql_ws_client_that_reads_nothing_is_closed_with_4499(
    live_server: RunningServer,
) -> None:
    owner = await member(live_server, Api(live_server.graphql_url))
    device_id = await sandbox_device(owner)
    message = await simulate(owner, device_id, unique_phone(), "x" * 4000)
    slow = await Socket.open(
        live_server, owner.token, protocol="graphql-ws", receive_buffer=4096, max_queue=1
    )
    before = await metrics(live_server)
    # Large frames (ten copies of a 4,000-character body), so its buffers fill within
    # seconds, before it would be closed for not answering pings.
    bodies = " ".join(f"b{n}: body" for n in range(10))
    await slow.subscribe("1", f"subscription {{ messageEvents {{ message {{ {bodies} }} }} }}")
    event = {
        "kind": "STATUS_CHANGED",
        "organization_id": owner.organization_id,
        "message_id": int(from_global_id(message["id"])[1]),
        "conversation_id": int(from_global_id(message["conversation"]["id"])[1]),
        "device_id": int(from_global_id(device_id)[1]),
    }

    dropped = 0.0
    for _ in range(100):  # until its socket buffers are full and it falls too far behind
        for _ in range(10):
            await live_server.runtime.broker.publish(
                channel(owner.organization_id, MESSAGES), event
            )
        await asyncio.sleep(0.1)
        after = await metrics(live_server)
        dropped = (
            after["parley_ws_slow_consumers_dropped_total"]
            - before["parley_ws_slow_consumers_dropped_total"]
        )
        if dropped:
            break

    assert dropped == 1
    with pytest.raises(ConnectionClosed):
        while True:
            await slow.receive(timeout=15)
    assert slow.connection.close_code == 4499


async def test_a_graphql_ws_client_that_stops_answering_websocket_pings_is_closed_with_4498(
    live_server: RunningServer,
) -> None:
    # graphql-ws has no message that answers `ka`: a client shows it is alive with the
    # WebSocket pong to the server's ping. This one stops reading, so it answers no ping.
    owner = await member(live_server, Api(live_server.graphql_url))
    silent = await Socket.open(live_server, owner.token, protocol="graphql-ws", max_queue=1)
    answering = await Socket.open(live_server, owner.token, protocol="graphql-ws")
    await silent.subscribe("1", EVENTS)
    await answering.subscribe("1", EVENTS)
    before = await metrics(live_server)

    with pytest.raises(TimeoutError):  # reads (so it answers pings), nothing else comes
        await answering.receive(timeout=8.0)
    with pytest.raises(ConnectionClosed):
        while True:
            await asyncio.wait_for(silent.connection.recv(), 8)

    assert silent.connection.close_code == 4498
    assert "Idle timeout" in (silent.connection.close_reason or "")
    after = await metrics(live_server)
    assert after["parley_ws_idle_closed_total"] - before["parley_ws_idle_closed_total"] == 1
    assert answering.connection.close_code is None
    await answering.close()
