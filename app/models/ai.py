"""AI agents, their runs, and the knowledge entries agents may search."""

from __future__ import annotations

from enum import Enum
from typing import Any

from tortoise import fields
from tortoise.indexes import Index

from app.models.accounts import Organization, User
from app.models.base import TimestampedModel
from app.models.messaging import Conversation, Device


class AgentTask(str, Enum):
    REPLY = "REPLY"
    DRAFT_REPLY = "DRAFT_REPLY"
    SUMMARIZE = "SUMMARIZE"
    CAMPAIGN_COPY = "CAMPAIGN_COPY"


class AgentRunStatus(str, Enum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


FINISHED = (AgentRunStatus.SUCCEEDED, AgentRunStatus.FAILED, AgentRunStatus.CANCELLED)


class AgentTrigger(str, Enum):
    MANUAL = "MANUAL"
    AUTO_REPLY = "AUTO_REPLY"


# The tools a single agent may be given (AIAgent.tools; none listed: all of them).
TOOLS = (
    "contact_lookup",
    "conversation_history",
    "knowledge_search",
    "business_hours",
    "handoff_to_human",
)


class AIAgent(TimestampedModel):
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=200)
    instructions = fields.TextField()
    model = fields.CharField(max_length=200, null=True)  # None: the configured default
    tools: fields.JSONField[list[Any]] = fields.JSONField(
        default=list
    )  # names of enabled plugin functions
    # Auto-reply: inbound messages on this device are answered by this agent.
    device: fields.ForeignKeyNullableRelation[Device] = fields.ForeignKeyField(
        "models.Device", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    handoff_keywords: fields.JSONField[list[Any]] = fields.JSONField(default=list)
    # {"timezone": "Europe/Berlin", "hours": {"mon": "09:00-17:00", ...}, "note": "..."}
    business_hours: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    max_tool_calls = fields.IntField(default=5)
    timeout_seconds = fields.IntField(default=60)
    enabled = fields.BooleanField(default=True)

    organization_id: int
    device_id: int | None

    class Meta:
        table = "ai_agents"
        indexes = (Index(fields=("organization_id", "id")), Index(fields=("device_id", "id")))


class AgentRun(TimestampedModel):
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    agent: fields.ForeignKeyRelation[AIAgent] = fields.ForeignKeyField(
        "models.AIAgent", related_name="runs", on_delete=fields.CASCADE
    )
    conversation: fields.ForeignKeyNullableRelation[Conversation] = fields.ForeignKeyField(
        "models.Conversation", related_name=False, null=True, on_delete=fields.CASCADE
    )
    requested_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    trigger = fields.CharEnumField(AgentTrigger, max_length=16)
    task = fields.CharEnumField(AgentTask, max_length=16)
    status = fields.CharEnumField(AgentRunStatus, max_length=16, default=AgentRunStatus.QUEUED)
    input: fields.JSONField[dict[str, Any]] = fields.JSONField(
        default=dict
    )  # task parameters, e.g. a campaign brief
    steps: fields.JSONField[list[Any]] = fields.JSONField(default=list)
    output = fields.TextField(null=True)
    prompt_tokens = fields.IntField(default=0)
    completion_tokens = fields.IntField(default=0)
    latency_ms = fields.IntField(null=True)
    error = fields.TextField(null=True)
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)

    organization_id: int
    agent_id: int
    conversation_id: int | None
    requested_by_id: int | None

    class Meta:
        table = "agent_runs"
        indexes = (
            Index(fields=("organization_id", "id")),
            Index(fields=("conversation_id", "id")),
        )


class KnowledgeEntry(TimestampedModel):
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    title = fields.CharField(max_length=300)
    body = fields.TextField()

    organization_id: int

    class Meta:
        table = "knowledge_entries"
        indexes = (Index(fields=("organization_id", "id")),)


class AIUsage(TimestampedModel):
    """AI runs and tokens of one organization on one UTC day; months are sums of days."""

    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    day = fields.DateField()
    runs = fields.IntField(default=0)
    prompt_tokens = fields.BigIntField(default=0)
    completion_tokens = fields.BigIntField(default=0)

    organization_id: int

    class Meta:
        table = "ai_usage"
        unique_together = (("organization", "day"),)


class AIUsageLimit(TimestampedModel):
    """An organization's monthly AI allowance; no row or a null field: unlimited."""

    organization: fields.OneToOneRelation[Organization] = fields.OneToOneField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    runs_per_month = fields.IntField(null=True)
    tokens_per_month = fields.BigIntField(null=True)

    organization_id: int

    class Meta:
        table = "ai_usage_limits"
