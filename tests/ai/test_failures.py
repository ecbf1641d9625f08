from __future__ import annotations

from app.models.ai import AgentRun, AgentRunStatus
from app.platform.ids import from_global_id
from tests.ai.support import CANCEL, RUN_AGENT, create_agent, finished_run
from tests.fakes.openai_server import FakeOpenAI, error, hang
from tests.support.client import Api
from tests.support.messaging import eventually, member, sandbox_device, simulate, unique_phone
from tests.support.server import RunningServer


async def _conversation(server: RunningServer, api: Api):  # type: ignore[no-untyped-def]
    owner = await member(server, api)
    device_id = await sandbox_device(owner)
    inbound = await simulate(owner, device_id, unique_phone(), "Can you summarize my order?")
    return owner, await create_agent(owner), inbound["conversation"]["id"]


async def _run(owner, agent_id: str, conversation_id: str, task: str = "DRAFT_REPLY") -> dict:  # type: ignore[no-untyped-def,type-arg]
    data = await owner.api.data(
        RUN_AGENT, {"input": {"agentId": agent_id, "conversationId": conversation_id, "task": task}}
    )
    return data["runAgent"]  # type: ignore[no-any-return]


async def test_an_endpoint_answering_500_fails_the_run_after_bounded_retries(
    server: RunningServer, api: Api, llm: FakeOpenAI
) -> None:
    owner, agent_id, conversation_id = await _conversation(server, api)
    llm.script(error(500), error(500), error(500), error(500))

    started = await _run(owner, agent_id, conversation_id)

    assert started["userErrors"] == [] and started["run"]["status"] == "QUEUED"
    run = await finished_run(started["run"]["id"], within=90)
    assert run.status is AgentRunStatus.FAILED
    assert "InternalServerError" in (run.error or "")
    assert len(llm.requests) == 3  # the first try and PARLEY_AI_MAX_RETRIES=2 retries
    assert llm.unused == 1


async def test_an_endpoint_that_never_answers_fails_the_run_with_a_timeout(
    server: RunningServer, api: Api, llm: FakeOpenAI
) -> None:
    owner, agent_id, conversation_id = await _conversation(server, api)
    server.settings.ai_timeout_seconds = 0.5
    server.settings.ai_max_retries = 1
    llm.script(hang(5), hang(5))

    started = await _run(owner, agent_id, conversation_id, "SUMMARIZE")

    run = await finished_run(started["run"]["id"], within=90)
    assert run.status is AgentRunStatus.FAILED
    assert "APITimeoutError" in (run.error or "")
    assert len(llm.requests) == 2


async def test_cancel_agent_run_stops_a_running_run(
    server: RunningServer, api: Api, llm: FakeOpenAI
) -> None:
    owner, agent_id, conversation_id = await _conversation(server, api)
    llm.script(hang(30))

    started = await _run(owner, agent_id, conversation_id)
    assert llm.requests == []  # the mutation only queued the run
    pk = from_global_id(started["run"]["id"])[1]
    await eventually(lambda: AgentRun.exists(id=pk, status=AgentRunStatus.RUNNING), within=90)
    await eventually(lambda: _asked(llm), within=90)
    cancelled = await owner.api.data(CANCEL, {"input": {"runId": started["run"]["id"]}})

    assert cancelled["cancelAgentRun"]["run"]["status"] == "CANCELLED"
    run = await eventually(
        lambda: AgentRun.filter(id=pk, finished_at__isnull=False).first(), within=10
    )
    assert run.status is AgentRunStatus.CANCELLED and run.output is None


async def _asked(llm: FakeOpenAI) -> bool:
    return bool(llm.requests)


async def test_run_agent_without_ai_configuration_answers_ai_not_configured(
    server: RunningServer, api: Api, llm: FakeOpenAI
) -> None:
    owner, agent_id, conversation_id = await _conversation(server, api)
    server.settings.ai_base_url = None
    server.settings.ai_api_key = None

    started = await _run(owner, agent_id, conversation_id)

    assert started["run"] is None
    assert [e["code"] for e in started["userErrors"]] == ["AI_NOT_CONFIGURED"]
    assert llm.requests == []


async def test_a_run_longer_than_the_agents_time_budget_fails_with_the_budget(
    server: RunningServer, api: Api, llm: FakeOpenAI
) -> None:
    owner, agent_id, conversation_id = await _conversation(server, api)
    await owner.api.data(
        "mutation($input: UpdateAIAgentInput!) { updateAIAgent(input: $input) { agent { id } } }",
        {"input": {"agentId": agent_id, "timeoutSeconds": 5}},
    )
    server.settings.ai_timeout_seconds = 60
    llm.script(hang(30))

    started = await _run(owner, agent_id, conversation_id)

    run = await finished_run(started["run"]["id"], within=90)
    assert run.status is AgentRunStatus.FAILED
    assert run.error == "timed out after 5 s"
    assert run.latency_ms is not None and 5000 <= run.latency_ms < 20000
