"""AI jobs: one agent run per job."""

from __future__ import annotations

from app.ai.runs import execute
from app.platform.runtime import JobContext


async def run_agent(ctx: JobContext, *, run_id: int) -> None:
    await execute(ctx["runtime"], run_id)
