from __future__ import annotations

import asyncio

from app.models.accounts import Role
from app.models.ai import AgentRun, AgentRunStatus
from app.models.messaging import Conversation, ConversationStatus, Direction, Message
from app.platform.ids import from_global_id, to_global_id
from tests.ai.support import RUNS, create_agent, events_until, finished_run
from tests.fakes.openai_server import FakeOpenAI, text, tool_call
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

MESSAGE_EVENTS = """
subscription($deviceId: ID) {
  messageEvents(deviceId: $deviceId) { kind message { id direction body status } }
}
"""
CONVERSATION_EVENTS = """
subscription { conversationEvents { kind conversation { id status aiEnabled } } }
"""


async def test_an_inbound_question_about_hours_is_answered_after_a_business_hours_tool_call(
    server: RunningServer, api: Api, llm: FakeOpenAI
) -> None:
    owner = await member(server, api)
    device_id = await sandbox_device(owner)
    await create_agent(owner, device_id)
    llm.script(
        tool_call("parley-business_hours"),
        text("We are open Monday to Friday, 9:00 to 17:00 (UTC)."),
    )

    async with owner.api.websocket() as session:
        listening = asyncio.create_task(
            events_until(
                session,
                MESSAGE_EVENTS,
                {"deviceId": device_id},
                lambda e: e["messageEvents"]["message"]["direction"] == "OUTBOUND",
            )
        )
        await wait_for_subscribers(server, f"org:{owner.organization_id}:messages")
        inbound = await simulate(owner, device_id, unique_phone(), "when are you open?")
        seen = await asyncio.wait_for(listening, timeout=90)

    reply = seen[-1]["messageEvents"]
    assert reply["kind"] == "CREATED"
    assert reply["message"]["body"] == "We are open Monday to Friday, 9:00 to 17:00 (UTC)."
    # The reply is announced before the run records it and ends: wait for the end.
    auto = await AgentRun.get(conversation_id=from_global_id(inbound["conversation"]["id"])[1])
    await finished_run(to_global_id("AgentRun", auto.id), within=30)
    runs = await owner.api.data(RUNS, {"conversationId": inbound["conversation"]["id"]})
    [run] = runs["agentRuns"]["nodes"]
    assert (run["status"], run["task"], run["trigger"]) == ("SUCCEEDED", "REPLY", "AUTO_REPLY")
    assert [step["kind"] for step in run["steps"]] == [
        "MODEL_TURN",
        "TOOL_CALL",
        "MODEL_TURN",
        "REPLY_SENT",
    ]
    tool = run["steps"][1]
    assert tool["name"] == "business_hours" and tool["arguments"] == {}
    assert '"mon": "09:00-17:00"' in tool["result"]
    assert run["promptTokens"] > 0 and run["completionTokens"] > 0 and run["latencyMs"] >= 0
    first, second = llm.requests
    assert first["stream"] is True and first["model"] == "llama3.1:8b"
    assert "parley-business_hours" in {t["function"]["name"] for t in first["tools"]}
    assert first["messages"][-1] == {"role": "user", "content": "when are you open?"}
    assert second["messages"][-1]["role"] == "tool"


async def test_a_customer_asking_for_a_human_is_handed_off_and_gets_no_ai_reply(
    server: RunningServer, api: Api, llm: FakeOpenAI
) -> None:
    owner = await member(server, api)
    colleague = await member(server, api, Role.AGENT, owner.organization_id)
    device_id = await sandbox_device(owner)
    await create_agent(owner, device_id)
    llm.script(tool_call("parley-handoff_to_human", {"reason": "asks for a person"}))

    async with colleague.api.websocket() as session:
        listening = asyncio.create_task(
            events_until(
                session,
                CONVERSATION_EVENTS,
                {},
                lambda e: e["conversationEvents"]["conversation"]["status"] == "PENDING",
            )
        )
        await wait_for_subscribers(server, f"org:{owner.organization_id}:conversations")
        inbound = await simulate(owner, device_id, unique_phone(), "I want to talk to a human")
        seen = await asyncio.wait_for(listening, timeout=90)

    assert seen[-1]["conversationEvents"]["conversation"]["aiEnabled"] is False
    conversation_pk = from_global_id(inbound["conversation"]["id"])[1]
    run = await eventually(
        lambda: AgentRun.filter(
            conversation_id=conversation_pk, status=AgentRunStatus.SUCCEEDED
        ).first(),
        within=60,
    )
    assert run.output == "Handed off: asks for a person"
    assert [s["kind"] for s in run.steps] == ["MODEL_TURN", "TOOL_CALL", "HANDOFF"]
    assert len(llm.requests) == 1  # the run ends at the handoff: nothing more is asked
    conversation = await Conversation.get(id=conversation_pk)
    assert conversation.status is ConversationStatus.PENDING and not conversation.ai_enabled
    assert not await Message.exists(conversation_id=conversation_pk, direction=Direction.OUTBOUND)


async def test_three_inbound_messages_within_two_seconds_make_exactly_one_run(
    server: RunningServer, api: Api, llm: FakeOpenAI
) -> None:
    owner = await member(server, api)
    device_id = await sandbox_device(owner)
    await create_agent(owner, device_id)
    llm.script(text("A margherita and two colas, coming up!"))
    customer = unique_phone()

    # The point: messages some time apart, each within the debounce of the one before.
    inbound = await simulate(owner, device_id, customer, "Hi")
    await asyncio.sleep(0.5)
    await simulate(owner, device_id, customer, "I'd like a margherita")
    await asyncio.sleep(0.5)
    await simulate(owner, device_id, customer, "and two colas")

    conversation_pk = from_global_id(inbound["conversation"]["id"])[1]
    await eventually(
        lambda: Message.exists(conversation_id=conversation_pk, direction=Direction.OUTBOUND),
        within=60,
    )
    # The point: no second run starts during a debounce and more.
    await asyncio.sleep(server.settings.ai_debounce_seconds + 1.5)
    assert await AgentRun.filter(conversation_id=conversation_pk).count() == 1
    [request] = llm.requests
    said = [m["content"] for m in request["messages"] if m["role"] == "user"]
    assert said == ["Hi", "I'd like a margherita", "and two colas"]
