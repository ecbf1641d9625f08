"""AI jobs: one agent run per job."""

from __future__ import annotations

from typing import Any

from app.ai.runs import execute

RUN_JOB = "run_agent"


async def run_agent(ctx: dict[str, Any], *, run_id: int) -> None:
    await execute(ctx["runtime"], run_id)
