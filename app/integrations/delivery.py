"""Sending a webhook's deliveries: signed, bounded, retried with backoff, then dead-lettered.

- Each attempt POSTs the delivery's stored body (the same bytes every time) with
  ``X-Parley-Signature`` (``app.integrations.signing``), ``X-Parley-Delivery`` (the delivery's
  id: the same on every retry, so a receiver accepts each once) and ``X-Parley-Event``.
- A 2xx answer delivers it. Anything else (another status, a timeout, a refused address, a
  redirect to another host) fails the attempt: the next one is due after 10 s × 2^(n-1),
  at most an hour, ±20 % jitter, until ``webhook_retry_window_seconds`` (24 h) after the
  event; an attempt failing after that leaves the delivery DEAD (redeliver sends it again).
- Connect timeout 5 s, 10 s for the whole attempt, the response read to 4 KB at most,
  redirects followed only to the same host (3 at most).
- An ordered webhook (its document names one conversation) is sent one delivery at a time in
  event order, and stops at a failure: nothing overtakes an event that failed. Others are
  sent concurrently.
- A webhook whose every attempt failed for ``webhook_pause_after_failing_seconds`` is paused
  and the organization's owners are emailed.
- While the organization's plan lacks ``outbound_webhooks`` nothing is sent: due deliveries
  are held (looked at again every HELD_SECONDS) and go out once the plan has it again.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urljoin, urlsplit

import aiohttp
import structlog
from tortoise import connections

from app.accounts.mail import queue_mail
from app.integrations import active_webhooks, addresses, batons, signing
from app.integrations.jobs import DELIVER_WEBHOOK
from app.models.accounts import Membership, Role
from app.models.integrations import Webhook, WebhookDelivery, WebhookDeliveryStatus
from app.plans.features import organizations_with
from app.plans.limits import Feature
from app.platform import clock, metrics
from app.platform.config import Settings
from app.platform.ids import to_global_id
from app.platform.runtime import Runtime
from app.platform.security import decrypt_secret
from app.platform.sql import Binder

log = structlog.get_logger("parley.webhooks")

CONNECT_TIMEOUT = 5.0
TOTAL_TIMEOUT = 10.0
MAX_RESPONSE_BYTES = 4096
MAX_REDIRECTS = 3
FIRST_RETRY_SECONDS = 10.0
LONGEST_RETRY_SECONDS = 3600.0
# A pass sends at most BATCH deliveries, all at once, so it ends within one attempt's timeout
# (an ordered webhook's pass, one at a time, stops after ORDERED_PASS_SECONDS): its outcomes
# are written before the job's time (BATON_SECONDS) can run out, however slow the receiver.
CONCURRENCY = 64
BATCH = 64
ORDERED_PASS_SECONDS = 10.0
# A drain hands over to the next job after this long (SAQ's job timeout is longer).
DRAIN_SECONDS = 10.0
# The columns an attempt sets, with their PostgreSQL types (app.platform.sql.Binder.table).
OUTCOME_COLUMNS = [
    ("attempts", "int"),
    ("status", "text"),
    ("last_status_code", "int"),
    ("last_error", "text"),
    ("last_response", "text"),
    ("last_latency_ms", "int"),
    ("delivered_at", "timestamptz"),
    ("next_attempt_at", "timestamptz"),
    ("updated_at", "timestamptz"),
]
UNDELIVERED = (WebhookDeliveryStatus.PENDING, WebhookDeliveryStatus.FAILED)
# Deliveries held while the plan lacks outbound webhooks are looked at again this much later
# (so the sweep does not queue them every second); they go out after an upgrade.
HELD_SECONDS = 60.0

# aiohttp rather than httpx here: at a thousand deliveries a second httpcore's connection
# pool cost more CPU than everything else a delivery does (bench/webhook_delivery.py).
_client: aiohttp.ClientSession | None = None


def _http(settings: Settings) -> aiohttp.ClientSession:
    global _client
    if _client is None or _client.closed:
        resolver = None if settings.webhook_private_urls_allowed else addresses.GuardedResolver()
        _client = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=256, limit_per_host=0, resolver=resolver),
            timeout=aiohttp.ClientTimeout(total=TOTAL_TIMEOUT, connect=CONNECT_TIMEOUT),
            trust_env=False,
            auto_decompress=False,
        )
    return _client


async def close_client() -> None:
    global _client
    if _client is not None:
        await _client.close()
        _client = None


def retry_delay(attempts: int) -> float:
    """Seconds before the attempt after ``attempts`` failed ones."""
    base = min(FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1), LONGEST_RETRY_SECONDS)
    return base * random.uniform(0.8, 1.2)


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    status_code: int | None
    error: str | None
    response: str | None
    latency_ms: int


async def drain(runtime: Runtime, webhook_id: int) -> None:
    """Sends the webhook's due deliveries, one job at a time per webhook."""
    await batons.run_with_baton(
        runtime.redis,
        runtime.queues,
        DELIVER_WEBHOOK,
        webhook_id,
        lambda: drain_pass(runtime, webhook_id),
        argument="webhook_id",
        budget_seconds=DRAIN_SECONDS,
    )


