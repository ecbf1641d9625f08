"""Ordinary sends (sendMessage) against the fake Graph API: never twice, paced like campaigns.

A send whose answer is lost (the fake accepts it, then drops the connection) may have reached
Meta: it is settled from the status webhooks that name it (processed, or stored and not
processed yet) and sent again only when none did within ``send_reconcile_seconds``.
"""

from __future__ import annotations

import time
import uuid

import orjson
import pytest

from app.messaging import pipeline
from app.messaging.callbacks import message_callback
from app.models.messaging import Message, WebhookEvent, WebhookEventStatus
from app.platform.ids import decode_id
from tests.fakes.graph_api import FakeGraphApi, webhook_envelope
from tests.support.client import Api
from tests.support.cloud_api import cloud_device, fake, inbound, status_of
from tests.support.messaging import SEND, Member, eventually, member
from tests.support.server import RunningServer

__all__ = ["fake"]  # the fixture, used by name


async def _send(owner: Member, conversation_id: str, text: str) -> str:
    data = await owner.api.data(SEND, {"input": {"conversationId": conversation_id, "text": text}})
    assert data["sendMessage"]["userErrors"] == []
    message_id: str = data["sendMessage"]["message"]["id"]
    return message_id


async def _rerun_done(server: RunningServer, message_id: str, rerun: int = 1) -> None:
    """Until the send job's ``rerun``-th rerun (after a lost answer) has completed."""
    key = f"send:{decode_id(message_id, 'Message')}:rerun:{rerun}"
    queue = server.runtime.queues["default"]

    async def completed() -> bool:
        job = await queue.job(key)
        return job is not None and job.status == "complete"

    await eventually(completed)


def _refused(fake: FakeGraphApi) -> int:
    return sum(1 for attempt in fake.attempts if attempt.error_code == 130429)


@pytest.fixture
def quick_reconcile(server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(server.settings, "send_reconcile_seconds", 1.5)
    return 1.5


async def test_a_send_whose_answer_was_lost_is_settled_by_its_webhook_and_never_sent_twice(
    server: RunningServer, api: Api, fake: FakeGraphApi, quick_reconcile: float
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    conversation_id = await inbound(owner, fake, device, "16505550201")
    fake.drop_answer_next(to="16505550201")

    message_id = await _send(owner, conversation_id, "Are you there?")

    await status_of(owner, message_id, "READ")
    sends = fake.sends_to("16505550201")
    assert len(fake.unanswered) == 1 and len(sends) == 1
    stored = await Message.get(id=decode_id(message_id, "Message"))
    assert stored.provider_message_id == sends[0].wamid
    # The send job's rerun, after the wait for webhooks, finds it sent.
    await _rerun_done(server, message_id)
    assert len(fake.sends_to("16505550201")) == 1


async def test_a_lost_answer_is_settled_from_a_stored_webhook_not_processed_yet(
    server: RunningServer, api: Api, fake: FakeGraphApi, quick_reconcile: float
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner, statuses=False)
    conversation_id = await inbound(owner, fake, device, "16505550202")
    fake.drop_answer_next(to="16505550202")
    message_id = await _send(owner, conversation_id, "Stored")

    async def answer_lost() -> bool:
        return bool(fake.unanswered)

    await eventually(answer_lost)
    wamid = fake.sends_to("16505550202")[0].wamid
    status = {
        "id": wamid,
        "status": "sent",
        "timestamp": str(int(time.time())),
        "recipient_id": "16505550202",
        "biz_opaque_callback_data": message_callback(decode_id(message_id, "Message")),
    }
    # Stored by the webhook endpoint; its processing job has not run (or died).
    await WebhookEvent.create(
        organization_id=owner.organization_id,
        device_id=decode_id(device.id, "Device"),
        raw_body=orjson.dumps(
            webhook_envelope(device.phone_number_id, {"statuses": [status]})
        ).decode(),
        status=WebhookEventStatus.RECEIVED,
    )

    await status_of(owner, message_id, "SENT")

    assert len(fake.sends_to("16505550202")) == 1
    stored = await Message.get(id=decode_id(message_id, "Message"))
    assert stored.provider_message_id == wamid


async def test_a_lost_answer_no_webhook_mentions_is_sent_again_after_the_wait(
    server: RunningServer, api: Api, fake: FakeGraphApi, quick_reconcile: float
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner, statuses=False)
    conversation_id = await inbound(owner, fake, device, "16505550203")
    fake.drop_answer_next(to="16505550203")

    message_id = await _send(owner, conversation_id, "Again")

    await status_of(owner, message_id, "SENT")
    first, second = fake.sends_to("16505550203")
    assert second.at - first.at >= quick_reconcile
    stored = await Message.get(id=decode_id(message_id, "Message"))
    assert stored.provider_message_id == second.wamid


async def test_a_throughput_refusal_takes_a_later_slot_of_the_device(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner, per_second=4)
    conversation_id = await inbound(owner, fake, device, "16505550204")
    fake.fail_next(130429)
    texts = [f"paced {n}" for n in range(8)]

    ids = [await _send(owner, conversation_id, text) for text in texts]

    for message_id in ids:
        await status_of(owner, message_id, "SENT", "DELIVERED", "READ", within=30)
    # Only the refusal the fake was told to make: the retry went at a slot of the device, not
    # between two slots where it crowds a second and the next send is refused in turn.
    assert _refused(fake) == 1
    assert sorted(s.body["text"]["body"] for s in fake.sends) == texts


async def test_a_backlog_longer_than_the_send_timeout_is_sent_in_turn(
    server: RunningServer,
    api: Api,
    fake: FakeGraphApi,
    monkeypatch: pytest.MonkeyPatch,
    quick_reconcile: float,
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner, per_second=4)
    conversation_id = await inbound(owner, fake, device, "16505550205")
    # 30 sends at four a second take two and a half times the send job's timeout.
    monkeypatch.setattr(pipeline, "SEND_TIMEOUT", 3)
    texts = [f"backlog {n} {uuid.uuid4().hex[:6]}" for n in range(30)]

    ids = [await _send(owner, conversation_id, text) for text in texts]

    for message_id in ids:
        await status_of(owner, message_id, "SENT", "DELIVERED", "READ", within=60)
    assert sorted(s.body["text"]["body"] for s in fake.sends) == sorted(texts)
