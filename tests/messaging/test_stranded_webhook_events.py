"""The stranded-event sweep: a Meta webhook stored but never processed (its job was lost while
Redis was away) is queued again, and only such a one."""

from __future__ import annotations

import json
from datetime import timedelta

from app.models.messaging import Message, WebhookEvent, WebhookEventStatus
from app.platform import clock
from app.platform.ids import decode_id
from app.workers.messaging import requeue_stranded_webhook_events
from tests.fakes.graph_api import FakeGraphApi, inbound_webhook
from tests.support.client import Api
from tests.support.cloud_api import CloudDevice, cloud_device, fake
from tests.support.messaging import Member, eventually, member
from tests.support.server import RunningServer

__all__ = ["fake"]  # the fixture, used by name


async def _stored(
    owner: Member,
    device: CloudDevice,
    text: str,
    age: timedelta,
    status: WebhookEventStatus = WebhookEventStatus.RECEIVED,
) -> int:
    """A delivery from Meta as the HTTP edge stores it, ``age`` old, with no job queued."""
    body = inbound_webhook(device.phone_number_id, "16505550199", text=text)
    event = await WebhookEvent.create(
        organization_id=owner.organization_id,
        device_id=decode_id(device.id, "Device"),
        raw_body=json.dumps(body),
        status=status,
    )
    await WebhookEvent.filter(id=event.id).update(created_at=clock.now() - age)
    return event.id


async def _status(event_id: int) -> WebhookEventStatus:
    return (await WebhookEvent.get(id=event_id)).status


async def test_only_a_stored_webhook_whose_job_was_lost_is_queued_again_and_processed(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    lost = await _stored(owner, device, "lost job", timedelta(seconds=40))
    recent = await _stored(owner, device, "job still queued", timedelta(seconds=5))
    old = await _stored(owner, device, "Meta redelivers", timedelta(days=2))
    done = await _stored(
        owner, device, "processed", timedelta(seconds=40), WebhookEventStatus.PROCESSED
    )

    requeued = await requeue_stranded_webhook_events({"runtime": server.runtime})

    assert requeued == 1
    await eventually(lambda: _processed(lost))
    assert await Message.exists(organization_id=owner.organization_id, body="lost job")
    for untouched in (recent, old):
        assert await _status(untouched) is WebhookEventStatus.RECEIVED
    assert await _status(done) is WebhookEventStatus.PROCESSED
    assert not await Message.exists(organization_id=owner.organization_id, body="processed")
    assert await requeue_stranded_webhook_events({"runtime": server.runtime}) == 0


async def _processed(event_id: int) -> bool:
    return await _status(event_id) is WebhookEventStatus.PROCESSED
