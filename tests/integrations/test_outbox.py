"""The outbox commits with the change: nothing sent for a rollback, nothing lost after a commit."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from app.messaging import pipeline
from app.models.integrations import OutboxEvent
from app.models.messaging import Message
from app.platform import events
from tests.integrations.receiver import Receiver
from tests.integrations.support import create_webhook
from tests.support.client import Api
from tests.support.messaging import (
    SIMULATE,
    eventually,
    member,
    sandbox_device,
    simulate,
    unique_phone,
)
from tests.support.server import RunningServer

INBOX_CHANGES = """
query { inboxChanges(first: 100) { edges { node { kind message { body } } } } }
"""


async def _simulate_failing(who: Any, device_id: str, sender: str, text: str) -> str:
    result = await who.api.call(
        SIMULATE, {"input": {"deviceId": device_id, "from": sender, "text": text}}
    )
    [error] = result["errors"]
    return str(error["extensions"]["code"])


async def _bodies_logged(who: Any) -> list[str]:
    data = await who.api.data(INBOX_CHANGES)
    return [
        edge["node"]["message"]["body"]
        for edge in data["inboxChanges"]["edges"]
        if edge["node"]["kind"] == "MESSAGE_CREATED"
    ]


async def test_a_change_that_rolls_back_leaves_no_outbox_row_and_sends_nothing(
    server: RunningServer, api: Api, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = await member(server, api)
    device_id = await sandbox_device(owner)
    await create_webhook(owner, receiver.url)
    customer = unique_phone()

    async def fails(*args: Any) -> None:
        raise RuntimeError("the change fails after its message was inserted")

    monkeypatch.setattr(pipeline, "_reopen", fails)
    code = await _simulate_failing(owner, device_id, customer, "rolled back")
    monkeypatch.undo()
    await asyncio.sleep(2.5)  # the sweep (every second) would have found a stranded row

    assert code == "INTERNAL_SERVER_ERROR"
    assert not await Message.exists(body="rolled back")
    assert await OutboxEvent.filter(organization_id=owner.organization_id).count() == 0
    assert receiver.requests == []
    assert "rolled back" not in await _bodies_logged(owner)


async def test_a_committed_change_is_delivered_even_when_its_publish_never_happens(
    server: RunningServer, api: Api, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = await member(server, api)
    device_id = await sandbox_device(owner)
    customer = unique_phone()
    await simulate(owner, device_id, customer, "hello")  # the conversation exists already
    await create_webhook(owner, receiver.url)

    async def redis_away(*args: Any) -> None:
        raise RedisConnectionError("Redis went away right after the commit")

    # Neither the live event nor the dispatch job leaves this process: only the outbox row,
    # committed with the message, is left for the sweep.
    monkeypatch.setattr(events, "_send", redis_away)
    code = await _simulate_failing(owner, device_id, customer, "kept")
    monkeypatch.undo()

    assert code == "SERVICE_UNAVAILABLE"  # Redis is away: the client may try again later
    assert await Message.exists(organization_id=owner.organization_id, body="kept")
    assert await OutboxEvent.filter(organization_id=owner.organization_id).count() == 1
    assert await _bodies_logged(owner) == ["hello", "kept"]
    [delivered] = await eventually(lambda: _accepted(receiver), within=15)
    assert delivered.json["data"]["messageEvents"]["message"]["body"] == "kept"
    await asyncio.sleep(1.5)
    assert len(receiver.requests) == 1


async def _accepted(receiver: Receiver) -> list[Any]:
    return list(receiver.accepted.values())
