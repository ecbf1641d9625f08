from __future__ import annotations

import asyncio
from typing import Any

from app.models.ai import AgentRun, AgentRunStatus
from app.platform.ids import from_global_id
from tests.ai.support import CANCEL, DRAFT, create_agent, events_until, finished_run
from tests.fakes.openai_server import FakeOpenAI, error, hang, text
from tests.support.client import Api
from tests.support.messaging import Member, eventually, member, wait_for_subscribers
from tests.support.server import RunningServer

RUN_EVENTS = """
subscription($runId: ID!) {
  agentRunEvents(runId: $runId) {
    kind token source
    step { index kind name content data }
    run { id status output error }
  }
}
"""
BRIEF = "Pizza Friday: every second pizza free this Friday, for all customers."
FIRST_DRAFT = "Hi {{name}}! Pizza Friday: buy one, get one FREE. Reply STOP to unsubscribe."
SECOND_DRAFT = (
    "Hi {{name}}, this Friday every second pizza is on us at Bella Pizza. "
    "Reply STOP to unsubscribe."
)


def _finished(event: dict[str, Any]) -> bool:
    return event["agentRunEvents"]["kind"] == "STATUS" and event["agentRunEvents"]["run"][
        "status"
    ] in ("SUCCEEDED", "FAILED", "CANCELLED")


async def _draft(who: Member, agent_id: str, **extra: Any) -> dict[str, Any]:
    data = await who.api.data(DRAFT, {"input": {"agentId": agent_id, "brief": BRIEF, **extra}})
    payload: dict[str, Any] = data["draftCampaignCopy"]
    return payload


async def test_draft_campaign_copy_revises_until_the_reviewer_approves_and_streams_every_turn(
    server: RunningServer, api: Api, llm: FakeOpenAI
) -> None:
    owner = await member(server, api)
    agent_id = await create_agent(owner)
    llm.script(
        # The first answer waits a little, so the subscriber below is listening before it.
        text(FIRST_DRAFT, delay=3),
        text("REVISE: 'FREE' in capitals reads as pressure; name the shop."),
        text(SECOND_DRAFT),
        text("APPROVED"),
    )

    started = await _draft(owner, agent_id)
    assert started["userErrors"] == [] and started["run"]["status"] == "QUEUED"
    assert started["run"]["task"] == "CAMPAIGN_COPY"
    async with owner.api.websocket() as session:
        listening = asyncio.create_task(
            events_until(session, RUN_EVENTS, {"runId": started["run"]["id"]}, _finished)
        )
        await wait_for_subscribers(server, f"org:{owner.organization_id}:agent_runs")
        seen = await asyncio.wait_for(listening, timeout=90)

    seen = [event["agentRunEvents"] for event in seen]
    turns = [e["step"] for e in seen if e["kind"] == "STEP"]
    assert [(t["kind"], t["name"]) for t in turns] == [
        ("TEAM_TURN", "copywriter"),
        ("TEAM_TURN", "compliance_reviewer"),
        ("TEAM_TURN", "copywriter"),
        ("TEAM_TURN", "compliance_reviewer"),
    ]
    assert [t["content"] for t in turns] == [
        FIRST_DRAFT,
        "REVISE: 'FREE' in capitals reads as pressure; name the shop.",
        SECOND_DRAFT,
        "APPROVED",
    ]
    assert [t["data"].get("verdict") for t in turns] == [None, "REVISE", None, "APPROVED"]
    streamed = "".join(
        e["token"] for e in seen if e["kind"] == "TOKEN" and e["source"] == "copywriter"
    )
    assert streamed == FIRST_DRAFT + SECOND_DRAFT
    final = seen[-1]["run"]
    assert (final["status"], final["output"]) == ("SUCCEEDED", SECOND_DRAFT)
    run = await finished_run(started["run"]["id"])
    assert [step["content"] for step in run.steps] == [t["content"] for t in turns]
    assert run.prompt_tokens > 0 and run.completion_tokens > 0
    assert len(llm.requests) == 4
    writer_first, reviewer_first, writer_second, reviewer_second = llm.requests
    assert BRIEF in writer_first["messages"][-1]["content"]
    assert "Bella Pizza" in writer_first["messages"][0]["content"]  # the agent's voice
    assert "opt out" in reviewer_first["messages"][0]["content"]
    assert writer_second["messages"][-1]["content"].startswith("REVISE:")
    assert reviewer_second["messages"][-1]["content"] == SECOND_DRAFT


