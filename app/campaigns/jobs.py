"""The campaign jobs, by reference (implemented in ``app.workers.campaigns``)."""

from __future__ import annotations

from app.platform.queues import Job

RUN_CAMPAIGN = Job("campaigns", "run_campaign")
SEND_CAMPAIGN_BATCH = Job("campaigns", "send_campaign_batch")
START_SCHEDULED_CAMPAIGN = Job("campaigns", "start_scheduled_campaign")
CAMPAIGN_WATCHDOG = Job("campaigns", "campaign_watchdog")
