"""The AI jobs, by reference (implemented in ``app.workers.ai``)."""

from __future__ import annotations

from app.platform.queues import Job

RUN_AGENT = Job("ai", "run_agent")
