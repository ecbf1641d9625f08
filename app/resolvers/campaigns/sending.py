"""Claiming recipients with a lease, sending each once, and recording what happened.

A recipient moves PENDING → CLAIMED (leased to one worker) → SENDING (handed to the provider)
→ SENT. Every step is one conditional UPDATE, so two workers never both own a row, on SQLite
and PostgreSQL alike. A SENDING row whose lease ran out belonged to a worker that died between
the provider call and the record: if a status webhook named it (``biz_opaque_callback_data``),
the message reached Meta and the row becomes SENT; only a row nobody heard of is sent again.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from app.models.campaigns import Campaign, CampaignRecipient, RecipientStatus
from app.models.messaging import (
    Contact,
    Device,
    Direction,
    Message,
    MessageStatus,
    MessageType,
)
from app.pubsub import Broker
from app.resolvers.campaigns import progress, statuses
from app.resolvers.campaigns.pacing import DeviceLimiter
from app.resolvers.campaigns.statuses import callback_data
from app.resolvers.messaging.pipeline import advance_status, conversation_for, reconcile
from app.whatsapp.errors import FailureReason, ProviderError
from app.whatsapp.types import MessageType as WireType
from app.whatsapp.types import OutboundMessage

log = structlog.get_logger("parley.campaigns")

MAX_ATTEMPTS = 5


def now() -> datetime:
    return datetime.now(UTC)


def new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def _claimable() -> Q:
    return Q(status=RecipientStatus.PENDING, lease_expires_at__isnull=True) | Q(
        status__in=(RecipientStatus.PENDING, RecipientStatus.CLAIMED), lease_expires_at__lt=now()
    )


async def claim(campaign_id: int, owner: str, size: int, lease: float) -> list[CampaignRecipient]:
    """Lease up to ``size`` recipients to ``owner``; portable SELECT, then a conditional UPDATE."""
    candidates = await (
        CampaignRecipient.filter(_claimable(), campaign_id=campaign_id)
        .order_by("id")
        .limit(size)
        .values_list("id", flat=True)
    )
    if not candidates:
        return []
    await CampaignRecipient.filter(_claimable(), id__in=list(candidates)).update(
        status=RecipientStatus.CLAIMED,
        lease_owner=owner,
        lease_expires_at=now() + timedelta(seconds=lease),
    )
    return list(
        await CampaignRecipient.filter(
            id__in=list(candidates), lease_owner=owner, status=RecipientStatus.CLAIMED
        ).order_by("id")
    )


async def release(owner: str, status: RecipientStatus = RecipientStatus.PENDING) -> None:
    """Hand back what ``owner`` claimed but did not send (pause: PENDING; cancel: CANCELLED)."""
    await CampaignRecipient.filter(lease_owner=owner, status=RecipientStatus.CLAIMED).update(
        status=status, lease_owner=None, lease_expires_at=None
    )


async def reconcile_expired(broker: Broker, campaign: Campaign, device: Device) -> int:
    """Settle SENDING rows whose worker died; returns how many were found.

    Such a send may have reached Meta before the worker died. Meta echoes our
    ``biz_opaque_callback_data`` in each status webhook of that message: a processed webhook
    has already recorded the provider's id on the row (``statuses.on_status_update``), and a
    webhook received but not processed yet (its job may have died with the same worker) is
    looked up here. Only a send no webhook mentions is tried again.
    """
    stale = await CampaignRecipient.filter(
        campaign_id=campaign.id, status=RecipientStatus.SENDING, lease_expires_at__lt=now()
    )
    if not stale:
        return 0
    unheard = [r for r in stale if not r.provider_message_id]
    if unheard:
        found = await statuses.lookup_unprocessed(device, unheard)
        for recipient in unheard:
            recipient.provider_message_id = found.get(recipient.id)
    for recipient in stale:
        if recipient.provider_message_id:
            # Meta has the message. Never send it again.
            log.info("campaigns.reconciled_sent", recipient_id=recipient.id)
            await record_sent(broker, campaign, device, recipient, recipient.provider_message_id)
        else:
            log.info("campaigns.reclaimed_unsent", recipient_id=recipient.id)
            await CampaignRecipient.filter(
                id=recipient.id, status=RecipientStatus.SENDING, provider_message_id__isnull=True
            ).update(status=RecipientStatus.PENDING, lease_owner=None, lease_expires_at=None)
    return len(stale)


async def record_sent(
    broker: Broker,
    campaign: Campaign,
    device: Device,
    recipient: CampaignRecipient,
    provider_message_id: str,
) -> None:
    if recipient.message_id is not None:
        await Message.filter(id=recipient.message_id, provider_message_id__isnull=True).update(
            provider_message_id=provider_message_id
        )
        message = await Message.get(id=recipient.message_id)
        await advance_status(broker, message, MessageStatus.SENT)
        await reconcile(broker, device, provider_message_id)
    await CampaignRecipient.filter(id=recipient.id, provider_message_id__isnull=True).update(
        provider_message_id=provider_message_id
    )
    await CampaignRecipient.filter(
        id=recipient.id, status__in=(RecipientStatus.CLAIMED, RecipientStatus.SENDING)
    ).update(status=RecipientStatus.SENT, sent_at=now(), lease_owner=None, lease_expires_at=None)
    await progress.counts_changed(broker, campaign.organization_id, campaign.id)


@dataclass
class Sender:
    """Sends the recipients one worker claimed, paced by the device's shared limiter."""

    broker: Broker
    campaign: Campaign
    device: Device
    provider: Any
    limiter: DeviceLimiter
    owner: str
    lease: float
    still_running: Callable[[], Awaitable[bool]]

    async def send(
        self, recipient: CampaignRecipient, contact: Contact | None
    ) -> FailureReason | None:
        """Send one recipient; returns a failure that concerns the whole device, if any."""
        message = await self._message_for(recipient, contact)
        await self.limiter.acquire(self.device.id, self.device.messages_per_second)
        if not await self.still_running():
            return None  # paused or cancelled while waiting for a slot
        moved = await CampaignRecipient.filter(
            id=recipient.id, lease_owner=self.owner, status=RecipientStatus.CLAIMED
        ).update(
            status=RecipientStatus.SENDING,
            attempts=F("attempts") + 1,
            lease_expires_at=now() + timedelta(seconds=self.lease),
        )
        if not moved:
            return None  # paused, cancelled or the lease was lost: someone else decides
        outbound = OutboundMessage(
            to=recipient.phone,
            type=WireType.TEXT if message.type is MessageType.TEXT else WireType.TEMPLATE,
            payload=message.payload,
            biz_opaque_callback_data=callback_data(recipient.id),
        )
        try:
            result = await self.provider.send(outbound)
        except ProviderError as error:
            return await self._failed(recipient, message, error)
        await record_sent(
            self.broker, self.campaign, self.device, recipient, result.provider_message_id
        )
        return None

    async def _message_for(self, recipient: CampaignRecipient, contact: Contact | None) -> Message:
        if recipient.message_id is not None:
            return await Message.get(id=recipient.message_id)
        assert contact is not None
        conversation, _ = await conversation_for(self.broker, self.device, contact)
        if self.campaign.text is not None:
            kind, body = MessageType.TEXT, recipient.variables["text"]
            payload: dict[str, Any] = {"body": body}
        else:
            kind, body = MessageType.TEMPLATE, None
            payload = {
                "name": self.campaign.template_name,
                "language": self.campaign.template_language,
            }
            if parameters := list(recipient.variables.get("parameters", [])):
                payload["parameters"] = parameters
        async with in_transaction():
            message = await Message.create(
                organization_id=self.campaign.organization_id,
                conversation_id=conversation.id,
                device_id=self.device.id,
                direction=Direction.OUTBOUND,
                type=kind,
                body=body,
                payload=payload,
                status=MessageStatus.QUEUED,
                author_user_id=self.campaign.created_by_id,
            )
            await CampaignRecipient.filter(id=recipient.id).update(message_id=message.id)
        recipient.message_id = message.id
        return message

    async def _failed(
        self, recipient: CampaignRecipient, message: Message, error: ProviderError
    ) -> FailureReason | None:
        attempts = recipient.attempts + 1
        log.warning(
            "campaigns.send_failed",
            recipient_id=recipient.id,
            failure=str(error.failure),
            code=error.code,
            retryable=error.retryable,
            attempts=attempts,
        )
        if error.retryable and error.http_status is None and error.code is None:
            # The request may have reached Meta: leave it SENDING; when the lease runs out it is
            # reconciled against the status webhooks before it is ever sent again.
            return None
        if error.retryable and attempts < MAX_ATTEMPTS:
            pair = error.failure is FailureReason.PAIR_RATE_LIMITED
            backoff = min(60.0, (5.0 if pair else 1.0) * 2 ** (attempts - 1))
            await CampaignRecipient.filter(id=recipient.id, status=RecipientStatus.SENDING).update(
                status=RecipientStatus.PENDING,
                lease_owner=None,
                lease_expires_at=now() + timedelta(seconds=backoff),  # not claimable before
            )
            return None
        reason = f"{error.failure}: {error.details or error.message}"
        await CampaignRecipient.filter(id=recipient.id, status=RecipientStatus.SENDING).update(
            status=RecipientStatus.FAILED,
            reason=reason,
            error_code=error.code,
            lease_owner=None,
            lease_expires_at=None,
        )
        await advance_status(
            self.broker, message, MessageStatus.FAILED, error_code=error.code, error_message=reason
        )
        await progress.counts_changed(self.broker, self.campaign.organization_id, self.campaign.id)
        return error.failure if error.failure.device_status is not None else None


async def pause_briefly() -> None:
    await asyncio.sleep(0.2)
