"""The inbox jobs, by reference (implemented in ``app.workers.inbox``)."""

from __future__ import annotations

from app.platform.queues import Job

PRUNE_INBOX_CHANGES = Job("default", "prune_inbox_changes")
SEND_AWAY_REPLY = Job("default", "send_away_reply")