async def drain_pass(runtime: Runtime, webhook_id: int) -> bool:
    """One batch of the webhook's due deliveries; True when there may be more due now."""
    webhook = await Webhook.get_or_none(id=webhook_id)
    if webhook is None or not webhook.active:
        return False
    now = clock.now()
    if not await organizations_with([webhook.organization_id], Feature.OUTBOUND_WEBHOOKS):
        await _hold(webhook, now)
        return False
    if webhook.ordered:
        head = (
            await WebhookDelivery.filter(webhook_id=webhook.id, status__in=UNDELIVERED)
            .order_by("event_id")
            .limit(BATCH)
        )
        due = []
        for delivery in head:  # in order, up to the first that is not due yet
            if delivery.next_attempt_at is not None and delivery.next_attempt_at > now:
                break
            due.append(delivery)
    else:
        due = (
            await WebhookDelivery.filter(
                webhook_id=webhook.id, status__in=UNDELIVERED, next_attempt_at__lte=now
            )
            .order_by("event_id")
            .limit(BATCH)
        )
    if not due:
        return False
    secrets = _signing_secrets(runtime, webhook)
    if webhook.ordered:
        results = []
        started = time.monotonic()
        for delivery in due:
            ok = await attempt(runtime, webhook, secrets, delivery)
            results.append(ok)
            if not ok or time.monotonic() - started > ORDERED_PASS_SECONDS:
                break
        tried = due[: len(results)]
    else:
        gate = asyncio.Semaphore(CONCURRENCY)
        results = list(
            await asyncio.gather(
                *(_bounded(gate, attempt(runtime, webhook, secrets, d)) for d in due)
            )
        )
        tried = due
    # One statement for the batch's outcomes. A crash before it sends them again, with the
    # same X-Parley-Delivery: receivers accept each id once.
    await _record_outcomes(tried)
    if not all(results):
        if not await _note_failure(runtime, webhook):
            return False  # paused
        # An ordered webhook's head waits for its retry: nothing overtakes it.
        return not webhook.ordered and len(due) == BATCH
    if webhook.failing_since is not None:
        await Webhook.filter(id=webhook.id).update(failing_since=None)
    return len(tried) == BATCH or len(tried) < len(due)


async def _hold(webhook: Webhook, now: datetime) -> None:
    """The plan lost outbound webhooks: nothing is sent; what was due waits (in its order)
    and is looked at again in HELD_SECONDS."""
    await WebhookDelivery.filter(
        webhook_id=webhook.id, status__in=UNDELIVERED, next_attempt_at__lte=now
    ).update(next_attempt_at=now + timedelta(seconds=HELD_SECONDS))


async def _record_outcomes(tried: Sequence[WebhookDelivery]) -> None:
    """Write each attempt's outcome, for the whole batch in one statement written by hand: the
    queryset's bulk_update composed a CASE per column and row, which cost more CPU than the
    attempts themselves (bench/webhook_delivery.py, profiled on PostgreSQL)."""
    if not tried:
        return
    connection = connections.get("default")
    bind = Binder(connection)
    sql = bind.update_from(
        WebhookDelivery._meta.db_table,
        [("id", "bigint"), *OUTCOME_COLUMNS],
        [(d.id, *(_db_value(getattr(d, column)) for column, _ in OUTCOME_COLUMNS)) for d in tried],
    )
    await connection.execute_query(sql, bind.params)


def _db_value(value: object) -> object:
    return value.value if isinstance(value, WebhookDeliveryStatus) else value


async def _bounded(gate: asyncio.Semaphore, work: Awaitable[bool]) -> bool:
    async with gate:
        return await work


async def attempt(
    runtime: Runtime, webhook: Webhook, secrets: list[str], delivery: WebhookDelivery
) -> bool:
    """One attempt; its outcome is set on ``delivery`` (the caller writes the batch)."""
    outcome = await send(runtime, webhook.url, secrets, delivery)
    now = clock.now()
    delivery.attempts += 1
    delivery.last_status_code = outcome.status_code
    delivery.last_error = outcome.error
    delivery.last_response = outcome.response
    delivery.last_latency_ms = outcome.latency_ms
    delivery.updated_at = now
    if outcome.ok:
        delivery.status = WebhookDeliveryStatus.DELIVERED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
    elif now >= delivery.retry_until:
        delivery.status = WebhookDeliveryStatus.DEAD
        delivery.next_attempt_at = None
    else:
        delivery.status = WebhookDeliveryStatus.FAILED
        delivery.next_attempt_at = now + timedelta(seconds=retry_delay(delivery.attempts))
    metrics.outbound_webhook_delivered(
        "delivered"
        if outcome.ok
        else "gave_up"
        if delivery.status is WebhookDeliveryStatus.DEAD
        else "failed",
        outcome.latency_ms / 1000 if outcome.latency_ms is not None else 0.0,
    )
    return outcome.ok


