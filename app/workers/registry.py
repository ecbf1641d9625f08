"""Which job functions and cron jobs run on which queue. Each domain adds its own here."""

from __future__ import annotations

from typing import Any

from saq import CronJob

from app.workers import ai, campaigns, email, maintenance, messaging

FUNCTIONS: dict[str, list[Any]] = {
    "default": [
        maintenance.ping,
        email.send_email,
        messaging.send_message,
        messaging.mark_read_at_provider,
        messaging.sandbox_progress,
        messaging.rotate_sandbox_qr,
        messaging.process_webhook_event,
        messaging.import_contacts,
        messaging.sync_templates,
    ],
    "campaigns": [
        campaigns.run_campaign,
        campaigns.send_campaign_batch,
        campaigns.start_scheduled_campaign,
        campaigns.campaign_watchdog,
    ],
    "ai": [ai.run_agent],
}

CRON_JOBS: dict[str, list[CronJob[Any]]] = {
    "default": [],
    # Every 5 seconds (croniter's sixth field); SAQ queues one run per tick for all workers.
    "campaigns": [CronJob(campaigns.campaign_watchdog, cron="* * * * * */5", timeout=30)],
}
