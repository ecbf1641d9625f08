from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from app.models.accounts import Role
from app.models.ai import AgentRun
from app.platform.ids import from_global_id
from tests.ai.support import RUN_AGENT, create_agent, finished_run
from tests.fakes.openai_server import FakeOpenAI, text
from tests.support.client import Api
from tests.support.messaging import Member, member, sandbox_device, simulate, unique_phone
from tests.support.server import RunningServer

USAGE = """
query($month: String) {
  aiUsage(month: $month) {
    month runs promptTokens completionTokens
    days { date runs promptTokens completionTokens }
    limit { runsPerMonth tokensPerMonth }
  }
}
"""
SET_LIMIT = """
mutation($input: SetAIUsageLimitInput!) {
  setAIUsageLimit(input: $input) {
    limit { runsPerMonth tokensPerMonth } userErrors { field message code }
  }
}
"""


async def _conversation(owner: Member, device_id: str) -> str:
    inbound = await simulate(owner, device_id, unique_phone(), "What do you recommend?")
    conversation_id: str = inbound["conversation"]["id"]
    return conversation_id


async def _draft_reply(owner: Member, agent_id: str, conversation_id: str) -> dict[str, Any]:
    data = await owner.api.data(
        RUN_AGENT,
        {"input": {"agentId": agent_id, "conversationId": conversation_id, "task": "DRAFT_REPLY"}},
    )
    payload: dict[str, Any] = data["runAgent"]
    return payload


async def test_ai_usage_counts_the_runs_and_tokens_of_the_organization_only(
    server: RunningServer, api: Api, llm: FakeOpenAI
) -> None:
    owner = await member(server, api)
    neighbour = await member(server, api)
    device_id = await sandbox_device(owner)
    agent_id = await create_agent(owner)
    conversation_id = await _conversation(owner, device_id)
    llm.script(text("Try the margherita."), text("Or the diavola, if you like it hot."))

    first = await _draft_reply(owner, agent_id, conversation_id)
    second = await _draft_reply(owner, agent_id, conversation_id)
    runs = [await finished_run(p["run"]["id"], within=90) for p in (first, second)]
    usage = (await owner.api.data(USAGE))["aiUsage"]

    today = datetime.now(UTC).date()
    prompt = sum(run.prompt_tokens for run in runs)
    completion = sum(run.completion_tokens for run in runs)
    assert prompt > 0 and completion > 0
    assert usage["month"] == today.strftime("%Y-%m")
    assert (usage["runs"], usage["promptTokens"], usage["completionTokens"]) == (
        2,
        prompt,
        completion,
    )
    assert usage["days"] == [
        {
            "date": today.isoformat(),
            "runs": 2,
            "promptTokens": prompt,
            "completionTokens": completion,
        }
    ]
    assert usage["limit"] is None
    elsewhere = (await neighbour.api.data(USAGE))["aiUsage"]
    assert (elsewhere["runs"], elsewhere["promptTokens"], elsewhere["days"]) == (0, 0, [])
    earlier = (await owner.api.data(USAGE, {"month": "2020-01"}))["aiUsage"]
    assert (earlier["month"], earlier["runs"], earlier["days"]) == ("2020-01", 0, [])


async def test_ai_usage_is_for_admins_and_a_malformed_month_is_bad_input(
    server: RunningServer, api: Api, llm: FakeOpenAI
) -> None:
    owner = await member(server, api)
    agent = await member(server, api, Role.AGENT, owner.organization_id)

    read = await agent.api.call(USAGE)
    limit = await agent.api.call(SET_LIMIT, {"input": {"runsPerMonth": 5}})
    malformed = await owner.api.call(USAGE, {"month": "November"})

    assert read["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert limit["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert malformed["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_monthly_run_allowance_refuses_further_runs_and_auto_replies(
    server: RunningServer, api: Api, llm: FakeOpenAI
) -> None:
    owner = await member(server, api)
    device_id = await sandbox_device(owner)
    agent_id = await create_agent(owner)
    conversation_id = await _conversation(owner, device_id)
    negative = await owner.api.data(SET_LIMIT, {"input": {"runsPerMonth": -1}})
    assert [e["code"] for e in negative["setAIUsageLimit"]["userErrors"]] == ["INVALID"]
    limit = await owner.api.data(SET_LIMIT, {"input": {"runsPerMonth": 1}})
    assert limit["setAIUsageLimit"]["limit"] == {"runsPerMonth": 1, "tokensPerMonth": None}
    llm.script(text("Try the margherita."))

    allowed = await _draft_reply(owner, agent_id, conversation_id)
    await finished_run(allowed["run"]["id"], within=90)
    refused = await _draft_reply(owner, agent_id, conversation_id)
    await owner.api.data(
        "mutation($input: UpdateAIAgentInput!) { updateAIAgent(input: $input) { agent { id } } }",
        {"input": {"agentId": agent_id, "deviceId": device_id}},
    )
    unanswered = await _conversation(owner, device_id)
    # The point: no auto-reply run starts during a debounce and more.
    await asyncio.sleep(server.settings.ai_debounce_seconds + 1.5)

    assert allowed["userErrors"] == []
    assert refused["run"] is None
    [error] = refused["userErrors"]
    assert error["code"] == "LIMIT_EXCEEDED" and "1 runs this month" in error["message"]
    assert not await AgentRun.exists(conversation_id=from_global_id(unanswered)[1])
    usage = (await owner.api.data(USAGE))["aiUsage"]
    assert usage["runs"] == 1 and usage["limit"]["runsPerMonth"] == 1
    assert len(llm.requests) == 1


async def test_a_monthly_token_allowance_refuses_runs_once_it_is_used_up(
    server: RunningServer, api: Api, llm: FakeOpenAI
) -> None:
    owner = await member(server, api)
    device_id = await sandbox_device(owner)
    agent_id = await create_agent(owner)
    conversation_id = await _conversation(owner, device_id)
    await owner.api.data(SET_LIMIT, {"input": {"tokensPerMonth": 20}})
    llm.script(text("Try the margherita, our most popular pizza since 1962."))

    allowed = await _draft_reply(owner, agent_id, conversation_id)
    run = await finished_run(allowed["run"]["id"], within=90)
    refused = await _draft_reply(owner, agent_id, conversation_id)

    assert run.prompt_tokens + run.completion_tokens >= 20
    assert refused["run"] is None
    assert [e["code"] for e in refused["userErrors"]] == ["LIMIT_EXCEEDED"]
    assert "20 tokens" in refused["userErrors"][0]["message"]