async def test_a_draft_breaking_whatsapp_rules_is_sent_back_without_asking_the_reviewer_model(
    server: RunningServer, api: Api, llm: FakeOpenAI
) -> None:
    owner = await member(server, api)
    agent_id = await create_agent(owner)
    llm.script(
        text("Hi {{name}}, use code {{coupon}} for a free pizza this Friday!"),
        text(SECOND_DRAFT),
        text("APPROVED"),
    )

    started = await _draft(owner, agent_id, variables=["first_order"])
    run = await finished_run(started["run"]["id"], within=90)

    assert run.status is AgentRunStatus.SUCCEEDED and run.output == SECOND_DRAFT
    rejection = run.steps[1]
    assert rejection["name"] == "compliance_reviewer" and rejection["verdict"] == "REVISE"
    assert "{{coupon}}" in rejection["content"] and "opt-out" in rejection["content"]
    assert run.steps[0]["violations"] and run.steps[2]["violations"] == []
    assert len(llm.requests) == 3  # writer, writer again, reviewer: the rules needed no model
    assert "{{first_order}}" in llm.requests[0]["messages"][0]["content"]
    assert llm.requests[1]["messages"][-1]["content"] == rejection["content"]


async def test_a_team_that_reaches_its_turn_limit_without_approval_fails(
    server: RunningServer, api: Api, llm: FakeOpenAI
) -> None:
    owner = await member(server, api)
    agent_id = await create_agent(owner)
    llm.script(text(FIRST_DRAFT), text("REVISE: too pushy."))

    started = await _draft(owner, agent_id, maxTurns=2)
    run = await finished_run(started["run"]["id"], within=90)

    assert run.status is AgentRunStatus.FAILED and run.output is None
    assert run.error == "CopyNotApproved: the reviewer approved no copy within 2 turns"
    assert [step["name"] for step in run.steps] == ["copywriter", "compliance_reviewer"]
    assert llm.unused == 0


async def test_a_team_whose_endpoint_answers_500_fails_after_bounded_retries(
    server: RunningServer, api: Api, llm: FakeOpenAI
) -> None:
    owner = await member(server, api)
    agent_id = await create_agent(owner)
    llm.script(error(500), error(500), error(500), error(500))

    started = await _draft(owner, agent_id)
    run = await finished_run(started["run"]["id"], within=90)

    assert run.status is AgentRunStatus.FAILED
    assert "model endpoint: InternalServerError: Error code: 500" in (run.error or "")
    assert len(llm.requests) == 3  # the first try and PARLEY_AI_MAX_RETRIES=2 retries
    assert run.steps == []


async def test_draft_campaign_copy_needs_a_brief_a_sane_turn_limit_and_an_agent_of_the_org(
    server: RunningServer, api: Api, llm: FakeOpenAI
) -> None:
    owner = await member(server, api)
    stranger = await member(server, api)
    agent_id = await create_agent(owner)

    empty = await owner.api.data(DRAFT, {"input": {"agentId": agent_id, "brief": "  "}})
    endless = await _draft(owner, agent_id, maxTurns=50)
    foreign = await _draft(stranger, agent_id)

    assert [e["code"] for e in empty["draftCampaignCopy"]["userErrors"]] == ["REQUIRED"]
    assert [(e["field"], e["code"]) for e in endless["userErrors"]] == [
        (["input", "maxTurns"], "INVALID")
    ]
    assert [e["code"] for e in foreign["userErrors"]] == ["NOT_FOUND"]
    assert foreign["run"] is None and llm.requests == []


async def test_cancel_agent_run_stops_a_team_while_its_model_is_answering(
    server: RunningServer, api: Api, llm: FakeOpenAI
) -> None:
    owner = await member(server, api)
    agent_id = await create_agent(owner)
    llm.script(hang(20), text("APPROVED"))
    started = await _draft(owner, agent_id)
    await eventually(lambda: _asked(llm), within=90)

    cancelled = await owner.api.data(CANCEL, {"input": {"runId": started["run"]["id"]}})

    assert cancelled["cancelAgentRun"]["run"]["status"] == "CANCELLED"
    pk = from_global_id(started["run"]["id"])[1]
    run = await eventually(
        lambda: AgentRun.filter(id=pk, finished_at__isnull=False).first(), within=10
    )
    assert run.status is AgentRunStatus.CANCELLED and run.output is None and run.steps == []
    await asyncio.sleep(1)  # the point: nothing more is asked during a second
    assert len(llm.requests) == 1  # the team asked nothing more after the cancel


async def _asked(llm: FakeOpenAI) -> bool:
    return bool(llm.requests)


async def test_a_team_longer_than_the_agents_time_budget_fails_and_stops_asking(
    server: RunningServer, api: Api, llm: FakeOpenAI
) -> None:
    owner = await member(server, api)
    agent_id = await create_agent(owner, timeoutSeconds=5)
    server.settings.ai_timeout_seconds = 60
    llm.script(text(FIRST_DRAFT), hang(30), text("APPROVED"))

    started = await _draft(owner, agent_id)
    run = await finished_run(started["run"]["id"], within=90)

    assert run.status is AgentRunStatus.FAILED and run.error == "timed out after 5 s"
    assert [step["name"] for step in run.steps] == ["copywriter"]
    await asyncio.sleep(1)  # the point: nothing more is asked during a second
    assert len(llm.requests) == 2 and llm.unused == 1
