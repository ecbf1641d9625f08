"""The statements a campaign batch runs, each case set up exactly on the suite's database.

The end-to-end tests send whole campaigns; which rows a claim may take, claims racing each
other, a send recorded after its status webhook got there first and a batch retried after a
crash depend there on timing. Here each is arranged by hand, on SQLite or (with
PARLEY_TEST_DATABASE_URL) PostgreSQL: the statements are written per dialect.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from app.campaigns.bulk import Queued
from app.campaigns.sending import (
    CONTACT_DELETED,
    Sender,
    claim,
    client_key,
    new_owner,
    record_sent_many,
)
from app.messaging.pacing import DeviceLimiter
from app.messaging.providers import provider_for
from app.models.campaigns import Campaign, CampaignRecipient, RecipientStatus
from app.models.messaging import (
    Contact,
    Conversation,
    Device,
    Direction,
    Message,
    MessageStatus,
    MessageType,
    UnmatchedStatus,
)
from app.platform.ids import decode_id
from tests.campaigns.support import CREATE, contacts
from tests.fakes.graph_api import FakeGraphApi
from tests.support.client import Api
from tests.support.cloud_api import cloud_device
from tests.support.messaging import member
from tests.support.server import RunningServer

TEMPLATE = {"name": "welcome", "language": "en_US"}


async def _campaign(
    server: RunningServer, api: Api, fake: FakeGraphApi, audience: int
) -> tuple[Campaign, Device, list[Contact]]:
    owner = await member(server, api)
    cloud = await cloud_device(server, fake, owner, statuses=False)
    people = await contacts(owner, audience, tag="batch")
    data = await owner.api.data(
        CREATE,
        {"input": {"name": "Batch", "deviceId": cloud.id, "template": TEMPLATE, "tags": ["batch"]}},
    )
    campaign = await Campaign.get(
        id=decode_id(data["createCampaign"]["campaign"]["id"], "Campaign")
    )
    return campaign, await Device.get(id=campaign.device_id), people


async def _recipient(campaign: Campaign, contact: Contact, **fields: Any) -> CampaignRecipient:
    return await CampaignRecipient.create(
        campaign_id=campaign.id,
        contact_id=contact.id,
        phone=contact.phone_number,
        send_phone=contact.phone_number,
        variables={"parameters": [contact.name]},
        **fields,
    )


async def _queued(device: Device, contact: Contact, recipient: CampaignRecipient) -> Message:
    """The conversation and QUEUED message a worker made for ``recipient`` before sending."""
    conversation = await Conversation.create(
        organization_id=device.organization_id, device_id=device.id, contact_id=contact.id
    )
    return await Message.create(
        organization_id=device.organization_id,
        conversation_id=conversation.id,
        device_id=device.id,
        direction=Direction.OUTBOUND,
        type=MessageType.TEMPLATE,
        payload={**TEMPLATE, "parameters": recipient.variables["parameters"]},
        status=MessageStatus.QUEUED,
        client_message_id=client_key(recipient.id),
    )


async def _running() -> bool:
    return True


def _sender(server: RunningServer, campaign: Campaign, device: Device) -> Sender:
    """A worker's sender for the campaign, as a batch job builds it."""
    return Sender(
        runtime=server.runtime,
        campaign=campaign,
        device=device,
        provider=provider_for(server.settings, device),
        limiter=DeviceLimiter(server.runtime.redis),
        owner=new_owner(),
        lease=30,
        still_running=_running,
    )


