"""Prometheus metrics of the work Parley does, beside the HTTP (app.http.middleware) and
WebSocket (app.live.metrics) ones. docs/observability.md lists them all.

Counters are per process: an API process serves its own at ``/metrics``, and ``parley worker``
serves its own on ``PARLEY_WORKER_METRICS_PORT``. Gauges read from the stores (queue depth,
devices by status) are refreshed when ``/metrics`` is scraped (``refresh_store_gauges``).
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from prometheus_client import Counter, Gauge, Histogram, start_http_server
from tortoise import connections

from app.platform.config import Settings
from app.platform.queues import Queues

log = structlog.get_logger("parley.metrics")

MESSAGES_SENT = Counter(
    "parley_messages_sent_total",
    "Messages the provider accepted, by device and origin (message or campaign).",
    ["device", "origin"],
)
MESSAGES_FAILED = Counter(
    "parley_messages_failed_total",
    "Messages that ended FAILED when sent (not retried any more), by device and origin.",
    ["device", "origin"],
)
PROVIDER_ERRORS = Counter(
    "parley_provider_errors_total",
    "Errors the provider answered a send with, by provider error code ('none': no code, e.g. a "
    "timeout) and failure reason, retried ones included.",
    ["code", "failure"],
)
WEBHOOK_EVENTS = Counter(
    "parley_webhook_events_received_total",
    "WhatsApp webhook deliveries acknowledged (stored and queued).",
)
WEBHOOK_LAG = Histogram(
    "parley_webhook_processing_lag_seconds",
    "From a webhook delivery's arrival to the end of its processing.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)
JOB_WAIT = Histogram(
    "parley_job_wait_seconds",
    "From a job's enqueueing (or its scheduled time) to its start, by queue and function.",
    ["queue", "function"],
    buckets=(0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300),
)
JOB_DURATION = Histogram(
    "parley_job_duration_seconds",
    "How long a job ran, by queue, function and outcome (ok or error).",
    ["queue", "function", "outcome"],
    buckets=(0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300),
)
QUEUE_DEPTH = Gauge(
    "parley_queue_jobs", "Jobs in a queue, by queue and state (queued, active).", ["queue", "state"]
)
DEVICES = Gauge("parley_devices", "Devices by status, all organizations.", ["status"])
DEVICE_STATUS_CHANGES = Counter(
    "parley_device_status_changes_total", "Device status transitions, by new status.", ["status"]
)
CAMPAIGN_SENDS = Counter(
    "parley_campaign_messages_sent_total",
    "Campaign messages the provider accepted (rate() of it: campaign sends per second).",
)
AI_RUNS = Counter("parley_ai_runs_total", "AI agent runs started (counted against usage).")
AI_TOKENS = Counter(
    "parley_ai_tokens_total", "AI model tokens used, by kind (prompt, completion).", ["kind"]
)
CACHE_LOOKUPS = Counter(
    "parley_cache_lookups_total",
    "Hot cache lookups by result (hit, miss, error); hit rate = hit / all.",
    ["result"],
)
COST_BUDGET_REFUSALS = Counter(
    "parley_cost_budget_refusals_total",
    "GraphQL operations refused because the caller's cost budget was spent.",
)
# Outbound webhooks (app.integrations) count their deliveries here.
OUTBOUND_WEBHOOK_DELIVERIES = Counter(
    "parley_outbound_webhook_deliveries_total",
    "Outbound webhook delivery attempts, by outcome (delivered, failed, gave_up).",
    ["outcome"],
)
OUTBOUND_WEBHOOK_DURATION = Histogram(
    "parley_outbound_webhook_delivery_seconds",
    "Time an outbound webhook delivery attempt took, answer or error.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)


def outbound_webhook_delivered(outcome: str, seconds: float) -> None:
    """Called by the outbound webhook delivery (outcome: delivered, failed or gave_up)."""
    OUTBOUND_WEBHOOK_DELIVERIES.labels(outcome).inc()
    OUTBOUND_WEBHOOK_DURATION.observe(seconds)


def provider_error(code: int | None, failure: object) -> None:
    PROVIDER_ERRORS.labels("none" if code is None else str(code), str(failure)).inc()


# --- jobs (SAQ's before/after process hooks) -----------------------------------------------


async def job_started(ctx: Any) -> None:
    job = ctx.get("job")
    if job is None:
        return
    ctx["metrics_started"] = time.perf_counter()
    queued_ms = max(job.queued, job.scheduled * 1000)  # SAQ keeps epoch ms; scheduled is s
    if queued_ms:
        wait = max(0.0, job.started / 1000 - queued_ms / 1000)
        JOB_WAIT.labels(_queue_of(job), job.function).observe(wait)


async def job_finished(ctx: Any) -> None:
    job, started = ctx.get("job"), ctx.pop("metrics_started", None)
    if job is None or started is None:
        return
    outcome = "error" if ctx.get("exception") is not None else "ok"
    JOB_DURATION.labels(_queue_of(job), job.function, outcome).observe(
        time.perf_counter() - started
    )


def _queue_of(job: Any) -> str:
    return job.queue.name if job.queue is not None else ""


# --- gauges read from the stores ----------------------------------------------------------


async def refresh_store_gauges(queues: Queues) -> None:
    """Queue depth per queue and devices per status, read now (a scrape calls this). A store
    that does not answer leaves its gauges as they were: the scrape still gets the rest."""
    try:
        await _refresh(queues)
    except Exception as error:
        log.warning("metrics_gauges_unavailable", error=type(error).__name__)


async def _refresh(queues: Queues) -> None:
    for name, queue in queues.by_name.items():
        for state in ("queued", "active"):
            QUEUE_DEPTH.labels(name, state).set(await queue.count(state))  # type: ignore[arg-type]
    rows = await connections.get("default").execute_query_dict(
        "SELECT status, COUNT(*) AS n FROM devices GROUP BY status"
    )
    seen = set()
    for row in rows:
        DEVICES.labels(row["status"]).set(row["n"])
        seen.add(row["status"])
    for labels in list(DEVICES._metrics):  # a status nobody has any more reads 0, not stale
        if labels[0] not in seen:
            DEVICES.labels(*labels).set(0)


def serve_worker_metrics(settings: Settings) -> None:
    """``parley worker``'s metrics, on loopback at PARLEY_WORKER_METRICS_PORT (unset: none)."""
    port = settings.worker_metrics_port
    if port is None:
        return
    start_http_server(port, addr=settings.worker_metrics_host)
    log.info("worker_metrics_serving", host=settings.worker_metrics_host, port=port)
