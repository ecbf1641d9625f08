from __future__ import annotations

import time

from app.models.ai import AgentRun, AgentRunStatus
from app.platform.ids import from_global_id, to_global_id
from tests.ai.support import CANCEL, DRAFT, RUN_AGENT, create_agent, finished_run
from tests.fakes.openai_server import FakeOpenAI, hang
from tests.support.client import Api
from tests.support.messaging import (
    Member,
    eventually,
    member,
    sandbox_device,
    simulate,
    unique_phone,
)
from tests.support.server import RunningServer

# Every model answer takes this long: a request that waited for one could not be quick.
MODEL_SECONDS = 20.0
QUICK = 5.0


async def _timed(who: Member, document: str, variables: dict[str, object]) -> tuple[dict, float]:  # type: ignore[type-arg]
    started = time.monotonic()
    data = await who.api.data(document, variables)
    return data, time.monotonic() - started


async def test_no_request_waits_for_a_model_every_ai_mutation_only_queues_a_run(
    server: RunningServer, api: Api, llm: FakeOpenAI
) -> None:
    owner = await member(server, api)
    device_id = await sandbox_device(owner)
    agent_id = await create_agent(owner, device_id)
    llm.script(*(hang(MODEL_SECONDS) for _ in range(10)))
    server.settings.ai_timeout_seconds = MODEL_SECONDS * 2

    started = time.monotonic()
    inbound = await simulate(owner, device_id, unique_phone(), "Hello?")
    timings = {"AUTO_REPLY": time.monotonic() - started}
    conversation_id = inbound["conversation"]["id"]
    run_ids: list[str] = []
    for task in ("REPLY", "DRAFT_REPLY", "SUMMARIZE"):
        data, took = await _timed(
            owner,
            RUN_AGENT,
            {"input": {"agentId": agent_id, "conversationId": conversation_id, "task": task}},
        )
        assert data["runAgent"]["run"]["status"] == "QUEUED"
        timings[task], run_ids = took, [*run_ids, data["runAgent"]["run"]["id"]]
    data, took = await _timed(owner, DRAFT, {"input": {"agentId": agent_id, "brief": "Sale!"}})
    assert data["draftCampaignCopy"]["run"]["status"] == "QUEUED"
    timings["CAMPAIGN_COPY"], run_ids = took, [*run_ids, data["draftCampaignCopy"]["run"]["id"]]
    conversation_pk = from_global_id(conversation_id)[1]
    auto = await eventually(
        lambda: AgentRun.filter(conversation_id=conversation_pk, trigger="AUTO_REPLY").first(),
        within=10,
    )
    run_ids.append(to_global_id("AgentRun", auto.id))

    assert all(took < QUICK for took in timings.values()), timings
    # The runs do reach the model, from the worker, while no request is waiting on them.
    await eventually(lambda: _asked(llm, len(run_ids)), within=90)
    for run_id in run_ids:
        cancelled = await owner.api.data(CANCEL, {"input": {"runId": run_id}})
        assert cancelled["cancelAgentRun"]["userErrors"] == []
    for run_id in run_ids:
        run = await finished_run(run_id, within=30)
        assert run.status is AgentRunStatus.CANCELLED


async def _asked(llm: FakeOpenAI, times: int) -> bool:
    return len(llm.requests) >= times
