"""Sends are counted by our category when they go and by the category Meta prices them in once
its status webhooks say so: the count moves once, however often Meta repeats a webhook."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

from tests.campaigns.support import contacts, until_status
from tests.fakes.graph_api import FakeGraphApi, signed, webhook_envelope
from tests.plans.support import on_plan, synced_template, template_campaign, usage
from tests.support.cloud_api import APP_SECRET, CloudDevice, cloud_device, inbound, post, status_of
from tests.support.messaging import SEND, Member, eventually
from tests.support.server import RunningServer

START = """
mutation($input: CampaignIdInput!) {
  startCampaign(input: $input) { campaign { id status } userErrors { field message code } }
}
"""
CATEGORIES = ("marketingMessages", "utilityMessages", "authenticationMessages", "serviceMessages")


async def _template(owner: Member, device: CloudDevice, name: str, category: str) -> None:
    await synced_template(owner, device, name, category, "Your plan renews soon.")


async def _campaign(owner: Member, device: CloudDevice, template: str, tag: str) -> str:
    return await template_campaign(owner, device, template, template, tags=[tag])


async def _counted(owner: Member, expected: dict[str, int]) -> dict[str, Any]:
    """The usage once it says ``expected`` (statuses are applied by jobs, in any order)."""

    async def check() -> dict[str, Any] | None:
        counted = await usage(owner)
        return counted if all(counted[k] == v for k, v in expected.items()) else None

    found: dict[str, Any] = await eventually(check, within=30)
    return found


async def test_a_campaign_meta_prices_as_marketing_counts_against_the_marketing_limit_once(
    server: RunningServer, fake: FakeGraphApi, org_admin: Member, admin: Member
) -> None:
    await on_plan(admin, org_admin, marketingMessagesPerMonth=3)
    device = await cloud_device(server, fake, org_admin)
    # Synced as UTILITY, so the marketing limit does not stop it when it goes; Meta prices it
    # as marketing, and delivers every status webhook twice.
    await _template(org_admin, device, "renewal", "UTILITY")
    await _template(org_admin, device, "promo", "MARKETING")
    fake.pricing_categories["renewal"] = "marketing"
    fake.duplicate_rate = 1.0
    await contacts(org_admin, 3, tag="renew", prefix="+1650931")
    await contacts(org_admin, 1, tag="later", prefix="+1650932")
    renewal = await _campaign(org_admin, device, "renewal", "renew")

    started = await org_admin.api.data(START, {"input": {"campaignId": renewal}})
    await until_status(org_admin, renewal, "COMPLETED")
    await fake.drain()
    counted = await _counted(org_admin, {"marketingMessages": 3})
    promo = await _campaign(org_admin, device, "promo", "later")
    refused = await org_admin.api.data(START, {"input": {"campaignId": promo}})

    assert started["startCampaign"]["userErrors"] == []
    assert fake.sends_by_category() == Counter(marketing=3)
    assert len(fake.deliveries) >= 2 * 3 * 3  # sent, delivered, read: each twice
    assert [counted[c] for c in CATEGORIES] == [3, 0, 0, 0]
    # What Meta priced as marketing fills the marketing limit: the next campaign is refused.
    [error] = refused["startCampaign"]["userErrors"]
    assert error["code"] == "LIMIT_EXCEEDED"
    assert "3 used, 0 left, 1 asked for (limit marketingMessagesPerMonth)" in error["message"]


async def test_single_sends_move_to_metas_category_and_service_replies_stay_service(
    server: RunningServer, fake: FakeGraphApi, org_admin: Member, admin: Member
) -> None:
    # No marketing sends allowed at all: a reply in the open window still goes.
    await on_plan(admin, org_admin, marketingMessagesPerMonth=0)
    device = await cloud_device(server, fake, org_admin)
    fake.pricing_categories["welcome"] = "utility"  # not synced here: we count it MARKETING
    fake.duplicate_rate = 1.0
    conversation_id = await inbound(org_admin, fake, device, "16509330001")

    reply = await org_admin.api.data(
        SEND, {"input": {"conversationId": conversation_id, "text": "Thanks, on it!"}}
    )
    template = await org_admin.api.data(
        SEND,
        {
            "input": {
                "deviceId": device.id,
                "to": "+16509330002",
                "template": {"name": "welcome", "language": "en_US", "parameters": []},
            }
        },
    )
    await eventually(lambda: _sent(fake, 2))
    await fake.drain()
    counted = await _counted(org_admin, {"utilityMessages": 1, "serviceMessages": 1})

    assert reply["sendMessage"]["userErrors"] == []
    assert template["sendMessage"]["userErrors"] == []
    assert fake.sends_by_category() == Counter(utility=1, service=1)
    assert [counted[c] for c in CATEGORIES] == [0, 1, 0, 1]


async def _sent(fake: FakeGraphApi, n: int) -> bool:
    return len(fake.sends) >= n


async def test_copies_of_a_priced_status_applied_at_once_by_many_jobs_move_the_count_once(
    server: RunningServer, fake: FakeGraphApi, org_admin: Member, admin: Member
) -> None:
    await on_plan(admin, org_admin)
    device = await cloud_device(server, fake, org_admin, statuses=False)  # the test plays Meta
    await _template(org_admin, device, "renewal", "UTILITY")
    sent = await org_admin.api.data(
        SEND,
        {
            "input": {
                "deviceId": device.id,
                "to": "+16509340001",
                "template": {"name": "renewal", "language": "en_US", "parameters": []},
            }
        },
    )
    message_id = sent["sendMessage"]["message"]["id"]
    await status_of(org_admin, message_id, "SENT")
    wamid = fake.sends[0].wamid

    # Meta's "sent" and "delivered", each delivered five times, all at once: ten webhook
    # events, applied by as many jobs side by side, every one saying "marketing".
    await asyncio.gather(
        *(
            post(device.webhook_url, *_priced_status(device, wamid, status, copy))
            for status in ("sent", "delivered")
            for copy in range(5)
        )
    )
    await status_of(org_admin, message_id, "DELIVERED")
    counted = await _counted(org_admin, {"marketingMessages": 1})
    await asyncio.sleep(1)  # any copy still being applied
    again = await usage(org_admin)

    assert [counted[c] for c in CATEGORIES] == [1, 0, 0, 0]
    assert [again[c] for c in CATEGORIES] == [1, 0, 0, 0]


def _priced_status(
    device: CloudDevice, wamid: str, status: str, copy: int
) -> tuple[bytes, dict[str, str]]:
    entry = {
        "id": wamid,
        "status": status,
        "timestamp": str(int(time.time()) + copy),  # copies differ, as redeliveries may
        "recipient_id": "16509340001",
        "pricing": {"billable": True, "pricing_model": "PMP", "category": "marketing"},
    }
    return signed(APP_SECRET, webhook_envelope(device.phone_number_id, {"statuses": [entry]}))
