"""Claiming recipients with a lease, sending each once, and recording what happened.

A recipient moves PENDING → CLAIMED (leased to one worker) → SENDING (handed to the provider)
→ SENT. Every step is one conditional UPDATE, so two workers never both own a row, on SQLite
and PostgreSQL alike. A live worker renews the leases it holds and sends nothing whose lease it
has not confirmed lately, so a lease only runs out under a worker that died (or stalled; then
it stops sending). A SENDING row whose lease ran out may have reached Meta before the crash: if
a status webhook named it (``biz_opaque_callback_data``), the row becomes SENT; a row nobody
heard of waits ``reconcile_after`` seconds more for a late webhook, then is sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar

import structlog
from redis.exceptions import RedisError
from tortoise.expressions import F

from app.campaigns import bulk, progress, statuses
from app.campaigns.bulk import Claimed, Queued
from app.campaigns.quota import CampaignQuota
from app.campaigns.statuses import callback_data
from app.messaging.pacing import LATE_SECONDS, RATE_LIMITED_RETRIES, DeviceLimiter
from app.messaging.pipeline import advance_status, reconcile
from app.models.campaigns import Campaign, CampaignRecipient, RecipientStatus
from app.models.messaging import Device, Message, MessageStatus, MessageType
from app.plans.context import PlanContext
from app.platform import background, clock, events, metrics, telemetry
from app.platform.outage_logs import database_away
from app.platform.pubsub import Broker
from app.whatsapp.errors import FailureReason, ProviderError
from app.whatsapp.types import MessageType as WireType
from app.whatsapp.types import OutboundMessage

log = structlog.get_logger("parley.campaigns")

MAX_ATTEMPTS = 5
# Leases are renewed every quarter lease; a send needs a renewal (or claim) less than half a
# lease old, so the other half covers a late renewal and the request's way to Meta.
RENEW_FRACTION = 0.25
SEND_WITHIN_FRACTION = 0.5
CONTACT_DELETED = "The contact was deleted after the campaign started."
# While PostgreSQL is away (a restart), a step is tried again this often, at most.
DATABASE_RETRY_MAX_SECONDS = 2.0
T = TypeVar("T")


async def through_database_outage(
    step: Callable[[], Awaitable[T]],
    what: str,
    *,
    patience: float,
    away: BaseException | None = None,
    **context: Any,
) -> T:
    """``step``, tried again while PostgreSQL is away (a restart, a failover) for up to
    ``patience`` seconds: one line when it goes, one when it is back. Any other error, or an
    outage longer than that, is raised. ``step`` must be safe to run again. ``away``: the
    error that showed PostgreSQL away already (it is said in the first line)."""
    started: float | None = None
    delay = 0.1
    if away is not None:
        started = time.monotonic()
        log.warning(
            "campaigns.database_unavailable", step=what, error=type(away).__name__, **context
        )
        await asyncio.sleep(delay)
    while True:
        try:
            result = await step()
        except Exception as error:
            away = database_away(error)
            if away is None:
                raise
            now = time.monotonic()
            if started is None:
                started = now
                log.warning(
                    "campaigns.database_unavailable",
                    step=what,
                    error=type(away).__name__,
                    **context,
                )
            elif now - started > patience:
                raise
            await asyncio.sleep(delay)
            delay = min(DATABASE_RETRY_MAX_SECONDS, delay * 2)
            continue
        if started is not None:
            log.info(
                "campaigns.database_back",
                step=what,
                waited_seconds=round(time.monotonic() - started, 1),
                **context,
            )
        return result


@dataclass(slots=True)
class Prepared:
    """A batch whose messages are written and whose recipients are SENDING: ready to go."""

    batch: list[Claimed]
    messages: dict[int, Queued]


def new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


async def claim(campaign_id: int, owner: str, size: int, lease: float) -> list[Claimed]:
    """Lease up to ``size`` recipients to ``owner``, in one conditional UPDATE."""
    at = clock.now()
    return await bulk.claim(campaign_id, owner, size, at + timedelta(seconds=lease), at)


async def release(owner: str, status: RecipientStatus = RecipientStatus.PENDING) -> None:
    """Hand back what ``owner`` claimed but did not send (pause: PENDING; cancel: CANCELLED)."""
    await CampaignRecipient.filter(lease_owner=owner, status=RecipientStatus.CLAIMED).update(
        status=status, lease_owner=None, lease_expires_at=None
    )


async def cancel_pending(campaign_id: int) -> None:
    """Cancel a cancelled campaign's PENDING recipients: those a retryable failure handed
    back after the cancel, or resolving wrote after it."""
    await CampaignRecipient.filter(campaign_id=campaign_id, status=RecipientStatus.PENDING).update(
        status=RecipientStatus.CANCELLED, lease_expires_at=None
    )


async def reconcile_expired(
    ctx: PlanContext, campaign: Campaign, device: Device, *, reconcile_after: float
) -> int:
    """Settle SENDING rows whose worker died; returns how many were settled.

    Such a send may have reached Meta before the worker died. Meta echoes our
    ``biz_opaque_callback_data`` in each status webhook of that message: a processed webhook
    has already recorded the provider's id on the row (``statuses.on_status_update``), and a
    webhook received but not processed yet (its job may have died with the same worker) is
    looked up here. A send no webhook mentions is tried again only once its lease has been over
    for ``reconcile_after`` seconds: Meta's "sent" webhook follows a send within seconds, but
    the API that stores it may be slow or briefly down, and Meta re-delivers.
    """
    stale = await CampaignRecipient.filter(
        campaign_id=campaign.id, status=RecipientStatus.SENDING, lease_expires_at__lt=clock.now()
    )
    if not stale:
        return 0
    unheard = [r for r in stale if not r.provider_message_id]
    if unheard:
        found = await statuses.lookup_unprocessed(device, unheard)
        for recipient in unheard:
            recipient.provider_message_id = found.get(recipient.id)
    given_up = clock.now() - timedelta(seconds=reconcile_after)
    settled = 0
    for recipient in stale:
        if recipient.provider_message_id:
            # Meta has the message. Never send it again.
            log.info("campaigns.reconciled_sent", recipient_id=recipient.id)
            await record_sent(ctx, campaign, device, recipient, recipient.provider_message_id)
            settled += 1
        elif recipient.lease_expires_at is not None and recipient.lease_expires_at < given_up:
            log.info("campaigns.reclaimed_unsent", recipient_id=recipient.id)
            settled += await CampaignRecipient.filter(
                id=recipient.id,
                status=RecipientStatus.SENDING,
                provider_message_id__isnull=True,
                lease_expires_at=recipient.lease_expires_at,
            ).update(status=RecipientStatus.PENDING, lease_owner=None, lease_expires_at=None)
    return settled


async def record_sent(
    ctx: PlanContext,
    campaign: Campaign,
    device: Device,
    recipient: CampaignRecipient,
    provider_message_id: str,
) -> None:
    broker = ctx.broker
    if recipient.message_id is not None:
        await Message.filter(id=recipient.message_id, provider_message_id__isnull=True).update(
            provider_message_id=provider_message_id
        )
        message = await Message.get(id=recipient.message_id)
        await advance_status(broker, message, MessageStatus.SENT)
        await reconcile(ctx, device, provider_message_id)
    await CampaignRecipient.filter(id=recipient.id, provider_message_id__isnull=True).update(
        provider_message_id=provider_message_id
    )
    await CampaignRecipient.filter(
        id=recipient.id, status__in=(RecipientStatus.CLAIMED, RecipientStatus.SENDING)
    ).update(
        status=RecipientStatus.SENT, sent_at=clock.now(), lease_owner=None, lease_expires_at=None
    )
    await progress.counts_changed(broker, campaign.organization_id, campaign.id)


def client_key(recipient_id: int) -> str:
    """The campaign message's idempotency key (``Message.client_message_id``)."""
    return callback_data(recipient_id)


