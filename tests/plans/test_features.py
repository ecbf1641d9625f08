"""A plan's feature flags, enforced where they are used: `outbound_webhooks` (creating,
resuming, redelivering, and every delivery) and `ai_teams` (draftCampaignCopy's team)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.ai.support import DRAFT, RUN_AGENT, create_agent, finished_run
from tests.fakes.openai_server import FakeOpenAI, text
from tests.integrations.conftest import MovableClock, moved_clock, receiver
from tests.integrations.receiver import Receiver
from tests.integrations.support import (
    CREATE_WEBHOOK,
    MESSAGE_EVENTS,
    REDELIVER,
    RESUME,
    create_webhook,
    deliveries,
)
from tests.plans.support import CREATE_PLAN, UPDATE_PLAN, on_plan, usage
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

__all__ = ["moved_clock", "receiver"]  # fixtures, used by name

PAUSE = """
mutation($input: WebhookIdInput!) {
  pauseWebhook(input: $input) { webhook { id active } userErrors { field message code } }
}
"""
FEATURES = "query { organization { subscription { plan { name features } } } }"
BRIEF = "Pizza Friday: every second pizza free this Friday."
COPY = (
    "Hi {{name}}, this Friday every second pizza is on us at Bella Pizza. "
    "Reply STOP to unsubscribe."
)


async def _features(admin: Member, plan_id: str, features: list[str]) -> None:
    data = await admin.api.data(UPDATE_PLAN, {"input": {"planId": plan_id, "features": features}})
    assert data["updatePlan"]["userErrors"] == [], data


def _bodies(receiver: Receiver) -> list[str]:
    return [r.json["data"]["messageEvents"]["message"]["body"] for r in receiver.in_order()]


async def test_without_outbound_webhooks_nothing_is_created_resumed_redelivered_or_sent(
    receiver: Receiver, moved_clock: MovableClock, owner: Member, admin: Member
) -> None:
    plan_id = await on_plan(admin, owner, features=["outbound_webhooks"])
    plan_name = (await owner.api.data(FEATURES))["organization"]["subscription"]["plan"]["name"]
    device_id = await sandbox_device(owner)
    webhook_id, _ = await create_webhook(owner, receiver.url)
    await simulate(owner, device_id, unique_phone(), "before")
    await eventually(lambda: _accepted(receiver, 1), within=20)
    receiver.down = True
    await simulate(owner, device_id, unique_phone(), "failing")
    await eventually(lambda: _requests(receiver, 2), within=20)  # failed: retried in ~10 s

    # The plan loses the feature: the failed delivery is held, new events are not recorded.
    await _features(admin, plan_id, [])
    receiver.down = False
    await simulate(owner, device_id, unique_phone(), "while downgraded")
    moved_clock.move(seconds=15)  # the failed delivery's retry is due
    await asyncio.sleep(2)
    created = await owner.api.data(
        CREATE_WEBHOOK, {"input": {"name": "CRM", "url": receiver.url, "query": MESSAGE_EVENTS}}
    )
    paused = await owner.api.data(PAUSE, {"input": {"webhookId": webhook_id}})
    resumed = await owner.api.data(RESUME, {"input": {"webhookId": webhook_id}})
    [failed] = await deliveries(owner, webhook_id, "FAILED")
    redelivered = await owner.api.data(REDELIVER, {"input": {"webhookDeliveryId": failed["id"]}})

    assert len(receiver.requests) == 2 and _bodies(receiver) == ["before"]
    assert len(await deliveries(owner, webhook_id)) == 2  # none for "while downgraded"
    [error] = created["createWebhook"]["userErrors"]
    assert error["code"] == "FEATURE_NOT_IN_PLAN"
    assert error["message"] == (
        f"The plan {plan_name!r} does not include outbound webhooks (feature outbound_webhooks)."
    )
    assert created["createWebhook"]["webhook"] is None
    assert paused["pauseWebhook"]["userErrors"] == []  # a pause is always allowed
    assert [e["code"] for e in resumed["resumeWebhook"]["userErrors"]] == ["FEATURE_NOT_IN_PLAN"]
    assert [e["code"] for e in redelivered["redeliverWebhookDelivery"]["userErrors"]] == [
        "FEATURE_NOT_IN_PLAN"
    ]
    assert (await usage(owner))["webhooks"] == 1  # the refused create took no place

    # An upgrade: the webhook resumes, the held delivery goes out; what happened in between
    # was never recorded, so it is never sent.
    await _features(admin, plan_id, ["outbound_webhooks"])
    resumed = await owner.api.data(RESUME, {"input": {"webhookId": webhook_id}})
    moved_clock.move(seconds=61)  # past the hold
    await eventually(lambda: _accepted(receiver, 2), within=20)
    await simulate(owner, device_id, unique_phone(), "after")
    await eventually(lambda: _accepted(receiver, 3), within=20)

    assert resumed["resumeWebhook"]["userErrors"] == []
    assert _bodies(receiver) == ["before", "failing", "after"]


async def _accepted(receiver: Receiver, n: int) -> bool:
    return len(receiver.accepted) >= n


async def _requests(receiver: Receiver, n: int) -> bool:
    return len(receiver.requests) >= n


async def test_without_ai_teams_campaign_copy_is_refused_and_single_agents_still_run(
    llm: FakeOpenAI, owner: Member, admin: Member
) -> None:
    plan_id = await on_plan(admin, owner, features=[])
    plan_name = (await owner.api.data(FEATURES))["organization"]["subscription"]["plan"]["name"]
    agent_id = await create_agent(owner)
    device_id = await sandbox_device(owner)
    inbound = await simulate(owner, device_id, unique_phone(), "Hello?")
    llm.script(text("Hi!"))

    refused = await owner.api.data(DRAFT, {"input": {"agentId": agent_id, "brief": BRIEF}})
    single = await owner.api.data(
        RUN_AGENT,
        {
            "input": {
                "agentId": agent_id,
                "conversationId": inbound["conversation"]["id"],
                "task": "DRAFT_REPLY",
            }
        },
    )

    [error] = refused["draftCampaignCopy"]["userErrors"]
    assert error["code"] == "FEATURE_NOT_IN_PLAN"
    assert error["message"] == (
        f"The plan {plan_name!r} does not include AI teams (multi-agent campaign copy) "
        "(feature ai_teams)."
    )
    assert refused["draftCampaignCopy"]["run"] is None
    assert single["runAgent"]["userErrors"] == []
    await finished_run(single["runAgent"]["run"]["id"])
    assert (await usage(owner))["aiRuns"] == 1  # the refused team run was not counted

    await _features(admin, plan_id, ["ai_teams"])
    llm.script(text(COPY), text("APPROVED"))
    accepted = await owner.api.data(DRAFT, {"input": {"agentId": agent_id, "brief": BRIEF}})

    assert accepted["draftCampaignCopy"]["userErrors"] == []
    run = await finished_run(accepted["draftCampaignCopy"]["run"]["id"], within=60)
    assert run.status.value == "SUCCEEDED", run.error


async def test_members_see_their_plans_features_and_the_default_plan_has_them_all(
    server: RunningServer, api: Api, owner: Member, admin: Member
) -> None:
    newcomer = await member(server, api)
    await on_plan(admin, owner, features=["ai_teams"])

    default = await newcomer.api.data(FEATURES)
    chosen = await owner.api.data(FEATURES)

    assert default["organization"]["subscription"]["plan"]["features"] == [
        "ai_teams",
        "outbound_webhooks",
    ]
    assert chosen["organization"]["subscription"]["plan"]["features"] == ["ai_teams"]


async def test_a_plan_naming_an_unknown_feature_is_refused(admin: Member) -> None:
    data: dict[str, Any] = await admin.api.data(
        CREATE_PLAN, {"input": {"name": "Typo", "features": ["ai-teams"]}}
    )

    [error] = data["createPlan"]["userErrors"]
    assert (error["code"], error["field"]) == ("INVALID", ["input", "features"])
    assert error["message"] == "Unknown feature 'ai-teams'; known: ai_teams, outbound_webhooks."
