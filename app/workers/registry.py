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
from app.inbox import jobs as inbox_jobs
from app.integrations import jobs as integration_jobs
from app.messaging import jobs as messaging_jobs
from app.platform.queues import Job
from app.workers import ai, campaigns, email, inbox, integrations, maintenance, messaging

JOBS: dict[Job, Callable[..., Any]] = {
    maintenance.PING: maintenance.ping,
    accounts_jobs.SEND_EMAIL: email.send_email,
    messaging_jobs.SEND_MESSAGE: messaging.send_message,
    messaging_jobs.MARK_READ_AT_PROVIDER: messaging.mark_read_at_provider,
    messaging_jobs.SANDBOX_PROGRESS: messaging.sandbox_progress,
    messaging_jobs.ROTATE_SANDBOX_QR: messaging.rotate_sandbox_qr,
    messaging_jobs.PROCESS_WEBHOOK_EVENT: messaging.process_webhook_event,
    messaging_jobs.PROCESS_WEBHOOK_EVENTS: messaging.process_webhook_events,
    messaging_jobs.IMPORT_CONTACTS: messaging.import_contacts,
    messaging_jobs.SYNC_TEMPLATES: messaging.sync_templates,
    messaging_jobs.UNSNOOZE_CONVERSATION: messaging.unsnooze_conversation,
    messaging_jobs.DOWNLOAD_MEDIA: messaging.download_media,
    messaging_jobs.SEND_TYPING_INDICATOR: messaging.send_typing_indicator,
    messaging_jobs.PURGE_EXPIRED: messaging.purge_expired,
    campaign_jobs.RUN_CAMPAIGN: campaigns.run_campaign,
    campaign_jobs.SEND_CAMPAIGN_BATCH: campaigns.send_campaign_batch,
    campaign_jobs.START_SCHEDULED_CAMPAIGN: campaigns.start_scheduled_campaign,
    campaign_jobs.CAMPAIGN_WATCHDOG: campaigns.campaign_watchdog,
    ai_jobs.RUN_AGENT: ai.run_agent,
    inbox_jobs.PRUNE_INBOX_CHANGES: inbox.prune_inbox_changes,
    inbox_jobs.SEND_AWAY_REPLY: inbox.send_away_reply,
    integration_jobs.DISPATCH_WEBHOOK_EVENTS: integrations.dispatch_webhook_events,
    integration_jobs.DELIVER_WEBHOOK: integrations.deliver_webhook,
    integration_jobs.SWEEP_WEBHOOKS: integrations.sweep_webhooks,
}

CRON_JOBS: dict[str, list[CronJob[Any]]] = {
    "default": [
        CronJob(inbox.prune_inbox_changes, cron="17 * * * *", timeout=300),
        # Retention: daily at 03:17 UTC (off the hour, when other cron jobs crowd in).
        CronJob(messaging.purge_expired, cron="17 3 * * *", timeout=600),
        # Every 15 s: deliveries whose job was lost while Redis was away, queued again.
        CronJob(messaging.requeue_stranded_webhook_events, cron="* * * * * */15", timeout=60),
        # Every 15 s: statuses kept unmatched whose message learned its id without applying them.
        CronJob(messaging.reconcile_stranded_statuses, cron="* * * * * */15", timeout=60),
        # Every second: webhook retries that fell due, and work a lost job left behind.
        CronJob(integrations.sweep_webhooks, cron="* * * * * *", timeout=30),
    ],
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
