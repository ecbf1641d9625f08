"""The outbox: every live event of an organization with webhooks, written to the database
before it is published, then turned into deliveries.

What is guaranteed (README, "Webhooks"): the outbox row is written by the events seam
(``app.platform.events.transaction``) in the transaction of the change that caused the event,
before the event reaches Redis: committed with it, rolled back with it, so no event is lost
between the commit and the queue and none is sent for a change that rolled back. A row is
dispatched by a job queued after the commit, and a sweep every second dispatches any row
whose job was never queued (the process died, Redis was away) or was lost.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any, Protocol

import orjson
import structlog
from tortoise.transactions import in_transaction

from app.integrations import active_webhooks, batons
from app.integrations.active_webhooks import ActiveWebhooks
from app.integrations.jobs import DELIVER_WEBHOOK, DISPATCH_WEBHOOK_EVENTS
from app.models.accounts import Membership, User
from app.models.integrations import (
    OutboxEvent,
    Webhook,
    WebhookDelivery,
    WebhookDeliveryStatus,
)
from app.plans.features import organizations_with
from app.plans.limits import Feature
from app.platform import clock
from app.platform.events import LiveEvent, Written
from app.platform.runtime import Runtime

log = structlog.get_logger("parley.webhooks")

DISPATCH_BATCH = 100
DOCUMENTS_AT_ONCE = 16
# A job hands over to the next after this long (its baton lasts longer: app.integrations.batons).
WORK_SECONDS = 20.0
# The runtimes of this process that announce new outbox rows, each with its cache of the
# organizations' active webhooks (the last attached is used; a process without one reads the
# database and leaves its rows to the sweep). Tests run several apps in one process.
_runtimes: list[tuple[Runtime, ActiveWebhooks]] = []


async def attach(runtime: Runtime) -> None:
    cache = ActiveWebhooks(runtime.broker)
    active_webhooks.register(cache)
    _runtimes.append((runtime, cache))


async def detach(runtime: Runtime) -> None:
    for attached in [a for a in _runtimes if a[0] is runtime]:
        _runtimes.remove(attached)
        await active_webhooks.unregister(attached[1])


async def record(live_events: Sequence[LiveEvent], written: Written) -> None:
    """The events seam's recorder: outbox rows for events some active webhook listens to,
    written in the transaction of the change that caused them, with each (document, role)'s
    result computed now, where the event happens, so a delivery carries what a WebSocket
    subscriber of the same document saw (a row without a result, written by a process
    without a runner or whose run failed, is run by the dispatch). Their dispatch is queued
    once the change committed."""
    runtime, cache = _runtimes[-1] if _runtimes else (None, None)
    organizations = {event.organization_id for event in live_events}
    if cache is not None:
        webhooks = await cache.of(organizations)
    else:
        webhooks = await Webhook.filter(organization_id__in=organizations, active=True).order_by(
            "id"
        )
    webhooks = await _sending(webhooks)
    if not webhooks:
        return
    topics = {(w.organization_id, w.topic) for w in webhooks}
    rows = []
    for event in live_events:
        if (event.organization_id, event.topic) in topics:
            payload = event.payload()
            rows.append(
                OutboxEvent(
                    organization_id=event.organization_id,
                    topic=event.topic,
                    kind=str(payload.get("kind", "")),
                    payload=payload,
                    results={},
                )
            )
    if not rows:
        return
    if runtime is not None and _runner is not None:
        await _compute_results(runtime, rows, webhooks)
    await OutboxEvent.bulk_create(rows)
    if runtime is not None:
        for organization_id in sorted({row.organization_id for row in rows}):
            written.after_commit.append(partial(announce, runtime, organization_id))


async def _compute_results(
    runtime: Runtime, rows: list[OutboxEvent], webhooks: list[Webhook]
) -> None:
    groups = _groups(webhooks)
    performers = await _performers([members[0] for members in groups.values()])
    runs = [
        (row, key, performer)
        for row in rows
        for key, members in groups.items()
        if key[0] == row.organization_id
        and key[1] == row.topic
        and (performer := performers.get(members[0].id)) is not None
    ]
    gate = asyncio.Semaphore(DOCUMENTS_AT_ONCE)
    results = await asyncio.gather(
        *(_run(gate, runtime, key[2], performer, row) for row, key, performer in runs)
    )
    for (row, key, _), result in zip(runs, results, strict=True):
        if result is not _FAILED:
            row.results[result_key(key)] = result


async def _sending(webhooks: list[Webhook]) -> list[Webhook]:
    """The webhooks whose organization's plan includes outbound webhooks: while it does not
    (a downgrade), its events are neither recorded nor delivered."""
    if not webhooks:
        return webhooks
    allowed = await organizations_with(
        sorted({w.organization_id for w in webhooks}), Feature.OUTBOUND_WEBHOOKS
    )
    return [w for w in webhooks if w.organization_id in allowed]


GroupKey = tuple[int, str, str, str]  # organization, topic, document, role


def _groups(webhooks: Sequence[Webhook]) -> dict[GroupKey, list[Webhook]]:
    """Webhooks that share a document and role share its result."""
    groups: dict[GroupKey, list[Webhook]] = {}
    for webhook in webhooks:
        key = (webhook.organization_id, webhook.topic, webhook.query, webhook.role.value)
        groups.setdefault(key, []).append(webhook)
    return groups


def result_key(key: GroupKey) -> str:
    return key[3] + ":" + hashlib.sha256(key[2].encode()).hexdigest()[:32]


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
        webhooks = await _sending(
            await Webhook.filter(organization_id=organization_id, active=True).order_by("id")
        )
        # Rows of a plan without outbound webhooks are marked dispatched with no deliveries.
        groups = _groups(webhooks)
        touched: set[int] = set()
        now = clock.now()
        retry_until = now + timedelta(seconds=runtime.settings.webhook_retry_window_seconds)
        # Results computed where the event happened are used as they are; the rest run now
        # (concurrently: each mostly waits on the database). Deliveries keep the events' order
        # through their event ids.
        missing = [
            (row, key)
            for row in rows
            for key in groups
            if key[1] == row.topic and result_key(key) not in (row.results or {})
        ]
        if missing:
            performers = await _performers([groups[key][0] for _, key in missing])
            gate = asyncio.Semaphore(DOCUMENTS_AT_ONCE)
            computed = await asyncio.gather(
                *(
                    _run(gate, runtime, key[2], performer, row)
                    for row, key in missing
                    if (performer := performers.get(groups[key][0].id)) is not None
                )
            )
            found = [
                (row, key) for row, key in missing if performers.get(groups[key][0].id) is not None
            ]
            for (row, key), result in zip(found, computed, strict=True):
                row.results = {
                    **(row.results or {}),
                    result_key(key): None if result is _FAILED else result,
                }
        runs = [
            (row, members, row.results.get(result_key(key)))
            for row in rows
            for key, members in groups.items()
            if key[1] == row.topic and result_key(key) in (row.results or {})
        ]
        deliveries = []
        for row, members, data in runs:
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


_FAILED: Any = object()


async def _run(
    gate: asyncio.Semaphore,
    runtime: Runtime,
    query: str,
    performer: Performer,
    row: OutboxEvent,
) -> Any:
    """The document's data for the event, None when it lets the event through to nobody,
    ``_FAILED`` when it failed (logged; the event gets no delivery from it)."""
    assert _runner is not None
    async with gate:
        try:
            return await _runner(runtime, query, performer, row.payload)
        except Exception:
            log.exception("webhook_document_failed", webhook_id=performer.webhook_id)
            return _FAILED


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
