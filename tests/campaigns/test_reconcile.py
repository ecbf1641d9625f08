"""Settling the sends a dead worker left SENDING, one path at a time.

The kill tests (``test_crash_safety.py``) prove the whole story with real processes, but which
path settles a given row there depends on timing. Here each path is set up exactly: rows left
SENDING by a worker that is gone, a status webhook stored by the API whose processing job died
too, and the reconciliation a live batch job runs before it claims anything.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from app.campaigns.sending import reconcile_expired
from app.campaigns.statuses import callback_data
from app.models.campaigns import Campaign, CampaignRecipient, RecipientStatus
from app.models.messaging import (
    Device,
    Message,
    MessageStatus,
    UnmatchedStatus,
    WebhookEvent,
    WebhookEventStatus,
)
from app.platform.ids import decode_id
from app.workers.messaging import reconcile_stranded_statuses
from tests.campaigns.support import CREATE, act, contacts
from tests.fakes.graph_api import FakeGraphApi, webhook_envelope
from tests.support.client import Api
from tests.support.cloud_api import cloud_device
from tests.support.messaging import eventually, member
from tests.support.server import RunningServer


def _status_webhook(phone_number_id: str, to: str, wamid: str, recipient_id: int) -> str:
    status = {
        "id": wamid,
        "status": "sent",
        "timestamp": str(int(time.time())),
        "recipient_id": to.removeprefix("+"),
        "biz_opaque_callback_data": callback_data(recipient_id),
    }
    return orjson.dumps(webhook_envelope(phone_number_id, {"statuses": [status]})).decode()


async def test_stale_sends_are_settled_from_stored_webhooks_and_only_unheard_ones_retried(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    cloud = await cloud_device(server, fake, owner)
    people = await contacts(owner, 4, tag="stale", prefix="+1650556")
    data = await owner.api.data(
        CREATE,
        {
            "input": {
                "name": "Stale",
                "deviceId": cloud.id,
                "template": {"name": "welcome", "language": "en_US"},
                "tags": ["stale"],
            }
        },
    )
    campaign = await Campaign.get(
        id=decode_id(data["createCampaign"]["campaign"]["id"], "Campaign")
    )
    device = await Device.get(id=campaign.device_id)
    now = datetime.now(UTC)
    expired = {"long ago": now - timedelta(seconds=120), "just now": now - timedelta(seconds=1)}

    async def left_sending(i: int, lease_expired: datetime) -> CampaignRecipient:
        return await CampaignRecipient.create(
            campaign_id=campaign.id,
            contact_id=people[i].id,
            phone=people[i].phone_number,
            status=RecipientStatus.SENDING,
            lease_owner="a-worker-that-died",
            lease_expires_at=lease_expired,
            attempts=1,
        )

    stored = await left_sending(0, expired["long ago"])  # its webhook was stored, not processed
    failed = await left_sending(1, expired["long ago"])  # its webhook's job failed
    unheard = await left_sending(2, expired["long ago"])  # no webhook ever came
    recent = await left_sending(3, expired["just now"])  # no webhook yet
    wamids = {r.id: f"wamid.{uuid.uuid4().hex}" for r in (stored, failed)}
    for row, status in ((stored, WebhookEventStatus.RECEIVED), (failed, WebhookEventStatus.FAILED)):
        await WebhookEvent.create(
            organization_id=device.organization_id,
            device_id=device.id,
            raw_body=_status_webhook(cloud.phone_number_id, row.phone, wamids[row.id], row.id),
            status=status,
        )
    # A processed webhook about another recipient names `unheard` nowhere: no false match on
    # a recipient id that is a prefix of another.
    await WebhookEvent.create(
        organization_id=device.organization_id,
        device_id=device.id,
        raw_body=_status_webhook(cloud.phone_number_id, "+16505569999", "wamid.x", unheard.id * 10),
    )

    settled = await reconcile_expired(server.runtime, campaign, device, reconcile_after=60.0)

    rows = {r.id: r for r in await CampaignRecipient.filter(campaign_id=campaign.id)}
    assert settled == 3
    for row in (stored, failed):
        assert rows[row.id].status is RecipientStatus.SENT
        assert rows[row.id].provider_message_id == wamids[row.id]
        assert rows[row.id].lease_owner is None
    assert rows[unheard.id].status is RecipientStatus.PENDING
    assert rows[unheard.id].lease_expires_at is None
    assert rows[unheard.id].provider_message_id is None
    # Its lease ran out a second ago: a webhook may still be on its way, so it waits.
    assert rows[recent.id].status is RecipientStatus.SENDING
    assert rows[recent.id].lease_owner == "a-worker-that-died"
    assert fake.sends == []


BY_CATEGORY = """
query($id: ID!) { node(id: $id) { ... on Campaign {
  status stats { total sent delivered read byCategory { category messages billable } }
} } }
"""


async def test_a_campaign_send_whose_answer_was_lost_learns_its_id_from_the_statuses(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    """What a worker killed between Meta's answer and ``record_sent_many`` leaves, made exact:
    Meta accepted the send but the sender never heard its id. Meta's statuses name the recipient
    (``biz_opaque_callback_data``) and move it on; its message must learn the id from them too,
    and take each status and its pricing, or it stays QUEUED with its statuses unmatched."""
    owner = await member(server, api)
    cloud = await cloud_device(server, fake, owner)
    fake.pricing_categories["welcome"] = "utility"
    people = await contacts(owner, 3, tag="lost", prefix="+1650558")
    lost = people[1].phone_number.removeprefix("+")
    fake.drop_answer_next(to=lost)
    data = await owner.api.data(
        CREATE,
        {
            "input": {
                "name": "Lost",
                "deviceId": cloud.id,
                "template": {"name": "welcome", "language": "en_US"},
                "tags": ["lost"],
            }
        },
    )
    campaign_id = data["createCampaign"]["campaign"]["id"]
    await act(owner, "startCampaign", campaign_id)

    async def all_read_and_priced() -> dict[str, Any] | None:
        node: dict[str, Any] = (await owner.api.data(BY_CATEGORY, {"id": campaign_id}))["node"]
        done = node["status"] == "COMPLETED" and node["stats"]["read"] == 3
        # A recipient moves on a moment before its message records the status's pricing.
        priced = sum(c["messages"] for c in node["stats"]["byCategory"]) == 3
        return node if done and priced else None

    node = await eventually(all_read_and_priced, within=60)
    device = await Device.get(id=decode_id(cloud.id, "Device"))
    messages = await Message.filter(device_id=device.id).order_by("id")
    unmatched = await UnmatchedStatus.filter(device_id=device.id).count()
    wamids = {send.to: send.wamid for send in fake.sends}
    described = (
        f"byCategory {node['stats']['byCategory']}; Meta's {dict(fake.sends_by_category())};"
        f" messages {[(m.provider_message_id, m.status.value, m.pricing_category) for m in messages]};"
        f" unmatched statuses {unmatched}"
    )
    assert [s.to for s in fake.unanswered] == [lost], described
    assert sorted(fake.send_counts().values()) == [1, 1, 1], described
    assert sorted(m.provider_message_id or "" for m in messages) == sorted(wamids.values()), (
        described
    )
    assert {m.status.value for m in messages} == {"READ"}, described
    assert node["stats"]["byCategory"] == [{"category": "utility", "messages": 3, "billable": 3}], (
        described
    )
    assert unmatched == 0, described


async def test_statuses_left_unmatched_by_a_worker_that_died_after_recording_are_swept(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    """A worker killed between recording a batch's ids and applying the statuses that came
    before them (``record_sent_many``) leaves those statuses unmatched though the id is known:
    the sweep applies them, and only such ones."""
    owner = await member(server, api)
    cloud = await cloud_device(server, fake, owner, statuses=False)
    await contacts(owner, 2, tag="swept", prefix="+1650559")
    data = await owner.api.data(
        CREATE,
        {
            "input": {
                "name": "Swept",
                "deviceId": cloud.id,
                "template": {"name": "welcome", "language": "en_US"},
                "tags": ["swept"],
            }
        },
    )
    campaign_id = data["createCampaign"]["campaign"]["id"]
    await act(owner, "startCampaign", campaign_id)

    async def all_sent() -> dict[str, Any] | None:
        node: dict[str, Any] = (await owner.api.data(BY_CATEGORY, {"id": campaign_id}))["node"]
        return node if node["status"] == "COMPLETED" and node["stats"]["sent"] == 2 else None

    await eventually(all_sent, within=60)
    device_id = decode_id(cloud.id, "Device")
    stranded, recent = await Message.filter(device_id=device_id).order_by("id")
    pricing = {"category": "utility", "billable": True, "pricing_model": "PMP"}

    async def unmatched(wamid: str, age: timedelta) -> int:
        row = await UnmatchedStatus.create(
            device_id=device_id,
            provider_message_id=wamid,
            status=MessageStatus.DELIVERED,
            occurred_at=datetime.now(UTC),
            details={"pricing": pricing},
        )
        await UnmatchedStatus.filter(id=row.id).update(created_at=datetime.now(UTC) - age)
        return row.id

    assert stranded.provider_message_id and recent.provider_message_id
    await unmatched(stranded.provider_message_id, timedelta(seconds=40))
    waiting = await unmatched(recent.provider_message_id, timedelta(seconds=5))  # not yet
    unknown = await unmatched("wamid.nobody-sent", timedelta(seconds=40))

    assert await reconcile_stranded_statuses({"runtime": server.runtime}) == 1

    stranded = await Message.get(id=stranded.id)
    assert (stranded.status, stranded.pricing_category) == (MessageStatus.DELIVERED, "utility")
    assert (await Message.get(id=recent.id)).status is MessageStatus.SENT
    left = await UnmatchedStatus.filter(device_id=device_id).values_list("id", flat=True)
    assert sorted(left) == sorted([waiting, unknown])
    node = (await owner.api.data(BY_CATEGORY, {"id": campaign_id}))["node"]
    assert node["stats"]["byCategory"] == [{"category": "utility", "messages": 1, "billable": 1}]
    assert await reconcile_stranded_statuses({"runtime": server.runtime}) == 0
