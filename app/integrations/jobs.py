"""The integrations jobs, by reference (implemented in ``app.workers.integrations``)."""

from __future__ import annotations

from app.platform.queues import Job

# Turns an organization's new outbox events into deliveries, one per webhook they concern.
DISPATCH_WEBHOOK_EVENTS = Job("default", "dispatch_webhook_events")
# Sends a webhook's due deliveries (in event order when the webhook is ordered).
DELIVER_WEBHOOK = Job("default", "deliver_webhook")
# Every second: due retries, and anything a crashed job left behind.
SWEEP_WEBHOOKS = Job("default", "sweep_webhooks")
