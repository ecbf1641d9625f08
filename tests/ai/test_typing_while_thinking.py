from __future__ import annotations

from app.models.messaging import Direction, Message
from app.platform.ids import decode_id
from tests.ai.support import create_agent
from tests.fakes.graph_api import FakeGraphApi
from tests.fakes.openai_server import FakeOpenAI, text
from tests.support.client import Api
from tests.support.cloud_api import cloud_device, fake, inbound
from tests.support.messaging import eventually, member
from tests.support.server import RunningServer

__all__ = ["fake"]  # the fixture, used by name


async def test_an_auto_reply_shows_typing_under_the_question_while_the_model_works(
    server: RunningServer, api: Api, llm: FakeOpenAI, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    await create_agent(owner, device.id)
    llm.script(text("We deliver until 23:00."))

    await inbound(owner, fake, device, "16505550177")

    async def replied() -> bool:
        return bool(fake.sends_to("16505550177"))

    await eventually(replied, within=60)
    question = await Message.get(
        device_id=decode_id(device.id, "Device"), direction=Direction.INBOUND
    )
    [reply] = fake.sends_to("16505550177")
    assert fake.typing == [question.provider_message_id]
    assert reply.body["text"]["body"] == "We deliver until 23:00."
