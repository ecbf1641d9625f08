"""A slow consumer is cut off without slowing the others; a client that reconnects with
`messageEvents(after:)` gets every message it missed exactly once, in order (issue 8)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from app.platform.events import MESSAGES, channel
from app.platform.ids import from_global_id
from tests.live.support import Socket, metrics
from tests.support.client import Api
from tests.support.messaging import (
    eventually,
    member,
    sandbox_device,
    simulate,
    unique_phone,
    wait_for_subscribers,
)
from tests.support.server import RunningServer

# About 32 KB a frame: the socket buffers of a client that reads nothing fill in a few seconds.
BODIES = (
    "subscription { messageEvents { kind message { id "
    + " ".join(f"b{i}: body" for i in range(8))
    + " } } }"
)


async def _read_next(socket: Socket, count: int) -> list[dict[str, Any]]:
    frames = []
    while len(frames) < count:
        message = await socket.receive(timeout=30)
        assert message["type"] == "next", message
        frames.append(message["payload"]["data"]["messageEvents"])
    return frames


async def test_a_consumer_that_reads_nothing_is_closed_and_the_others_get_everything(
    live_server: RunningServer,
) -> None:
    owner = await member(live_server, Api(live_server.graphql_url))
    device_id = await sandbox_device(owner)
    message = await simulate(owner, device_id, unique_phone(), "x" * 4000)
    fast = [await Socket.open(live_server, owner.token) for _ in range(10)]
    slow = await Socket.open(live_server, owner.token, receive_buffer=4096, max_queue=1)
    before = await metrics(live_server)
    for socket in [*fast, slow]:
        await socket.subscribe("1", BODIES)
    # All eleven in one group; the slow one stops reading from here on.
    for _ in range(200):
        if (await metrics(live_server))["parley_ws_subscriptions"] >= (
            before["parley_ws_subscriptions"] + 11
        ):
            break
        await asyncio.sleep(0.02)

    received: list[list[dict[str, Any]]] = [[] for _ in fast]

    async def read(socket: Socket, into: list[dict[str, Any]]) -> None:
        while True:
            into.extend(await _read_next(socket, 1))

    readers = [asyncio.create_task(read(s, into)) for s, into in zip(fast, received, strict=True)]
    event = {
        "kind": "STATUS_CHANGED",
        "organization_id": owner.organization_id,
        "message_id": int(from_global_id(message["id"])[1]),
        "conversation_id": int(from_global_id(message["conversation"]["id"])[1]),
        "device_id": int(from_global_id(device_id)[1]),
    }
    drops_before = before["parley_ws_slow_consumers_dropped_total"]
    published = 0
    # Until the slow one's socket buffers are full and it falls too far behind (a few MB).
    while published < 5000:
        for _ in range(10):
            await live_server.runtime.broker.publish(
                channel(owner.organization_id, MESSAGES), event
            )
        published += 10
        await asyncio.sleep(0.1)
        if (await metrics(live_server))["parley_ws_slow_consumers_dropped_total"] > drops_before:
            break
    for _ in range(50):  # and the others keep receiving
        await live_server.runtime.broker.publish(channel(owner.organization_id, MESSAGES), event)
        await asyncio.sleep(0.01)
    published += 50
    deadline = asyncio.get_running_loop().time() + 60
    while any(len(frames) < published for frames in received):
        assert asyncio.get_running_loop().time() < deadline, [len(f) for f in received]
        await asyncio.sleep(0.05)
    for reader in readers:
        reader.cancel()

    assert all(len(frames) == published for frames in received)
    assert all(f["message"]["b7"] == "x" * 4000 for frames in received for f in frames)
    after = await metrics(live_server)
    assert after["parley_ws_slow_consumers_dropped_total"] - drops_before == 1
    assert after["parley_ws_subscriptions"] - before["parley_ws_subscriptions"] == 10
    # When it reads at last, it finds what the socket held, then the reason it was closed.
    with pytest.raises(ConnectionClosed):
        while True:
            await slow.receive(timeout=15)
    assert slow.connection.close_code == 4499
    assert "Too slow" in (slow.connection.close_reason or "")
    for socket in fast:
        await socket.close()


RESUMABLE = """
subscription($conversationId: ID, $after: String) {
  messageEvents(conversationId: $conversationId, after: $after) { kind cursor message { id } }
}
"""


async def test_a_client_killed_mid_stream_resumes_with_after_and_misses_nothing(
    live_server: RunningServer,
) -> None:
    owner = await member(live_server, Api(live_server.graphql_url))
    device_id = await sandbox_device(owner)
    customer = unique_phone()
    first = await simulate(owner, device_id, customer, "message 0")
    conversation_id = first["conversation"]["id"]
    produced: list[str] = []  # after the subscription started
    total = 30

    async def produce() -> None:
        for i in range(1, total + 1):
            produced.append((await simulate(owner, device_id, customer, f"message {i}"))["id"])
            await asyncio.sleep(0.03)

    client = await Socket.open(live_server, owner.token)
    await client.subscribe("1", RESUMABLE, {"conversationId": conversation_id})
    await wait_for_subscribers(live_server, channel(owner.organization_id, MESSAGES))
    producer = asyncio.create_task(produce())
    seen: list[str] = []
    cursor = None
    while len(seen) < 5:
        event = (await _read_next(client, 1))[0]
        if event["kind"] == "CREATED":
            seen.append(event["message"]["id"])
            cursor = event["cursor"]
    # Killed: no close handshake, the server finds out on its own.
    client.connection.transport.abort()
    killed_at = len(produced)

    async def more_created() -> bool:
        return len(produced) >= killed_at + 5 or producer.done()

    await eventually(more_created)  # more messages are created meanwhile

    resumed = await Socket.open(live_server, owner.token)
    await resumed.subscribe("1", RESUMABLE, {"conversationId": conversation_id, "after": cursor})
    missed: list[str] = []
    # Read while the producer goes on (reading answers the server's pings).
    while len(seen) + len(missed) < total:
        event = (await _read_next(resumed, 1))[0]
        if event["kind"] == "CREATED":
            missed.append(event["message"]["id"])
    await producer
    # Nothing more: no duplicate comes after the last one.
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(1.5):
            while True:
                event = (await _read_next(resumed, 1))[0]
                assert event["kind"] != "CREATED", event
    assert seen + missed == produced
    await resumed.close()


async def test_a_bad_after_cursor_is_a_typed_error(live_server: RunningServer) -> None:
    owner = await member(live_server, Api(live_server.graphql_url))
    client = await Socket.open(live_server, owner.token)
    await client.subscribe("1", RESUMABLE, {"after": "not-a-cursor"})
    message = await client.receive()
    assert message["type"] in ("next", "error"), message
    errors = message["payload"]["errors"] if message["type"] == "next" else message["payload"]
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    await client.close()
