"""A subscription whose events come faster than it handles them (its pub/sub queue overflows)
ends with a typed SUBSCRIBER_TOO_SLOW error, not INTERNAL_SERVER_ERROR; the socket and its
other subscriptions go on, and `inboxEvents(after:)` resumes from the last cursor with nothing
lost (found by bench/pipeline.py: shared `inboxEvents` executions ended untyped)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.platform.events import INBOX, MESSAGES, channel
from app.platform.ids import from_global_id
from tests.live.support import METRICS_TOKEN, Socket
from tests.support.client import Api
from tests.support.messaging import member, sandbox_device, simulate, unique_phone
from tests.support.server import RunningServer, make_settings, run_server

INBOX_EVENTS = """
subscription($after: String) {
  inboxEvents(after: $after) { cursor kind message { id body } }
}
"""
SHARED_INBOX_EVENTS = "subscription { inboxEvents { cursor kind message { id } } }"
MESSAGE_EVENTS = "subscription { messageEvents { kind message { id status } } }"
HEAD = "{ inboxChanges(first: 0) { headCursor } }"


@pytest.fixture(scope="module")
async def tiny_queue_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[RunningServer]:
    settings = make_settings(
        tmp_path_factory.mktemp("fell-behind"),
        pubsub_queue_events=4,
        metrics_token=METRICS_TOKEN,
    )
    async with run_server(settings) as running:
        yield running


async def _ends(socket: Socket, operations: set[str]) -> dict[str, list[dict[str, Any]]]:
    """Each of ``operations``' errors, once every one of them is complete."""
    errors: dict[str, list[dict[str, Any]]] = {operation: [] for operation in operations}
    open_ = set(operations)
    while open_:
        frame = await socket.receive(timeout=30)
        operation = frame.get("id")
        assert operation in operations, frame
        if frame["type"] == "next":
            errors[operation].extend(frame["payload"].get("errors") or ())
        else:
            assert frame["type"] == "complete", frame
            open_.discard(operation)
    return errors


async def test_a_subscription_that_falls_behind_ends_with_a_typed_error_and_resumes(
    tiny_queue_server: RunningServer,
) -> None:
    server = tiny_queue_server
    owner = await member(server, Api(server.graphql_url))
    device_id = await sandbox_device(owner)
    message = await simulate(owner, device_id, unique_phone(), "before")
    head = (await owner.api.data(HEAD))["inboxChanges"]["headCursor"]

    first = await Socket.open(server, owner.token)
    second = await Socket.open(server, owner.token)
    # Shared executions (two members of one group), and a private one (`after:`).
    await first.subscribe("inbox", SHARED_INBOX_EVENTS)
    await second.subscribe("inbox", SHARED_INBOX_EVENTS)
    await first.subscribe("messages", MESSAGE_EVENTS)
    await first.subscribe("private", INBOX_EVENTS, {"after": head})
    broker = server.runtime.broker
    inbox_channel = channel(owner.organization_id, INBOX)
    messages_channel = channel(owner.organization_id, MESSAGES)
    for _ in range(500):
        members = [len(broker._subscribers.get(c, ())) for c in (inbox_channel, messages_channel)]
        if members == [2, 1]:  # one shared group, the private one; the messages group
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError(f"not subscribed: {members}")

    # Far more announcements and events at once than a queue of 4 holds while they execute.
    status = {
        "kind": "STATUS_CHANGED",
        "organization_id": owner.organization_id,
        "message_id": int(from_global_id(message["id"])[1]),
        "conversation_id": int(from_global_id(message["conversation"]["id"])[1]),
        "device_id": int(from_global_id(device_id)[1]),
    }
    announcement = {"kind": "CHANGED", "organization_id": owner.organization_id, "seq": 10**12}
    await broker.publish_many(
        [(inbox_channel, announcement) for _ in range(300)]
        + [(messages_channel, status) for _ in range(300)]
    )

    ended = {
        **{
            f"first {k}": v
            for k, v in (await _ends(first, {"inbox", "messages", "private"})).items()
        },
        "second inbox": (await _ends(second, {"inbox"}))["inbox"],
    }
    # Each ends with one error saying what happened and what to do: a `next` frame with
    # `errors`, then `complete` (as a subscription that lost its events to a Redis restart).
    for key, errors in ended.items():
        assert [e["extensions"]["code"] for e in errors] == ["SUBSCRIBER_TOO_SLOW"], (key, errors)
        assert "after" in errors[0]["message"], errors

    # The socket is still open: resubscribing from the last cursor misses nothing.
    later = await simulate(owner, device_id, unique_phone(), "while away")
    await first.subscribe("resumed", INBOX_EVENTS, {"after": head})
    seen: list[str] = []
    while later["id"] not in seen:
        frame = await first.receive(timeout=30)
        assert frame["id"] == "resumed" and frame["type"] == "next", frame
        event = frame["payload"]["data"]["inboxEvents"]
        if event["message"] is not None:
            seen.append(event["message"]["id"])
    assert message["id"] not in seen  # before the cursor
    await first.close()
    await second.close()
