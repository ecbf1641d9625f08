"""Status webhooks that arrive together are stored and applied together (app.messaging.intake,
app.messaging.status_batches), with the outcome of applying them one by one."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from app.inbox.sync import InboxEventKind
from app.models.inbox_sync import InboxChange
from app.models.messaging import Message, UnmatchedStatus, WebhookEvent
from app.platform.ids import decode_id
from tests.fakes.graph_api import FakeGraphApi, _status, signed, webhook_envelope
from tests.support.client import Api
from tests.support.cloud_api import APP_SECRET, cloud_device, fake, inbound, post, status_of
from tests.support.messaging import SEND, eventually, member
from tests.support.server import RunningServer
from tests.support.sql import all_statements

__all__ = ["fake"]  # the fixture, used by name

CUSTOMER = "16505550177"


async def _sent_messages(owner: Any, fake: FakeGraphApi, device: Any, count: int) -> list[str]:
    """``count`` replies in one conversation, each SENT (the device posts no statuses)."""
    conversation_id = await inbound(owner, fake, device, CUSTOMER)
    ids = []
    for n in range(count):
        reply = await owner.api.data(
            SEND, {"input": {"conversationId": conversation_id, "text": f"Reply {n}"}}
        )
        ids.append(reply["sendMessage"]["message"]["id"])
    for message_id in ids:
        await status_of(owner, message_id, "SENT")
    return ids


def _delivery(phone_number_id: str, status: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    return signed(APP_SECRET, webhook_envelope(phone_number_id, {"statuses": [status]}))


async def _status_changes(pks: list[int]) -> list[int]:
    """The messages of each MESSAGE_STATUS_CHANGED entry of the inbox log, sorted."""
    kind = InboxEventKind.MESSAGE_STATUS_CHANGED.value
    found = await InboxChange.filter(message_id__in=pks, kind=kind).values_list(
        "message_id", flat=True
    )
    return sorted(int(m) for m in found)


async def _processed(device_pk: int, count: int) -> bool:
    return await WebhookEvent.filter(device_id=device_pk, status="PROCESSED").count() == count


async def test_reads_posted_at_once_move_each_message_once_in_few_statements(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner, statuses=False)
    ids = await _sent_messages(owner, fake, device, 12)
    device_pk = decode_id(device.id, "Device")
    pks = [decode_id(i, "Message") for i in ids]
    before = await _status_changes(pks)
    # Meta's read of each message, priced, and each posted twice (as Meta redelivers).
    reads = []
    for send in fake.sends_to(CUSTOMER):
        status = _status(send, "delivered", None) | {"status": "read"}
        reads += [_delivery(device.phone_number_id, status)] * 2

    with all_statements() as statements:
        answers = await asyncio.gather(*(post(device.webhook_url, b, h) for b, h in reads))
        await eventually(lambda: _processed(device_pk, 1 + len(reads)), within=30)

    assert answers == [200] * len(reads)
    messages = await Message.filter(id__in=pks).order_by("id")
    assert [(m.status.value, m.pricing_category, m.billable) for m in messages] == [
        ("READ", "service", False)
    ] * 12
    # One status change each, written down once in the inbox log, though two reads came.
    new = await _status_changes(pks)
    for seen in before:
        new.remove(seen)
    assert new == sorted(pks)
    # One at a time, a status cost about a dozen statements (its delivery's row and job, its
    # message, its inbox entry, its event's row, each in a transaction of its own); stored and
    # applied together, a batch costs about that many in all. (The device each request looks
    # up is the handler's cache, here cold: the device was written a moment ago.)
    applying = [sql for sql in statements if '"devices"' not in sql.split(" WHERE")[0]]
    assert len(applying) < 6 * len(reads), len(applying)


async def test_a_failure_and_an_unknown_id_posted_with_others_take_their_own_way(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner, statuses=False)
    ids = await _sent_messages(owner, fake, device, 3)
    device_pk = decode_id(device.id, "Device")
    first, second, third = fake.sends_to(CUSTOMER)
    unknown = f"wamid.UNKNOWN{uuid.uuid4().hex}"
    deliveries = [
        _delivery(device.phone_number_id, _status(first, "delivered", None)),
        _delivery(device.phone_number_id, _status(second, "failed", 131026)),
        _delivery(device.phone_number_id, _status(third, "read", None)),
        _delivery(
            device.phone_number_id,
            {"id": unknown, "status": "delivered", "timestamp": "1700000000"},
        ),
    ]

    answers = await asyncio.gather(*(post(device.webhook_url, b, h) for b, h in deliveries))
    await eventually(lambda: _processed(device_pk, 1 + len(deliveries)), within=30)

    assert answers == [200] * 4
    statuses = [(await status_of(owner, i, "DELIVERED", "FAILED", "READ")) for i in ids]
    assert [s["status"] for s in statuses] == ["DELIVERED", "FAILED", "READ"]
    failed = await Message.get(id=decode_id(ids[1], "Message"))
    assert failed.error_code == 131026
    assert await UnmatchedStatus.exists(device_id=device_pk, provider_message_id=unknown)


async def test_a_burst_of_more_deliveries_than_redis_connections_is_all_acknowledged(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    """Each delivery takes a Redis connection for its URL's rate limit: a burst of more than
    the 100 a pool holds waits for one rather than being refused 503."""
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner, statuses=False)
    device_pk = decode_id(device.id, "Device")
    burst = [
        _delivery(
            device.phone_number_id,
            {
                "id": f"wamid.{uuid.uuid4().hex}",
                "status": "delivered",
                "timestamp": "1767225600",
                "recipient_id": CUSTOMER,
            },
        )
        for _ in range(250)
    ]

    answers = await asyncio.gather(*(post(device.webhook_url, b, h) for b, h in burst))

    assert answers == [200] * len(burst)
    await eventually(lambda: _processed(device_pk, len(burst)), within=60)
    assert await UnmatchedStatus.filter(device_id=device_pk).count() == len(burst)