async def send(
    runtime: Runtime, url: str, secrets: list[str], delivery: WebhookDelivery
) -> Outcome:
    body = delivery.body.encode()
    headers = {
        "content-type": "application/json",
        "user-agent": "Parley-Webhooks/1",
        "x-parley-delivery": to_global_id("WebhookDelivery", delivery.id),
        "x-parley-event": f"evt_{delivery.event_id}",
        "x-parley-signature": signing.sign(secrets, int(clock.timestamp()), body),
    }
    started = time.monotonic()
    try:
        async with asyncio.timeout(TOTAL_TIMEOUT):
            status, text = await _post(runtime, url, headers, body)
    except addresses.UrlRefused as error:
        return Outcome(False, None, str(error), None, _since(started))
    except TimeoutError:
        return Outcome(False, None, "timed out", None, _since(started))
    except (aiohttp.ClientError, OSError) as error:
        return Outcome(False, None, f"{type(error).__name__}: {error}"[:500], None, _since(started))
    return Outcome(
        200 <= status < 300,
        status,
        None if status < 300 else f"HTTP {status}",
        text,
        _since(started),
    )


async def _post(
    runtime: Runtime, url: str, headers: dict[str, str], body: bytes
) -> tuple[int, str]:
    origin = _origin(url)
    for _ in range(MAX_REDIRECTS + 1):
        await addresses.check_destination(runtime.settings, url)
        async with _http(runtime.settings).post(
            url, headers=headers, data=body, allow_redirects=False
        ) as response:
            # At most 4 KB is read; the rest of a large answer is dropped with the connection.
            text = (await response.content.read(MAX_RESPONSE_BYTES)).decode("utf-8", "replace")
            location = response.headers.get("location")
            if response.status not in (301, 302, 303, 307, 308) or not location:
                return response.status, text
        url = urljoin(url, location)
        if _origin(url) != origin:
            raise addresses.UrlRefused("Redirect to another host refused.")
    raise addresses.UrlRefused("Too many redirects.")


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _signing_secrets(runtime: Runtime, webhook: Webhook) -> list[str]:
    secrets = [decrypt_secret(runtime.settings, webhook.secret_encrypted)]
    if (
        webhook.previous_secret_encrypted
        and webhook.previous_secret_until is not None
        and webhook.previous_secret_until > clock.now()
    ):
        secrets.append(decrypt_secret(runtime.settings, webhook.previous_secret_encrypted))
    return secrets


async def _note_failure(runtime: Runtime, webhook: Webhook) -> bool:
    """Records that the webhook is failing; False when it has failed long enough to be paused
    (and is paused now)."""
    now = clock.now()
    if webhook.failing_since is None:
        webhook.failing_since = now
        await Webhook.filter(id=webhook.id, failing_since=None).update(failing_since=now)
        return True
    if now - webhook.failing_since < timedelta(
        seconds=runtime.settings.webhook_pause_after_failing_seconds
    ):
        return True
    paused = await Webhook.filter(id=webhook.id, active=True).update(
        active=False, paused_reason="Every delivery failed for a day."
    )
    webhook.active = False
    if paused:
        log.warning("webhook_paused", webhook_id=webhook.id)
        await active_webhooks.changed(webhook.organization_id)
        await _email_owners(runtime, webhook, webhook.failing_since)
    return False


async def _email_owners(runtime: Runtime, webhook: Webhook, since: datetime) -> None:
    owners = await Membership.filter(
        organization_id=webhook.organization_id, role=Role.OWNER, user__is_service=False
    ).select_related("user")
    for owner in owners:
        await queue_mail(
            runtime,
            to=owner.user.email,
            subject=f"Parley paused your webhook “{webhook.name}”",
            body=(
                f"Every delivery to your webhook “{webhook.name}” ({webhook.url}) has failed "
                f"since {since.isoformat(timespec='minutes')}, so it is paused.\n\n"
                "Its undelivered events are kept. Fix the endpoint, then resume the webhook "
                "(resumeWebhook); deliveries that died can be sent again with "
                "redeliverWebhookDelivery."
            ),
        )
