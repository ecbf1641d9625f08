"""AI agents, their runs and knowledge entries as GraphQL types."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from app.dataloaders import messaging as messaging_loaders
from app.dataloaders.ai import agent_by_id
from app.models import ai as models
from app.models.accounts import Role
from app.models.ai import AIAgent as AIAgentModel
from app.platform.context import Info
from app.platform.ids import to_global_id
from app.schema.messaging.types import Conversation, Device
from app.schema.node import Node
from app.schema.permissions import HasRole

AgentRunStatus = models.AgentRunStatus
strawberry.enum(
    models.AgentRunStatus, description="QUEUED → RUNNING → SUCCEEDED, FAILED or CANCELLED."
)
AgentTask = models.AgentTask
strawberry.enum(
    models.AgentTask,
    description="REPLY sends the answer, DRAFT_REPLY only returns it, SUMMARIZE summarizes "
    "the conversation, CAMPAIGN_COPY is the copywriter/reviewer team.",
)
AgentTrigger = models.AgentTrigger
strawberry.enum(models.AgentTrigger, description="What started a run.")


@strawberry.type(description="An AI agent: instructions, model, tools and handoff rules.")
class AIAgent(Node):
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    name: str = strawberry.field(description="A name for people.")
    instructions: str = strawberry.field(
        description="The system prompt (ADMIN and OWNER: it is how the business configures the "
        "agent, not something every member needs to read).",
        permission_classes=[HasRole(Role.ADMIN)],
    )
    model: str | None = strawberry.field(description="Model override; null: the default.")
    tools: list[str] = strawberry.field(description="Enabled tools; empty: all of them.")
    handoff_keywords: list[str] = strawberry.field(
        description="Words in a customer message that hand the conversation to a person."
    )
    business_hours: JSON = strawberry.field(
        description='Opening hours: `{"timezone": "Europe/Berlin", "hours": {"mon": '
        '"09:00-17:00", ...}}`.'
    )
    max_tool_calls: int = strawberry.field(description="Tool calls allowed in one run.")
    timeout_seconds: int = strawberry.field(description="A run's time budget.")
    enabled: bool = strawberry.field(description="Whether it answers automatically.")
    created_at: datetime = strawberry.field(description="When the agent was created.")
    row: strawberry.Private[AIAgentModel]

    @classmethod
    def from_model(cls, row: AIAgentModel) -> AIAgent:
        return cls(
            id=to_global_id("AIAgent", row.id),
            name=row.name,
            instructions=row.instructions,
            model=row.model,
            tools=list(row.tools or []),
            handoff_keywords=list(row.handoff_keywords or []),
            business_hours=JSON(dict(row.business_hours or {})),
            max_tool_calls=row.max_tool_calls,
            timeout_seconds=row.timeout_seconds,
            enabled=row.enabled,
            created_at=row.created_at,
            row=row,
        )

    @strawberry.field(description="The device this agent auto-replies on, if any.")
    async def device(self, info: Info) -> Device | None:
        if self.row.device_id is None:
            return None
        row = await info.context.loaders.get(messaging_loaders.device_by_id).load(
            self.row.device_id
        )
        return Device.from_model(row) if row is not None else None


@strawberry.type(description="One step of a run: a model turn, a tool call, a team turn, ...")
class AgentStep:
    index: int = strawberry.field(description="Position in the run, from 0.")
    kind: str = strawberry.field(
        description="MODEL_TURN, TOOL_CALL, TEAM_TURN, HANDOFF or REPLY_SENT."
    )
    at: datetime = strawberry.field(description="When the step ended.")
    name: str | None = strawberry.field(description="The tool called, or the team member.")
    content: str | None = strawberry.field(description="What the model or member said.")
    arguments: JSON | None = strawberry.field(description="A tool call's arguments.")
    result: JSON | None = strawberry.field(description="A tool call's result.")
    data: JSON = strawberry.field(description="The whole step as stored.")

    @classmethod
    def from_dict(cls, step: dict[str, Any]) -> AgentStep:
        return cls(
            index=int(step["index"]),
            kind=str(step["kind"]),
            at=datetime.fromisoformat(step["at"]),
            name=step.get("name"),
            content=step.get("content"),
            arguments=step.get("arguments"),
            result=step.get("result"),
            data=JSON(step),
        )


@strawberry.type(description="One execution of an agent or team.")
class AgentRun(Node):
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    status: AgentRunStatus = strawberry.field(description="Where the run stands.")
    task: AgentTask = strawberry.field(description="What the run was asked to do.")
    trigger: AgentTrigger = strawberry.field(description="What started it.")
    output: str | None = strawberry.field(description="The answer, draft, summary or copy.")
    error: str | None = strawberry.field(description="Why it failed or was cancelled.")
    prompt_tokens: int = strawberry.field(description="Tokens sent to the model.")
    completion_tokens: int = strawberry.field(description="Tokens the model produced.")
    latency_ms: int | None = strawberry.field(description="Wall time of the run.")
    created_at: datetime = strawberry.field(description="When it was queued.")
    started_at: datetime | None = strawberry.field(description="When a worker started it.")
    finished_at: datetime | None = strawberry.field(description="When it ended.")
    row: strawberry.Private[models.AgentRun]

    @classmethod
    def from_model(cls, row: models.AgentRun) -> AgentRun:
        return cls(
            id=to_global_id("AgentRun", row.id),
            status=row.status,
            task=row.task,
            trigger=row.trigger,
            output=row.output,
            error=row.error,
            prompt_tokens=row.prompt_tokens,
            completion_tokens=row.completion_tokens,
            latency_ms=row.latency_ms,
            created_at=row.created_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
            row=row,
        )

    @strawberry.field(description="Every model turn and tool call, in order.")
    def steps(self) -> list[AgentStep]:
        return [AgentStep.from_dict(step) for step in self.row.steps or []]

    @strawberry.field(description="The agent that ran.")
    async def agent(self, info: Info) -> AIAgent:
        row = await info.context.loaders.get(agent_by_id).load(self.row.agent_id)
        assert row is not None
        return AIAgent.from_model(row)

    @strawberry.field(description="The conversation it worked on, if any.")
    async def conversation(self, info: Info) -> Conversation | None:
        if self.row.conversation_id is None:
            return None
        row = await info.context.loaders.get(messaging_loaders.conversation_by_id).load(
            self.row.conversation_id
        )
        return Conversation.from_model(row) if row is not None else None


@strawberry.enum(description="What an agent run event carries.")
class AgentRunEventKind(Enum):
    STEP = "STEP"
    TOKEN = "TOKEN"
    STATUS = "STATUS"


@strawberry.type(description="A live event of a run: a new step, streamed tokens, or a status.")
class AgentRunEvent:
    kind: AgentRunEventKind = strawberry.field(description="STEP, TOKEN or STATUS.")
    run: AgentRun = strawberry.field(description="The run as it is now.")
    step: AgentStep | None = strawberry.field(description="The new step (STEP).")
    token: str | None = strawberry.field(description="Streamed model output (TOKEN).")
    source: str | None = strawberry.field(description="Who produced the token (teams).")


@strawberry.type(description="A piece of the business's knowledge that agents can search.")
class KnowledgeEntry(Node):
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    title: str = strawberry.field(description="Short title.")
    body: str = strawberry.field(description="The text.")
    updated_at: datetime = strawberry.field(description="Last change.")

    @classmethod
    def from_model(cls, row: models.KnowledgeEntry) -> KnowledgeEntry:
        return cls(
            id=to_global_id("KnowledgeEntry", row.id),
            title=row.title,
            body=row.body,
            updated_at=row.updated_at,
        )
