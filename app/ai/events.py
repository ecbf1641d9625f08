"""Agent run events on the organization's ``agent_runs`` channel: steps, tokens, status."""

from __future__ import annotations

from typing import Any

from app.messaging.events import channel
from app.models.ai import AgentRun
from app.platform.pubsub import Broker

AGENT_RUNS = "agent_runs"


async def publish(broker: Broker, run: AgentRun, kind: str, **data: Any) -> None:
    await broker.publish(
        channel(run.organization_id, AGENT_RUNS),
        {"kind": kind, "organization_id": run.organization_id, "run_id": run.id, **data},
    )
