"""The accounts jobs, by reference (implemented in ``app.workers.email``)."""

from __future__ import annotations

from app.platform.queues import Job

SEND_EMAIL = Job("default", "send_email")