async def record_sent_many(
    ctx: PlanContext,
    campaign: Campaign,
    device: Device,
    sent: list[tuple[Claimed, Queued, str]],
    *,
    patience: float = 0.0,
) -> None:
    """Record sends the provider accepted, in a few statements however many there are. Its
    database steps wait up to ``patience`` seconds for PostgreSQL when it is away: Meta has
    these messages, and a send not recorded would be reconciled, late, after its lease."""
    if not sent:
        return
    broker = ctx.broker
    at = clock.now()
    wamids = {message.id: wamid for _, message, wamid in sent}

    async def rows() -> None:
        # Both rows, and their events, in one transaction before anything that needs Redis: a
        # send recorded on the message but not on its recipient would be sent again once the
        # recipient's lease ran out. One round trip for the batch's events (in order) once it
        # committed, not one per message.
        async with events.transaction():
            await bulk.messages_sent(wamids, at)
            await bulk.recipients_sent({recipient.id: wamid for recipient, _, wamid in sent}, at)
            await events.publish_many(
                broker,
                [events.MessageEvent.of(message, "STATUS_CHANGED") for _, message, _ in sent],
            )

    context = {"campaign_id": campaign.id}
    await through_database_outage(rows, "record_sent", patience=patience, **context)
    metrics.CAMPAIGN_SENDS.inc(len(sent))
    metrics.MESSAGES_SENT.labels(str(device.id), "campaign").inc(len(sent))
    await telemetry.remember_send(broker.redis, list(wamids.values()))

    async def statuses_before_ids() -> None:
        # Statuses Meta sent before we knew the ids: apply them now.
        for wamid in await bulk.unmatched(device.id, list(wamids.values())):
            await reconcile(ctx, device, wamid)
        await progress.counts_changed(broker, campaign.organization_id, campaign.id)

    await through_database_outage(statuses_before_ids, "record_sent", patience=patience, **context)