async def test_a_claim_takes_only_claimable_rows_lowest_ids_first(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    campaign, _, people = await _campaign(server, api, fake, 8)
    now = datetime.now(UTC)
    ago, ahead = now - timedelta(seconds=5), now + timedelta(seconds=60)
    fresh = [await _recipient(campaign, people[i]) for i in range(2)]
    backoff_over = await _recipient(campaign, people[2], lease_expires_at=ago)
    backing_off = await _recipient(campaign, people[3], lease_expires_at=ahead)
    dead_workers = await _recipient(
        campaign,
        people[4],
        status=RecipientStatus.CLAIMED,
        lease_owner="dead",
        lease_expires_at=ago,
    )
    live_workers = await _recipient(
        campaign,
        people[5],
        status=RecipientStatus.CLAIMED,
        lease_owner="live",
        lease_expires_at=ahead,
    )
    heard_of = await _recipient(campaign, people[6], provider_message_id="wamid.from-a-webhook")
    in_flight = await _recipient(
        campaign,
        people[7],
        status=RecipientStatus.SENDING,
        lease_owner="dead",
        lease_expires_at=ago,
    )

    first = await claim(campaign.id, "me", 2, lease=30)
    rest = await claim(campaign.id, "me", 10, lease=30)

    assert [r.id for r in first] == [fresh[0].id, fresh[1].id]
    assert [r.id for r in rest] == [backoff_over.id, dead_workers.id]
    assert (first[0].phone, first[0].variables) == (fresh[0].phone, fresh[0].variables)
    assert (first[0].message_id, first[0].attempts, first[0].contact_id) == (None, 0, people[0].id)
    rows = {r.id: r for r in await CampaignRecipient.filter(campaign_id=campaign.id)}
    for claimed in (*first, *rest):
        row = rows[claimed.id]
        assert (row.status, row.lease_owner) == (RecipientStatus.CLAIMED, "me")
        assert row.lease_expires_at is not None and row.lease_expires_at > now + timedelta(
            seconds=25
        )
    for untouched in (backing_off, live_workers, heard_of, in_flight):
        row = rows[untouched.id]
        assert (row.status, row.lease_owner) == (untouched.status, untouched.lease_owner)
        assert row.lease_expires_at == untouched.lease_expires_at


async def test_claims_racing_for_one_campaign_never_share_a_row(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    campaign, _, people = await _campaign(server, api, fake, 60)
    for person in people:
        await _recipient(campaign, person)

    raced = await asyncio.gather(*(claim(campaign.id, f"worker-{i}", 15, 30) for i in range(6)))
    rest = await claim(campaign.id, "latecomer", 60, 30)

    owners = {r.id: f"worker-{i}" for i, batch in enumerate(raced) for r in batch}
    owners |= {r.id: "latecomer" for r in rest}
    assert sum(len(batch) for batch in raced) + len(rest) == len(owners) == 60
    stored = await CampaignRecipient.filter(campaign_id=campaign.id).values_list(
        "id", "lease_owner"
    )
    assert dict(stored) == owners


async def test_sends_recorded_in_bulk_keep_what_a_status_webhook_recorded_first(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    campaign, device, people = await _campaign(server, api, fake, 2)
    plain, overtaken = [await _recipient(campaign, person) for person in people]
    batch = await claim(campaign.id, "me", 2, lease=30)
    messages = [
        await _queued(device, people[0], plain),
        await _queued(device, people[1], overtaken),
    ]
    # Meta's "delivered" for the second send came before the worker recorded it: the webhook
    # moved the recipient on, and kept the status for a message id nobody knew yet.
    await CampaignRecipient.filter(id=overtaken.id).update(
        status=RecipientStatus.DELIVERED, provider_message_id="wamid.overtaken"
    )
    await UnmatchedStatus.create(
        device_id=device.id,
        provider_message_id="wamid.overtaken",
        status=MessageStatus.DELIVERED,
        occurred_at=datetime.now(UTC),
    )
    sent = [
        (
            claimed,
            Queued(m.id, m.organization_id, m.conversation_id, m.device_id, m.type, m.payload),
            wamid,
        )
        for claimed, m, wamid in zip(
            batch, messages, ("wamid.plain", "wamid.overtaken"), strict=True
        )
    ]

    await record_sent_many(server.runtime, campaign, device, sent)

    rows = {r.id: r for r in await CampaignRecipient.filter(campaign_id=campaign.id)}
    assert rows[plain.id].status is RecipientStatus.SENT
    assert rows[plain.id].provider_message_id == "wamid.plain"
    assert rows[plain.id].sent_at is not None
    assert (rows[plain.id].lease_owner, rows[plain.id].lease_expires_at) == (None, None)
    assert rows[overtaken.id].status is RecipientStatus.DELIVERED
    assert rows[overtaken.id].provider_message_id == "wamid.overtaken"
    stored = {m.id: m for m in await Message.filter(id__in=[m.id for m in messages])}
    first, second = (stored[m.id] for m in messages)
    assert (first.status, first.provider_message_id) == (MessageStatus.SENT, "wamid.plain")
    assert first.sent_at is not None
    assert (second.status, second.provider_message_id) == (
        MessageStatus.DELIVERED,
        "wamid.overtaken",
    )
    assert not await UnmatchedStatus.exists(provider_message_id="wamid.overtaken")


async def test_a_batch_retried_after_a_crash_sends_the_messages_it_created_before(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    campaign, device, people = await _campaign(server, api, fake, 3)
    recipients = [await _recipient(campaign, person) for person in people]
    # A worker made the first two recipients' conversations and messages, then died before
    # it recorded them on the recipients; their leases ran out.
    made = [await _queued(device, people[i], recipients[i]) for i in range(2)]
    sender = _sender(server, campaign, device)

    await sender.send_batch(await claim(campaign.id, sender.owner, 10, lease=30))

    rows = await CampaignRecipient.filter(campaign_id=campaign.id).order_by("id")
    messages = {m.id: m for m in await Message.filter(organization_id=device.organization_id)}
    assert len(messages) == 3
    assert [r.message_id for r in rows[:2]] == [m.id for m in made]
    for row in rows:
        assert row.status is RecipientStatus.SENT
        assert row.message_id is not None
        message = messages[row.message_id]
        assert message.client_message_id == client_key(row.id)
        assert (message.status, message.provider_message_id) == (
            MessageStatus.SENT,
            row.provider_message_id,
        )
    assert sorted(s.to.removeprefix("+") for s in fake.sends) == sorted(
        p.phone_number.removeprefix("+") for p in people
    )
    assert {s.wamid for s in fake.sends} == {row.provider_message_id for row in rows}
    assert await Conversation.filter(device_id=device.id).count() == 3


async def test_a_recipient_whose_contact_was_deleted_is_skipped_and_the_rest_are_sent(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    campaign, device, people = await _campaign(server, api, fake, 3)
    recipients = [await _recipient(campaign, person) for person in people]
    await people[1].delete()  # after the audience was resolved: the row keeps its phone
    sender = _sender(server, campaign, device)

    await sender.send_batch(await claim(campaign.id, sender.owner, 10, lease=30))

    rows = {r.id: r for r in await CampaignRecipient.filter(campaign_id=campaign.id)}
    deleted = rows[recipients[1].id]
    assert (deleted.status, deleted.reason) == (RecipientStatus.SKIPPED, CONTACT_DELETED)
    assert (deleted.lease_owner, deleted.message_id) == (None, None)
    for kept in (recipients[0], recipients[2]):
        assert rows[kept.id].status is RecipientStatus.SENT
    assert sorted(s.to.removeprefix("+") for s in fake.sends) == sorted(
        p.phone_number.removeprefix("+") for p in (people[0], people[2])
    )
