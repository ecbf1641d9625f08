"""Outbound webhooks through GraphQL, delivered to a real HTTP receiver on loopback."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest
from gql import gql

from app.integrations.signing import verify
from app.models.accounts import User
from tests.integrations.conftest import MovableClock
from tests.integrations.receiver import Receiver
from tests.integrations.support import (
    MESSAGE_EVENTS,
    REDELIVER,
    RESUME,
    WEBHOOK,
    create_webhook,
    deliveries,
)
from tests.support.accounts import mails_to
from tests.support.client import Api
from tests.support.messaging import (
    SEND,
    Member,
    eventually,
    member,
    sandbox_device,
    simulate,
    unique_phone,
    wait_for_subscribers,
)
from tests.support.server import RunningServer


async def _collect(session: Any, into: list[dict[str, Any]], n: int) -> None:
    async for event in session.subscribe(gql(MESSAGE_EVENTS)):
        into.append(event)
        if len(into) >= n:
            return


async def test_an_inbound_message_and_its_replys_statuses_arrive_signed_as_the_websocket_sees_them(
    server: RunningServer, api: Api, receiver: Receiver
) -> None:
    owner = await member(server, api)
    device_id = await sandbox_device(owner)
    webhook_id, secret = await create_webhook(owner, receiver.url)
    seen: list[dict[str, Any]] = []

    async with owner.api.websocket() as session:
        listening = asyncio.create_task(_collect(session, seen, 5))
        await wait_for_subscribers(server, f"org:{owner.organization_id}:messages")
        inbound = await simulate(owner, device_id, unique_phone(), "Where is my order?")
        await owner.api.data(
            SEND, {"input": {"conversationId": inbound["conversation"]["id"], "text": "On its way"}}
        )
        await asyncio.wait_for(listening, timeout=20)
    await eventually(lambda: _count(receiver, 5), within=20)

    received = receiver.in_order()
    assert [r.json["data"] for r in received] == seen
    assert [r.json["event"] for r in received] == [
        "messages.CREATED",
        "messages.CREATED",
        "messages.STATUS_CHANGED",
        "messages.STATUS_CHANGED",
        "messages.STATUS_CHANGED",
    ]
    for request in received:
        assert verify(secret, request.signature, request.body, now=time.time())
        assert not verify(secret, request.signature, request.body + b" ", now=time.time())
        assert not verify(secret, request.signature, request.body, now=time.time() + 301)
        assert request.json["id"] == request.event_id
    listed = await deliveries(owner, webhook_id, "DELIVERED")
    assert {d["id"] for d in listed} == {r.delivery_id for r in received}
    assert all(d["lastStatusCode"] == 200 and d["attempts"] == 1 for d in listed)
    assert all(d["lastResponse"] == "ok" and d["lastLatencyMs"] >= 0 for d in listed)


async def test_a_receiver_failing_three_times_accepts_each_event_once_under_one_delivery_id(
    server: RunningServer, api: Api, receiver: Receiver, moved_clock: MovableClock
) -> None:
    owner = await member(server, api)
    device_id = await sandbox_device(owner)
    webhook_id, _ = await create_webhook(owner, receiver.url)
    receiver.fail_next = 3

    await simulate(owner, device_id, unique_phone(), "Hello")
    for failures in (1, 2, 3):
        await _attempted(owner, webhook_id, failures)
        moved_clock.move(hours=2)  # past any retry delay
    await eventually(lambda: _count(receiver, 1), within=20)

    assert len(receiver.requests) == 4
    assert len({r.delivery_id for r in receiver.requests}) == 1
    assert len({r.body for r in receiver.requests}) == 1
    assert receiver.duplicates == 0
    [delivery] = await deliveries(owner, webhook_id)
    assert (delivery["status"], delivery["attempts"]) == ("DELIVERED", 4)


async def test_a_receiver_down_for_the_whole_window_leaves_the_delivery_dead_until_redelivered(
    server: RunningServer, api: Api, receiver: Receiver, moved_clock: MovableClock, log_lines: Any
) -> None:
    owner = await member(server, api)
    device_id = await sandbox_device(owner)
    webhook_id, _ = await create_webhook(owner, receiver.url)
    receiver.down = True

    await simulate(owner, device_id, unique_phone(), "Hello")
    await _attempted(owner, webhook_id, 1)
    [failed] = await deliveries(owner, webhook_id, "FAILED")
    assert failed["lastStatusCode"] == 500
    assert failed["lastResponse"] == "receiver is failing"
    moved_clock.move(hours=12)
    await _attempted(owner, webhook_id, 2)
    moved_clock.move(hours=13)  # 25 hours after the event: the next failure is the last
    await _attempted(owner, webhook_id, 3)

    [dead] = await deliveries(owner, webhook_id, "DEAD")
    assert dead["id"] == failed["id"]
    # A day of nothing but failures also paused the webhook and told the owners.
    webhook = await owner.api.data(WEBHOOK, {"id": webhook_id})
    assert webhook["node"]["active"] is False
    owner_email = (await User.get(id=owner.user_id)).email
    assert [m["subject"] for m in mails_to(log_lines, owner_email)] == [
        "Parley paused your webhook “CRM”"
    ]
    await asyncio.sleep(1.5)
    assert len(receiver.requests) == 3  # nothing more is tried

    receiver.down = False
    await owner.api.data(RESUME, {"input": {"webhookId": webhook_id}})
    answer = await owner.api.data(REDELIVER, {"input": {"webhookDeliveryId": failed["id"]}})
    assert answer["redeliverWebhookDelivery"]["userErrors"] == []
    await eventually(lambda: _count(receiver, 1), within=20)

    assert receiver.in_order()[0].delivery_id == failed["id"]
    [delivered] = await deliveries(owner, webhook_id, "DELIVERED")
    assert delivered["attempts"] == 4


async def _attempted(who: Member, webhook_id: str, attempts: int) -> None:
    """Until the webhook's delivery has recorded ``attempts`` attempts."""

    async def recorded() -> bool:
        found = await deliveries(who, webhook_id)
        return bool(found) and found[0]["attempts"] >= attempts

    await eventually(recorded, within=20)


