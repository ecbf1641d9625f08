"""Tiny factories for AI tests."""

from __future__ import annotations

from typing import Any

from gql import gql

from app.models.ai import AgentRun, AgentRunStatus
from app.platform.ids import from_global_id
from tests.support.messaging import Member, eventually

CREATE_AGENT = """
mutation($input: CreateAIAgentInput!) {
  createAIAgent(input: $input) { agent { id name device { id } } userErrors { field message code } }
}
"""
RUN_AGENT = """
mutation($input: RunAgentInput!) {
  runAgent(input: $input) { run { id status } userErrors { field message code } }
}
"""
DRAFT = """
mutation($input: DraftCampaignCopyInput!) {
  draftCampaignCopy(input: $input) { run { id status task } userErrors { field message code } }
}
"""
CANCEL = """
mutation($input: AgentRunIdInput!) {
  cancelAgentRun(input: $input) { run { id status error } userErrors { field message code } }
}
"""
RUNS = """
query($conversationId: ID) {
  agentRuns(conversationId: $conversationId) {
    nodes { id status task trigger output error promptTokens completionTokens latencyMs
            steps { index kind name content arguments result } }
  }
}
"""
HOURS = {
    "timezone": "UTC",
    "hours": {day: "09:00-17:00" for day in ("mon", "tue", "wed", "thu", "fri")},
}


async def create_agent(who: Member, device_id: str | None = None, **extra: Any) -> str:
    data = await who.api.data(
        CREATE_AGENT,
        {
            "input": {
                "name": "Front desk",
                "instructions": "You answer customers of Bella Pizza politely.",
                "deviceId": device_id,
                "businessHours": HOURS,
                **extra,
            }
        },
    )
    assert data["createAIAgent"]["userErrors"] == []
    agent_id: str = data["createAIAgent"]["agent"]["id"]
    return agent_id


async def finished_run(run_id: str, within: float = 20) -> AgentRun:
    pk = from_global_id(run_id)[1]

    async def done() -> AgentRun | None:
        run = await AgentRun.get(id=pk)
        return run if run.status not in (AgentRunStatus.QUEUED, AgentRunStatus.RUNNING) else None

    result: AgentRun = await eventually(done, within=within)
    return result


async def events_until(
    session: Any, document: str, variables: dict[str, Any], stop: Any
) -> list[Any]:
    """The subscription's events up to and including the first one ``stop`` accepts."""
    seen = []
    async for event in session.subscribe(gql(document), variable_values=variables):
        seen.append(event)
        if stop(event):
            return seen
    return seen