@dataclass
class Sender:
    """Sends the recipients one worker claimed, paced by the device's shared limiter.

    A batch costs a handful of statements, not a handful per recipient: its conversations and
    messages are written in bulk before the sends, and the sends are recorded in bulk after.
    """

    # The process's runtime (statuses it reconciles move the plan's usage to Meta's category).
    runtime: PlanContext
    campaign: Campaign
    device: Device
    provider: Any
    limiter: DeviceLimiter
    owner: str
    lease: float
    still_running: Callable[[], Awaitable[bool]]
    # Told the ids of the messages each batch sent (the sandbox's network delivers them).
    on_sent: Callable[[list[int]], Awaitable[None]] | None = None
    # Counts each send against the organization's plan (and pauses the campaign at its limit).
    quota: CampaignQuota | None = None
    # Completes a payload before it goes (a template header's file: Meta's media id for it).
    complete_payload: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]] | None = None
    # When the last lease renewal began: every row this sender holds has a lease running at
    # least ``lease`` seconds from then (rows claimed since got theirs when claimed).
    renewed_at: float = field(default_factory=time.monotonic, init=False)
    # Bumped when a renewal came after our leases may have run out: rows claimed before then
    # may belong to another worker now, so the batches holding them stop sending.
    lapses: int = field(default=0, init=False)

    @property
    def broker(self) -> Broker:
        return self.runtime.broker

    async def renew_leases(self) -> None:
        """Extend the lease of every row this sender holds and has not settled."""
        started = time.monotonic()
        if started - self.renewed_at >= self.lease:
            self.lapses += 1
        await CampaignRecipient.filter(
            lease_owner=self.owner, status__in=(RecipientStatus.CLAIMED, RecipientStatus.SENDING)
        ).update(lease_expires_at=clock.now() + timedelta(seconds=self.lease))
        self.renewed_at = started

    def leases_confirmed(self) -> bool:
        """Whether our leases surely run for a while yet: a send after one ran out could meet
        the same recipient sent again by the worker that reclaimed it."""
        return time.monotonic() - self.renewed_at < self.lease * SEND_WITHIN_FRACTION

    @contextlib.asynccontextmanager
    async def keeping_leases(self) -> AsyncIterator[None]:
        """Renew our leases in the background while the block runs."""

        self.renewed_at = time.monotonic()
        async with background.every(self.lease * RENEW_FRACTION, self._confirm_leases):
            yield

    async def send_batch(self, batch: list[Claimed]) -> FailureReason | None:
        """Send a claimed batch; returns a failure that concerns the whole device, if any."""
        return await self.send_prepared(await self.prepare(batch))

    async def prepare(self, batch: list[Claimed]) -> Prepared:
        """Write the batch's messages and mark the recipients still ours SENDING."""
        messages = await self._messages_for(batch)
        if gone := [r.id for r in batch if r.id not in messages]:
            # Their contact was deleted since the audience was resolved: never sent to.
            await CampaignRecipient.filter(
                id__in=gone, lease_owner=self.owner, status=RecipientStatus.CLAIMED
            ).update(
                status=RecipientStatus.SKIPPED,
                reason=CONTACT_DELETED,
                lease_owner=None,
                lease_expires_at=None,
            )
            batch = [r for r in batch if r.id in messages]
        ours = await bulk.mark_sending(
            [r.id for r in batch], self.owner, clock.now() + timedelta(seconds=self.lease)
        )
        if len(ours) != len(batch):  # paused, cancelled or a lease lost meanwhile: send only ours
            batch = [r for r in batch if r.id in ours]
        if self.quota is not None:
            batch = await self.quota.take(batch, messages)
        return Prepared(batch, messages)

    async def send_prepared(self, prepared: Prepared) -> FailureReason | None:
        """Send a prepared batch and record what happened; returns a failure that concerns
        the whole device, if any."""
        batch, messages = prepared.batch, prepared.messages
        outcomes = await self._dispatch(batch, messages)
        sent = [(r, messages[r.id], outcomes.get(r.id)) for r in batch]
        accepted = [(r, m, o) for r, m, o in sent if isinstance(o, str)]
        # Within our leases: a send recorded later than that could be reconciled meanwhile.
        patience = self.lease * SEND_WITHIN_FRACTION
        unsent = [r.id for r, _, o in sent if o is None]
        if unsent:  # stopped before their turn: never handed to the provider
            # First, and with the database only: a step below that needs Redis may fail while
            # Redis is away, and rows left SENDING would wait out their lease and the
            # reconcile delay before anyone sent them.
            await through_database_outage(
                lambda: self.hand_back_unsent(unsent),
                "hand_back_unsent",
                patience=patience,
                campaign_id=self.campaign.id,
            )
        await record_sent_many(
            self.runtime, self.campaign, self.device, accepted, patience=patience
        )
        if self.on_sent is not None and accepted:
            await self.on_sent([message.id for _, message, _ in accepted])
        if unsent and self.quota is not None:  # not sent: not counted
            await self.quota.give_back_many([messages[r].id for r in unsent])
        device_failure: FailureReason | None = None
        for recipient, message, outcome in sent:
            if isinstance(outcome, ProviderError):
                failure = await through_database_outage(
                    partial(self._failed, recipient, message, outcome),
                    "record_failure",
                    patience=patience,
                    campaign_id=self.campaign.id,
                )
                device_failure = device_failure or failure
        return device_failure

    async def hand_back_unsent(self, ids: list[int]) -> int:
        """SENDING → PENDING for rows of ours never handed to the provider; how many."""
        return await CampaignRecipient.filter(
            id__in=ids, lease_owner=self.owner, status=RecipientStatus.SENDING
        ).update(
            status=RecipientStatus.PENDING,
            attempts=F("attempts") - 1,
            lease_owner=None,
            lease_expires_at=None,
        )

    async def _confirm_leases(self) -> None:
        try:
            await self.renew_leases()
        except Exception:  # a database hiccup: sends wait until a renewal succeeds
            log.warning("campaigns.lease_renewal_failed", owner=self.owner, exc_info=True)

    async def _dispatch(
        self, batch: list[Claimed], messages: dict[int, Queued]
    ) -> dict[int, str | ProviderError]:
        """Send each recipient at a slot of the device's shared timeline; outcomes by id.

        Slots are reserved a run at a time; each send goes out at its slot without waiting for
        the ones before it to be answered. A send that would leave too late for its slot (a
        busy event loop, a slow wake-up) does not go: it would crowd the next second, so the
        recipient takes a later slot, as does a send Meta refused as over the rate (130429, up
        to RATE_LIMITED_RETRIES times; the provider hands it back instead of retrying it between
        slots). Recipients left when the campaign stops, or when our leases lapsed, have no
        outcome.
        """
        outcomes: dict[int, str | ProviderError] = {}
        refusals: Counter[int] = Counter()
        waiting = deque(batch)
        rate = self.device.messages_per_second
        lapses = self.lapses
        stopped = False
        while waiting and not stopped and await self.still_running():
            calls: list[tuple[Claimed, asyncio.Task[str | ProviderError | None]]] = []
            while waiting and not stopped and await self.still_running():
                try:
                    slots = await self.limiter.reserve(self.device.id, rate, len(waiting))
                except (RedisError, OSError) as error:
                    # The sends already on their way are recorded; the rest wait for Redis.
                    log.warning("campaigns.limiter_unavailable", error=type(error).__name__)
                    stopped = True
                    break
                for index in range(slots.count):
                    at = slots.at(index)
                    delay = at - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    if not await self.still_running():
                        break  # paused or cancelled while waiting for a slot
                    if not self.leases_confirmed():
                        await self._confirm_leases()  # the background renewal is late
                    if not self.leases_confirmed() or self.lapses != lapses:
                        stopped = True  # stalled past our leases: the rows may be others' now
                        break
                    if time.monotonic() - at > LATE_SECONDS:
                        continue
                    recipient = waiting.popleft()
                    task = asyncio.create_task(self._send(recipient, messages[recipient.id], at))
                    calls.append((recipient, task))
                    if not waiting:
                        break
            answers = await asyncio.gather(*(task for _, task in calls))
            for (recipient, _), answer in zip(calls, answers, strict=True):
                if answer is None:
                    waiting.append(recipient)  # too late to go: a later slot
                elif _refused(answer) and refusals[recipient.id] < RATE_LIMITED_RETRIES:
                    # Meta turned it away (not sent): again at a later slot of the limiter.
                    refusals[recipient.id] += 1
                    waiting.append(recipient)
                else:
                    outcomes[recipient.id] = answer
        return outcomes

    async def _send(
        self, recipient: Claimed, message: Queued, slot: float
    ) -> str | ProviderError | None:
        """The provider's message id, its error, or None if it is too late for ``slot``."""
        if time.monotonic() - slot > LATE_SECONDS:
            return None
        try:
            payload = message.payload
            if self.complete_payload is not None:
                payload = await self.complete_payload(payload)
            outbound = OutboundMessage(
                to=recipient.phone,
                type=WireType.TEXT if message.type is MessageType.TEXT else WireType.TEMPLATE,
                payload=payload,
                biz_opaque_callback_data=callback_data(recipient.id),
            )
            result = await self.provider.send(outbound)
        except ProviderError as error:
            return error
        return str(result.provider_message_id)

    async def _messages_for(self, batch: list[Claimed]) -> dict[int, Queued]:
        """Each recipient's message (QUEUED), created in bulk where missing; by recipient id."""
        recipients = {r.message_id: r.id for r in batch if r.message_id is not None}
        messages: dict[int, Queued] = {}
        if recipients:  # a retry: its message was made before
            for message in await bulk.messages_by_id(list(recipients)):
                messages[recipients[message.id]] = message
        missing = [r for r in batch if r.id not in messages]
        if not missing:
            return messages
        conversations = await self._conversations_for(
            [r.contact_id for r in missing if r.contact_id is not None]
        )
        org_id, device_id = self.campaign.organization_id, self.device.id
        kind = MessageType.TEXT if self.campaign.text is not None else MessageType.TEMPLATE
        # Client message id → (recipient id, conversation id, payload).
        new = {
            client_key(r.id): (r.id, conversations[r.contact_id], self._payload(r))
            for r in missing
            if r.contact_id in conversations
        }
        if not new:
            return messages
        # The key is unique per organization: a retried batch finds the rows it made before.
        created = await bulk.create_messages(
            org_id,
            device_id,
            kind,
            self.campaign.created_by_id,
            # A text's payload holds its body; a template has none.
            [(c, payload.get("body"), payload, key) for key, (_, c, payload) in new.items()],
            clock.now(),
        )
        earlier = [key for key in new if key not in created]
        found = await bulk.messages_by_key(org_id, earlier) if earlier else {}
        for key, (rid, conversation, payload) in new.items():
            if key in created:
                messages[rid] = Queued(created[key], org_id, conversation, device_id, kind, payload)
            elif key in found:
                messages[rid] = found[key]
        await bulk.link_messages({r.id: messages[r.id].id for r in missing if r.id in messages})
        return messages

    def _payload(self, recipient: Claimed) -> dict[str, Any]:
        if self.campaign.text is not None:
            return {"body": recipient.variables["text"]}
        payload: dict[str, Any] = {
            "name": self.campaign.template_name,
            "language": self.campaign.template_language,
        }
        if parameters := list(recipient.variables.get("parameters", [])):
            payload["parameters"] = parameters
        for part in ("header", "buttons"):
            if recipient.variables.get(part):
                payload[part] = recipient.variables[part]
        return payload

    async def _conversations_for(self, contact_ids: list[int]) -> dict[int, int]:
        """Contact id → conversation id on this device, creating the missing ones in bulk."""
        ids = sorted(set(contact_ids))
        if not ids:
            return {}
        found = await bulk.conversations(self.device.id, ids)
        missing = [i for i in ids if i not in found]
        if not missing:
            return found
        org_id, device_id = self.device.organization_id, self.device.id
        async with events.transaction():
            created = await bulk.create_conversations(org_id, device_id, missing, clock.now())
            await events.publish_many(
                self.broker,
                [
                    events.ConversationEvent("CREATED", org_id, pk, device_id)
                    for pk in created.values()
                ],
            )
        found |= created
        if len(created) < len(missing):  # another worker created some meanwhile
            found |= await bulk.conversations(device_id, [i for i in missing if i not in found])
        return found

    async def _failed(
        self, recipient: Claimed, queued: Queued, error: ProviderError
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
        metrics.provider_error(error.code, error.failure)
        if error.retryable and error.http_status is None and error.code is None:
            # The request may have reached Meta: leave it SENDING but no longer ours (so no
            # longer renewed); when its lease runs out it is reconciled against the status
            # webhooks before it is ever sent again.
            await CampaignRecipient.filter(
                id=recipient.id, lease_owner=self.owner, status=RecipientStatus.SENDING
            ).update(lease_owner=None)
            return None
        if error.retryable and attempts < MAX_ATTEMPTS:
            pair = error.failure is FailureReason.PAIR_RATE_LIMITED
            backoff = min(60.0, (5.0 if pair else 1.0) * 2 ** (attempts - 1))
            await CampaignRecipient.filter(id=recipient.id, status=RecipientStatus.SENDING).update(
                status=RecipientStatus.PENDING,
                lease_owner=None,
                lease_expires_at=clock.now() + timedelta(seconds=backoff),  # not claimable before
            )
            return None
        reason = f"{error.failure}: {error.details or error.message}"
        metrics.MESSAGES_FAILED.labels(str(self.device.id), "campaign").inc()
        await CampaignRecipient.filter(id=recipient.id, status=RecipientStatus.SENDING).update(
            status=RecipientStatus.FAILED,
            reason=reason,
            error_code=error.code,
            lease_owner=None,
            lease_expires_at=None,
        )
        if self.quota is not None:
            await self.quota.give_back(queued.id)
        message = await Message.get(id=queued.id)
        await advance_status(
            self.broker, message, MessageStatus.FAILED, error_code=error.code, error_message=reason
        )
        await progress.counts_changed(self.broker, self.campaign.organization_id, self.campaign.id)
        return error.failure if error.failure.device_status is not None else None


def _refused(answer: str | ProviderError) -> bool:
    return isinstance(answer, ProviderError) and answer.failure is FailureReason.RATE_LIMITED


async def pause_briefly() -> None:
    await asyncio.sleep(0.2)
