"""Which function runs each job, and the cron jobs. Each domain adds its own here.

Jobs are declared by reference beside their domain (``app/<domain>/jobs.py``); a function is
registered under its declaration and must carry the declared name, so a renamed function
fails at start-up instead of leaving its jobs unclaimed in Redis.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from saq import CronJob

from app.accounts import jobs as accounts_jobs
from app.ai import jobs as ai_jobs
from app.campaigns import jobs as campaign_jobs
from app.integrations import jobs as integration_jobs
from app.messaging import jobs as messaging_jobs
from app.platform.queues import Job
from app.workers import ai, campaigns, email, integrations, maintenance, messaging

JOBS: dict[Job, Callable[..., Any]] = {
    maintenance.PING: maintenance.ping,
    accounts_jobs.SEND_EMAIL: email.send_email,
    messaging_jobs.SEND_MESSAGE: messaging.send_message,
    messaging_jobs.MARK_READ_AT_PROVIDER: messaging.mark_read_at_provider,
    messaging_jobs.SANDBOX_PROGRESS: messaging.sandbox_progress,
    messaging_jobs.ROTATE_SANDBOX_QR: messaging.rotate_sandbox_qr,
    messaging_jobs.PROCESS_WEBHOOK_EVENT: messaging.process_webhook_event,
    messaging_jobs.IMPORT_CONTACTS: messaging.import_contacts,
    messaging_jobs.SYNC_TEMPLATES: messaging.sync_templates,
    campaign_jobs.RUN_CAMPAIGN: campaigns.run_campaign,
    campaign_jobs.SEND_CAMPAIGN_BATCH: campaigns.send_campaign_batch,
    campaign_jobs.START_SCHEDULED_CAMPAIGN: campaigns.start_scheduled_campaign,
    campaign_jobs.CAMPAIGN_WATCHDOG: campaigns.campaign_watchdog,
    ai_jobs.RUN_AGENT: ai.run_agent,
    integration_jobs.DISPATCH_WEBHOOK_EVENTS: integrations.dispatch_webhook_events,
    integration_jobs.DELIVER_WEBHOOK: integrations.deliver_webhook,
    integration_jobs.SWEEP_WEBHOOKS: integrations.sweep_webhooks,
}

CRON_JOBS: dict[str, list[CronJob[Any]]] = {
    # Every second: webhook retries that fell due, and work a lost job left behind.
    "default": [CronJob(integrations.sweep_webhooks, cron="* * * * * *", timeout=30)],
    # Every 5 seconds (croniter's sixth field); SAQ queues one run per tick for all workers.
    "campaigns": [CronJob(campaigns.campaign_watchdog, cron="* * * * * */5", timeout=30)],
}


def functions(queue: str) -> list[Callable[..., Any]]:
    """The job functions a worker of ``queue`` runs, each checked against its declaration."""
    found = []
    for job, function in JOBS.items():
        if function.__name__ != job.name:
            raise RuntimeError(f"{function.__qualname__} is registered as job {job.name!r}")
        if job.queue == queue:
            found.append(function)
    return found
