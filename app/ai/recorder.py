"""Writes a run's transcript as it happens: each step stored, then streamed to subscribers."""

from __future__ import annotations

import json
from typing import Any

from app.models.ai import AgentRun
from app.platform import clock, events
from app.platform.pubsub import Broker


class StepKind:
    MODEL_TURN = "MODEL_TURN"
    TOOL_CALL = "TOOL_CALL"
    TEAM_TURN = "TEAM_TURN"
    HANDOFF = "HANDOFF"
    REPLY_SENT = "REPLY_SENT"


def _plain(value: Any) -> Any:
    """JSON-safe: what a tool got or returned may hold anything."""
    return json.loads(json.dumps(value, default=str))


class Recorder:
    def __init__(self, broker: Broker, run: AgentRun) -> None:
        self.broker = broker
        self.run = run
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.handoff_reason: str | None = None

    async def step(self, kind: str, **fields: Any) -> dict[str, Any]:
        step = {
            "index": len(self.run.steps),
            "kind": kind,
            "at": clock.now().isoformat(),
            **_plain(fields),
        }
        self.run.steps = [*self.run.steps, step]
        async with events.transaction():
            await AgentRun.filter(id=self.run.id).update(
                steps=self.run.steps,
                prompt_tokens=self.prompt_tokens,
                completion_tokens=self.completion_tokens,
            )
            await events.publish(self.broker, events.AgentRunEvent.of(self.run, "STEP", step=step))
        return step

    async def token(self, text: str, source: str | None = None) -> None:
        # A streamed token changes no row: it is written down (for webhooks) and sent at once.
        await events.publish(
            self.broker, events.AgentRunEvent.of(self.run, "TOKEN", token=text, source=source)
        )

    def usage(self, prompt: int, completion: int) -> None:
        self.prompt_tokens += prompt
        self.completion_tokens += completion
