"""Campaigns against the marketing limit: refused before start with the number, paused at the
limit with the rest untouched and resumed after an upgrade, never blocked in a service window."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.models.messaging import Contact
from app.platform.ids import to_global_id
from tests.campaigns.support import campaign_of, contacts, until_status
from tests.fakes.graph_api import FakeGraphApi
from tests.plans.support import UPDATE_PLAN, on_plan, synced_template, template_campaign, usage
from tests.support.cloud_api import CloudDevice, cloud_device, inbound
from tests.support.messaging import Member, eventually
from tests.support.server import RunningServer

ACTION = """
mutation($input: CampaignIdInput!) {{
  {name}(input: $input) {{ campaign {{ id status }} userErrors {{ field message code }} }}
}}
"""
PAUSED = "query($id: ID!) { node(id: $id) { ... on Campaign { status pauseReason } } }"
RECIPIENTS = """
query($id: ID!) { node(id: $id) { ... on Campaign {
  recipients(first: 100) { nodes { phoneNumber status attempts } }
} } }
"""


async def _marketing_template(device: CloudDevice, owner: Member) -> None:
    await synced_template(owner, device, "promo", "MARKETING", "Spring sale!")


async def _campaign(owner: Member, device: CloudDevice, **audience: Any) -> str:
    return await template_campaign(owner, device, "promo", "Sale", **audience)


async def _act(owner: Member, name: str, campaign_id: str) -> dict[str, Any]:
    data = await owner.api.data(ACTION.format(name=name), {"input": {"campaignId": campaign_id}})
    payload: dict[str, Any] = data[name]
    return payload


async def test_a_campaign_whose_audience_exceeds_the_month_is_refused_before_it_starts(
    server: RunningServer, fake: FakeGraphApi, org_admin: Member, admin: Member
) -> None:
    await on_plan(admin, org_admin, marketingMessagesPerMonth=5)
    device = await cloud_device(server, fake, org_admin)
    await _marketing_template(device, org_admin)
    await contacts(org_admin, 8, tag="big", prefix="+1650777")
    campaign_id = await _campaign(org_admin, device, tags=["big"])

    refused = await _act(org_admin, "startCampaign", campaign_id)

    [error] = refused["userErrors"]
    assert error["code"] == "LIMIT_EXCEEDED" and error["field"] == ["input", "campaignId"]
    assert "allows 5 marketing messages this month" in error["message"]
    assert "5 left, 8 asked for" in error["message"]
    assert (await campaign_of(org_admin, campaign_id))["status"] == "DRAFT"
    assert fake.sends == []


async def test_campaigns_reaching_the_limit_pause_and_resume_after_an_upgrade(
    server: RunningServer,
    fake: FakeGraphApi,
    monkeypatch: pytest.MonkeyPatch,
    org_admin: Member,
    admin: Member,
) -> None:
    # One recipient per batch: each send is reserved just before it goes, so two campaigns
    # started together both pass their start check and then share what is left.
    monkeypatch.setattr(server.settings, "campaign_batch_size", 1)
    plan_id = await on_plan(admin, org_admin, marketingMessagesPerMonth=10)
    device = await cloud_device(server, fake, org_admin, per_second=4)
    await _marketing_template(device, org_admin)
    await contacts(org_admin, 6, tag="north", prefix="+1650881")
    await contacts(org_admin, 6, tag="south", prefix="+1650882")
    north = await _campaign(org_admin, device, tags=["north"])
    south = await _campaign(org_admin, device, tags=["south"])

    started = await asyncio.gather(
        _act(org_admin, "startCampaign", north), _act(org_admin, "startCampaign", south)
    )
    assert [s["userErrors"] for s in started] == [[], []]

    async def both_stopped() -> list[dict[str, Any]] | None:
        nodes = [(await org_admin.api.data(PAUSED, {"id": c}))["node"] for c in (north, south)]
        stopped = all(n["status"] in ("PAUSED", "COMPLETED") for n in nodes)
        return nodes if stopped and any(n["status"] == "PAUSED" for n in nodes) else None

    states = await eventually(both_stopped, within=30)
    paused = [c for c, n in zip((north, south), states, strict=True) if n["status"] == "PAUSED"]

    async def settled() -> bool:
        """Sends reserved before the pause went or were given back; none is under way."""
        rows = [
            r
            for c in (north, south)
            for r in (await org_admin.api.data(RECIPIENTS, {"id": c}))["node"]["recipients"][
                "nodes"
            ]
        ]
        moving = any(r["status"] in ("CLAIMED", "SENDING") for r in rows)
        return not moving and (await usage(org_admin))["marketingMessages"] == len(fake.sends)

    await eventually(settled, within=30)

    # Never past the limit; counted exactly what went (a send a pause stopped is given back).
    assert 0 < len(fake.sends) <= 10
    for node in states:
        if node["status"] == "PAUSED":
            assert "marketingMessagesPerMonth" in node["pauseReason"]
            assert "allows 10 marketing messages" in node["pauseReason"]
    for campaign_id in paused:
        rows = (await org_admin.api.data(RECIPIENTS, {"id": campaign_id}))["node"]["recipients"]
        untouched = [r for r in rows["nodes"] if r["status"] == "PENDING"]
        sent = [r for r in rows["nodes"] if r["status"] in ("SENT", "DELIVERED", "READ")]
        assert len(untouched) + len(sent) == 6
        assert all(r["attempts"] == 0 for r in untouched), untouched

    upgraded = await admin.api.data(
        UPDATE_PLAN, {"input": {"planId": plan_id, "limits": {"marketingMessagesPerMonth": 100}}}
    )
    assert upgraded["updatePlan"]["userErrors"] == []
    for campaign_id in paused:
        assert (await _act(org_admin, "resumeCampaign", campaign_id))["userErrors"] == []
    for campaign_id in (north, south):
        done = await until_status(org_admin, campaign_id, "COMPLETED")
        assert done["stats"]["failed"] == done["stats"]["pending"] == 0

    assert sorted(fake.send_counts().values()) == [1] * 12
    assert (await usage(org_admin))["marketingMessages"] == 12
    resumed = (await org_admin.api.data(PAUSED, {"id": paused[0]}))["node"]
    assert resumed["pauseReason"] is None


async def test_sends_into_an_open_service_window_are_never_blocked_by_the_marketing_limit(
    server: RunningServer, fake: FakeGraphApi, org_admin: Member, admin: Member
) -> None:
    await on_plan(admin, org_admin, marketingMessagesPerMonth=0)
    device = await cloud_device(server, fake, org_admin)
    await _marketing_template(device, org_admin)
    for wa_id in ("16507770001", "16507770002", "16507770003"):
        await inbound(org_admin, fake, device, wa_id)

    async def three_contacts() -> list[int] | None:
        ids = await Contact.filter(organization_id=org_admin.organization_id).values_list(
            "id", flat=True
        )
        return list(ids) if len(ids) == 3 else None

    ids = await eventually(three_contacts)
    campaign_id = await _campaign(
        org_admin, device, contactIds=[to_global_id("Contact", pk) for pk in ids]
    )

    started = await _act(org_admin, "startCampaign", campaign_id)
    done = await until_status(org_admin, campaign_id, "COMPLETED", "PAUSED")

    assert started["userErrors"] == []
    assert done["status"] == "COMPLETED"
    assert len(fake.sends) == 3
    # Counted all the same: the organization sees what it sent.
    assert (await usage(org_admin))["marketingMessages"] == 3


async def test_a_scheduled_campaign_without_room_waits_paused_until_an_upgrade(
    server: RunningServer, fake: FakeGraphApi, org_admin: Member, admin: Member
) -> None:
    plan_id = await on_plan(admin, org_admin, marketingMessagesPerMonth=0)
    device = await cloud_device(server, fake, org_admin)
    await _marketing_template(device, org_admin)
    await contacts(org_admin, 3, tag="later", prefix="+1650883")
    at = datetime.now(UTC) + timedelta(seconds=2)
    campaign_id = await _campaign(org_admin, device, tags=["later"], scheduledAt=at.isoformat())

    paused = await until_status(org_admin, campaign_id, "PAUSED", "RUNNING", "COMPLETED")
    reason = (await org_admin.api.data(PAUSED, {"id": campaign_id}))["node"]["pauseReason"]
    refused = await _act(org_admin, "resumeCampaign", campaign_id)
    await admin.api.data(
        UPDATE_PLAN, {"input": {"planId": plan_id, "limits": {"marketingMessagesPerMonth": 3}}}
    )
    resumed = await _act(org_admin, "resumeCampaign", campaign_id)
    done = await until_status(org_admin, campaign_id, "COMPLETED")

    assert paused["status"] == "PAUSED"
    assert "0 left, 3 asked for" in reason
    assert refused["userErrors"][0]["code"] == "LIMIT_EXCEEDED"
    assert resumed["userErrors"] == []
    assert done["stats"]["sent"] + done["stats"]["delivered"] + done["stats"]["read"] == 3
    assert len(fake.sends) == 3 and (await usage(org_admin))["marketingMessages"] == 3
