from __future__ import annotations

import logging

import pytest

from tests.ai.support import DRAFT, create_agent, finished_run
from tests.fakes.openai_server import FakeOpenAI, text
from tests.support.client import Api
from tests.support.messaging import member
from tests.support.server import RunningServer

BRIEF = "Secret menu for Anna Schmidt, table 12"


async def test_a_team_run_logs_neither_the_brief_nor_the_model_conversation(
    server: RunningServer, api: Api, llm: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    owner = await member(server, api)
    agent_id = await create_agent(owner)
    llm.script(
        text("Hi {{name}}, our secret menu is back. Reply STOP to opt out."), text("APPROVED")
    )

    data = await owner.api.data(DRAFT, {"input": {"agentId": agent_id, "brief": BRIEF}})
    run = await finished_run(data["draftCampaignCopy"]["run"]["id"], within=90)

    assert run.output is not None and len(llm.requests) == 2
    framework = [r for r in caplog.records if r.name.startswith(("autogen", "semantic_kernel"))]
    assert [r for r in framework if r.levelno < logging.WARNING] == []
    assert not [r for r in caplog.records if "Anna Schmidt" in r.getMessage()]