async def _count(receiver: Receiver, n: int) -> bool:
    return len(receiver.accepted) >= n


async def _requests(receiver: Receiver, n: int) -> bool:
    return len(receiver.requests) >= n


WEBHOOKS_WITH_DELIVERIES = """
query($status: WebhookDeliveryStatus) {
  webhooks(first: 20) { nodes { id deliveries(first: 5, status: $status) { nodes { eventId } } } }
}
"""


async def test_every_webhooks_deliveries_are_read_in_one_statement(
    server: RunningServer, api: Api, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    owner = await member(server, api)
    device_id = await sandbox_device(owner)
    ids = [(await create_webhook(owner, f"{receiver.url}?n={n}"))[0] for n in range(3)]
    await simulate(owner, device_id, unique_phone(), "to every webhook")
    await eventually(lambda: _accepted_count(receiver, 3))

    async def recorded() -> bool:
        # The receiver answers before the worker records the outcome of its batch.
        data = await owner.api.data(WEBHOOKS_WITH_DELIVERIES, {"status": "DELIVERED"})
        return all(node["deliveries"]["nodes"] for node in data["webhooks"]["nodes"])

    await eventually(recorded)
    caplog.set_level(logging.DEBUG, logger="tortoise.db_client")
    data = await owner.api.data(WEBHOOKS_WITH_DELIVERIES, {"status": "DELIVERED"})
    pending = await owner.api.data(WEBHOOKS_WITH_DELIVERIES, {"status": "PENDING"})

    nodes = data["webhooks"]["nodes"]
    assert [node["id"] for node in nodes] == ids
    assert all(len(node["deliveries"]["nodes"]) == 1 for node in nodes)
    assert len({node["deliveries"]["nodes"][0]["eventId"] for node in nodes}) == 1
    assert all(node["deliveries"]["nodes"] == [] for node in pending["webhooks"]["nodes"])
    # The page loader's statements (the in-process worker reads deliveries of its own meanwhile).
    reads = [
        r
        for r in caplog.records
        if "webhook_deliveries" in r.getMessage()
        and ("LATERAL" in r.getMessage() or "ROW_NUMBER" in r.getMessage())
    ]
    assert len(reads) == 2  # one per query, however many webhooks


async def _accepted_count(receiver: Receiver, n: int) -> bool:
    return len(receiver.accepted) >= n
