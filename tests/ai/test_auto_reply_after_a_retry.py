"""A webhook job that dies right after storing a customer's message (SAQ's timeout, a killed
worker) is retried; the retry finds the message stored and must still give it its auto-reply,
once (found by bench/pipeline.py: the retry deduplicated the message and the reply was lost)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app.models.ai import AgentRun
from app.models.messaging import Direction, Message
from app.platform import events
from app.platform.ids import decode_id
from tests.ai.support import create_agent
from tests.fakes.graph_api import FakeGraphApi
from tests.fakes.openai_server import FakeOpenAI, text
from tests.support.client import Api
from tests.support.cloud_api import cloud_device, fake, inbound
from tests.support.messaging import eventually, member
from tests.support.server import RunningServer

__all__ = ["fake"]  # the fixture, used by name


class WorkerDied(Exception):
    """The first try of the job ends here, its message committed and nothing after."""


async def test_a_retried_webhook_job_still_sends_the_auto_reply_once(
    server: RunningServer,
    api: Api,
    llm: FakeOpenAI,
    fake: FakeGraphApi,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    await create_agent(owner, device.id)
    llm.script(text("Hello! How can we help?"))
    happened = events.happened
    died: list[Any] = []

    async def dies_once_after_the_commit(event: object) -> None:
        if isinstance(event, events.InboundMessageStored) and not died:
            died.append(event)
            raise WorkerDied
        await happened(event)

    monkeypatch.setattr(events, "happened", dies_once_after_the_commit)

    await inbound(owner, fake, device, "16505550188")

    async def replied() -> bool:
        return bool(fake.sends_to("16505550188"))

    await eventually(replied, within=60)
    assert died  # the first try did die after storing the message
    await asyncio.sleep(server.settings.ai_debounce_seconds + 2)  # no second reply comes
    [reply] = fake.sends_to("16505550188")
    assert reply.body["text"]["body"] == "Hello! How can we help?"
    device_pk = decode_id(device.id, "Device")
    [question] = await Message.filter(device_id=device_pk, direction=Direction.INBOUND)
    assert await AgentRun.filter(conversation_id=question.conversation_id).count() == 1
