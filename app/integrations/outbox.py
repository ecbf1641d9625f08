"""The outbox: every live event of an organization with webhooks, written to the database
before it is published, then turned into deliveries.

What is guaranteed (README, "Webhooks"): the outbox row is written by the events seam
(``app.platform.events.publish``) on the connection of the change, before the event reaches
Redis. When the change runs in a transaction (``in_transaction``), the row is part of it:
committed with it, rolled back with it, so no event is sent for a change that rolled back.
Where the change was committed by itself (most of the messaging pipeline commits each
statement), the row follows the commit within the same coroutine, before any other await
that could fail on purpose; the gap is a process dying between two statements. Nothing is
lost between the outbox and the queue: a row is dispatched by a job, and a sweep every second
dispatches any row a lost job left behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import orjson
import structlog
from tortoise.transactions import in_transaction

from app.integrations import batons
from app.integrations.jobs import DELIVER_WEBHOOK, DISPATCH_WEBHOOK_EVENTS
from app.models.accounts import Membership, User
from app.models.integrations import (
    OutboxEvent,
    Webhook,
    WebhookDelivery,
    WebhookDeliveryStatus,
)
from app.platform import clock
from app.platform.events import LiveEvent
from app.platform.runtime import Runtime

log = structlog.get_logger("parley.webhooks")

DISPATCH_BATCH = 100
# A job hands over to the next after this long (its baton lasts longer: app.integrations.batons).
WORK_SECONDS = 20.0
_runtime: Runtime | None = None


def attach(runtime: Runtime | None) -> None:
    """The runtime a process announces new outbox rows with (unset: the sweep finds them)."""
    global _runtime
    _runtime = runtime


async def record(live_events: Sequence[LiveEvent]) -> None:
    """The events seam's recorder: outbox rows for events some active webhook listens to."""
    organizations = {event.organization_id for event in live_events}
    wanted = set(
        await Webhook.filter(organization_id__in=organizations, active=True)
        .distinct()
        .values_list("organization_id", "topic")
    )
    rows = []
    for event in live_events:
        if (event.organization_id, event.topic) in wanted:
            payload = event.payload()
            rows.append(
                OutboxEvent(
                    organization_id=event.organization_id,
                    topic=event.topic,
                    kind=str(payload.get("kind", "")),
                    payload=payload,
                )
            )
    if not rows:
        return
    await OutboxEvent.bulk_create(rows)
    if _runtime is not None:
        for organization_id in {row.organization_id for row in rows}:
            await announce(_runtime, organization_id)


async def announce(runtime: Runtime, organization_id: int) -> None:
    await batons.announce(
        runtime.redis,
        runtime.queues,
        DISPATCH_WEBHOOK_EVENTS,
        organization_id,
        argument="organization_id",
    )


async def deliver_soon(runtime: Runtime, webhook_id: int) -> None:
    await batons.announce(
        runtime.redis, runtime.queues, DELIVER_WEBHOOK, webhook_id, argument="webhook_id"
    )


@dataclass(frozen=True, slots=True)
class Performer:
    """Who a document runs as: a webhook's service user and its membership."""

    user: User
    membership: Membership
    webhook_id: int


class DocumentRunner(Protocol):
    """Runs a subscription document for one event as ``performer``: the result's ``data``,
    or None when the document lets the event through to nobody (another conversation).
    ``app.live.webhooks`` provides it (the domain cannot import the schema)."""

    async def __call__(
        self, runtime: Runtime, query: str, performer: Performer, event: dict[str, Any]
    ) -> dict[str, Any] | None: ...


_runner: DocumentRunner | None = None


def install_runner(runner: DocumentRunner) -> None:
    global _runner
    _runner = runner


async def dispatch(runtime: Runtime, organization_id: int) -> None:
    """Writes the deliveries of the organization's undispatched outbox rows, in order, one
    job at a time per organization."""
    await batons.run_with_baton(
        runtime.redis,
        runtime.queues,
        DISPATCH_WEBHOOK_EVENTS,
        organization_id,
        lambda: dispatch_batch(runtime, organization_id),
        argument="organization_id",
        budget_seconds=WORK_SECONDS,
    )


async def dispatch_batch(runtime: Runtime, organization_id: int) -> bool:
    """One batch of undispatched rows; each (document, role) runs once per event, whatever
    the number of webhooks sharing it. True when the batch was full (there may be more)."""
    if _runner is None:
        raise RuntimeError("no document runner installed (app.live.webhooks.install)")
    rows = (
        await OutboxEvent.filter(organization_id=organization_id, dispatched_at=None)
        .order_by("id")
        .limit(DISPATCH_BATCH)
    )
    if rows:
        webhooks = await Webhook.filter(organization_id=organization_id, active=True).order_by("id")
        groups: dict[tuple[str, str, str], list[Webhook]] = {}
        for webhook in webhooks:
            groups.setdefault((webhook.topic, webhook.query, webhook.role.value), []).append(
                webhook
            )
        performers = await _performers([group[0] for group in groups.values()])
        touched: set[int] = set()
        now = clock.now()
        retry_until = now + timedelta(seconds=runtime.settings.webhook_retry_window_seconds)
        deliveries = []
        for row in rows:
            for (topic, query, _), members in groups.items():
                performer = performers.get(members[0].id)
                if topic != row.topic or performer is None:
                    continue
                try:
                    data = await _runner(runtime, query, performer, row.payload)
                except Exception:
                    log.exception("webhook_document_failed", webhook_id=members[0].id)
                    continue
                if data is None:
                    continue
                body = _body(row, data)
                for webhook in members:
                    deliveries.append(
                        WebhookDelivery(
                            webhook_id=webhook.id,
                            event_id=row.id,
                            organization_id=organization_id,
                            body=body,
                            status=WebhookDeliveryStatus.PENDING,
                            next_attempt_at=now,
                            retry_until=retry_until,
                        )
                    )
                    touched.add(webhook.id)
        # Written once per (webhook, event): a rerun after a crash adds nothing. The batch's
        # rows are marked in the same transaction as its deliveries.
        async with in_transaction():
            if deliveries:
                await WebhookDelivery.bulk_create(deliveries, ignore_conflicts=True)
            await OutboxEvent.filter(id__in=[row.id for row in rows]).update(dispatched_at=now)
        for webhook_id in sorted(touched):
            await deliver_soon(runtime, webhook_id)
    return len(rows) == DISPATCH_BATCH


async def _performers(webhooks: Sequence[Webhook]) -> dict[int, Performer]:
    if not webhooks:
        return {}
    memberships = await Membership.filter(
        user_id__in=[w.user_id for w in webhooks], organization_id=webhooks[0].organization_id
    ).select_related("user", "organization")
    by_user = {m.user_id: m for m in memberships}
    found = {}
    for webhook in webhooks:
        membership = by_user.get(webhook.user_id)
        if membership is not None:
            found[webhook.id] = Performer(membership.user, membership, webhook.id)
    return found


def event_id(row_id: int) -> str:
    return f"evt_{row_id}"


def _body(row: OutboxEvent, data: dict[str, Any]) -> str:
    return orjson.dumps(
        {
            "id": event_id(row.id),
            "event": f"{row.topic}.{row.kind}",
            "createdAt": row.created_at.isoformat(),
            "data": data,
        }
    ).decode()
