"""The organization's opening hours: set by admins, answered by agents without their own."""

from __future__ import annotations

import json

from app.models.accounts import Role
from app.models.ai import AgentRun
from app.platform.ids import from_global_id, to_global_id
from tests.ai.support import RUNS, create_agent, finished_run
from tests.fakes.openai_server import FakeOpenAI, text, tool_call
from tests.support.client import Api
from tests.support.messaging import eventually, member, sandbox_device, simulate, unique_phone
from tests.support.server import RunningServer

SET_HOURS = """
mutation($input: SetBusinessHoursInput!) {
  setBusinessHours(input: $input) {
    organization { businessHours }
    userErrors { field message code }
  }
}
"""
ORGANIZATION = "query { organization { businessHours } }"
CREATE_AGENT = """
mutation($input: CreateAIAgentInput!) {
  createAIAgent(input: $input) { agent { id } userErrors { field message code } }
}
"""
ROME = {
    "timezone": "Europe/Rome",
    "hours": {"mon": "10:00-19:30", "sat": "10:00-13:00", "sun": "closed"},
    "note": "Closed on public holidays.",
}


async def test_admins_set_the_organizations_hours_and_members_read_them(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    agent = await member(server, api, Role.AGENT, owner.organization_id)

    data = await owner.api.data(SET_HOURS, {"input": {"businessHours": ROME}})
    assert data["setBusinessHours"] == {"organization": {"businessHours": ROME}, "userErrors": []}
    seen = await agent.api.data(ORGANIZATION)
    assert seen["organization"]["businessHours"] == ROME

    refused = await agent.api.call(SET_HOURS, {"input": {"businessHours": {}}})
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await owner.api.data(ORGANIZATION))["organization"]["businessHours"] == ROME


async def test_bad_hours_are_refused_field_by_field_and_nothing_changes(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    await owner.api.data(SET_HOURS, {"input": {"businessHours": ROME}})
    bad = {
        "timezone": "Mars/Olympus",
        "hours": {"mon": "19:00-09:00", "funday": "10:00-12:00", "tue": "9-5"},
        "colour": "blue",
    }

    data = await owner.api.data(SET_HOURS, {"input": {"businessHours": bad}})

    errors = data["setBusinessHours"]["userErrors"]
    assert data["setBusinessHours"]["organization"] is None
    assert {tuple(e["field"]) for e in errors} == {("input", "businessHours")}
    messages = " ".join(e["message"] for e in errors)
    for fragment in ("Mars/Olympus", "funday", "'19:00-09:00'", "'9-5'", "colour"):
        assert fragment in messages
    assert all(e["code"] == "INVALID" for e in errors)
    assert (await owner.api.data(ORGANIZATION))["organization"]["businessHours"] == ROME

    # An agent's own hours are checked the same way.
    agent = await owner.api.data(
        CREATE_AGENT,
        {"input": {"name": "Desk", "instructions": "Be kind.", "businessHours": bad}},
    )
    assert agent["createAIAgent"]["agent"] is None
    assert len(agent["createAIAgent"]["userErrors"]) == len(errors)


async def test_an_agent_without_hours_of_its_own_answers_from_the_organizations(
    server: RunningServer, api: Api, llm: FakeOpenAI
) -> None:
    owner = await member(server, api)
    await owner.api.data(SET_HOURS, {"input": {"businessHours": ROME}})
    device_id = await sandbox_device(owner)
    await create_agent(owner, device_id, businessHours={})
    llm.script(tool_call("parley-business_hours"), text("We open at 10:00, Rome time."))

    inbound = await simulate(owner, device_id, unique_phone(), "when are you open?")
    conversation_pk = from_global_id(inbound["conversation"]["id"])[1]
    run = await _first_run(conversation_pk)
    await finished_run(to_global_id("AgentRun", run.id), within=60)

    runs = await owner.api.data(RUNS, {"conversationId": inbound["conversation"]["id"]})
    [done] = runs["agentRuns"]["nodes"]
    assert done["status"] == "SUCCEEDED"
    [tool] = [step for step in done["steps"] if step["kind"] == "TOOL_CALL"]
    answer = json.loads(tool["result"])
    assert answer["timezone"] == "Europe/Rome"
    assert answer["hours"]["mon"] == "10:00-19:30" and answer["hours"]["tue"] == "closed"
    assert answer["note"] == "Closed on public holidays."


async def _first_run(conversation_pk: int) -> AgentRun:
    async def found() -> AgentRun | None:
        return await AgentRun.filter(conversation_id=conversation_pk).first()

    run: AgentRun = await eventually(found, within=60)
    return run
