"""AI agents, runs and knowledge entries: validate, scope to the organization, write, enqueue.

Nothing here calls a model: a run is a row plus a job on the ``ai`` queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from app.ai import business_hours, usage
from app.ai.config import is_configured
from app.ai.jobs import RUN_AGENT
from app.ai.triggers import job_options
from app.models.accounts import Organization
from app.models.ai import (
    FINISHED,
    TOOLS,
    AgentRun,
    AgentRunStatus,
    AgentTask,
    AgentTrigger,
    AIAgent,
    AIUsage,
    AIUsageLimit,
    KnowledgeEntry,
)
from app.models.messaging import Conversation, Device
from app.plans import features
from app.plans.limits import Feature
from app.platform import events
from app.platform.context import Info
from app.platform.errors import BadUserInput
from app.platform.ids import decode_id
from app.platform.scope import organization_id
from app.platform.user_errors import UserError, UserErrorCode, user_error


def _not_found(field: str, what: str) -> UserError:
    return user_error(field, f"No such {what}.", UserErrorCode.NOT_FOUND)


def _not_configured() -> UserError:
    return user_error(
        None,
        "AI is not configured: set PARLEY_AI_BASE_URL and/or PARLEY_AI_API_KEY.",
        UserErrorCode.AI_NOT_CONFIGURED,
    )


@dataclass
class AgentFields:
    name: str | None = None
    instructions: str | None = None
    model: str | None = None
    tools: list[str] | None = None
    device_id: str | None = None
    clear_device: bool = False
    handoff_keywords: list[str] | None = None
    business_hours: dict[str, Any] | None = None
    max_tool_calls: int | None = None
    timeout_seconds: int | None = None
    enabled: bool | None = None


async def _validate(info: Info, fields: AgentFields, changes: dict[str, Any]) -> list[UserError]:
    org_id = organization_id(info)
    errors = []
    if fields.name is not None:
        if not 0 < len(fields.name.strip()) <= 200:
            errors.append(
                user_error("name", "Name must be 1 to 200 characters.", UserErrorCode.INVALID)
            )
        changes["name"] = fields.name.strip()
    if fields.instructions is not None:
        if not fields.instructions.strip():
            errors.append(
                user_error("instructions", "Instructions are required.", UserErrorCode.REQUIRED)
            )
        changes["instructions"] = fields.instructions
    if fields.model is not None:
        changes["model"] = fields.model.strip() or None
    if fields.tools is not None:
        unknown = sorted(set(fields.tools) - set(TOOLS))
        if unknown:
            errors.append(
                user_error(
                    "tools",
                    f"Unknown tools {unknown}; known: {list(TOOLS)}.",
                    UserErrorCode.INVALID,
                )
            )
        changes["tools"] = list(dict.fromkeys(fields.tools))
    if fields.device_id is not None:
        pk = decode_id(fields.device_id, "Device", field=("input", "deviceId"))
        if not await Device.exists(id=pk, organization_id=org_id):
            errors.append(_not_found("deviceId", "device"))
        changes["device_id"] = pk
    elif fields.clear_device:
        changes["device_id"] = None
    if fields.handoff_keywords is not None:
        changes["handoff_keywords"] = [k.strip() for k in fields.handoff_keywords if k.strip()]
    if fields.business_hours is not None:
        errors += _hours_errors("businessHours", fields.business_hours)
        changes["business_hours"] = fields.business_hours
    if fields.max_tool_calls is not None:
        if not 0 <= fields.max_tool_calls <= 20:
            errors.append(user_error("maxToolCalls", "Between 0 and 20.", UserErrorCode.INVALID))
        changes["max_tool_calls"] = fields.max_tool_calls
    if fields.timeout_seconds is not None:
        if not 5 <= fields.timeout_seconds <= 600:
            errors.append(user_error("timeoutSeconds", "Between 5 and 600.", UserErrorCode.INVALID))
        changes["timeout_seconds"] = fields.timeout_seconds
    if fields.enabled is not None:
        changes["enabled"] = fields.enabled
    return errors


async def create_agent(info: Info, fields: AgentFields) -> tuple[AIAgent | None, list[UserError]]:
    changes: dict[str, Any] = {}
    errors = await _validate(info, fields, changes)
    if errors:
        return None, errors
    agent = await AIAgent.create(organization_id=organization_id(info), **changes)
    return agent, []


async def find_agent(info: Info, agent_id: str) -> AIAgent | None:
    pk = decode_id(agent_id, "AIAgent", field=("input", "agentId"))
    return await AIAgent.get_or_none(id=pk, organization_id=organization_id(info))


async def update_agent(
    info: Info, agent_id: str, fields: AgentFields
) -> tuple[AIAgent | None, list[UserError]]:
    agent = await find_agent(info, agent_id)
    if agent is None:
        return None, [_not_found("agentId", "agent")]
    changes: dict[str, Any] = {}
    errors = await _validate(info, fields, changes)
    if errors:
        return None, errors
    if changes:
        agent.update_from_dict(changes)
        await agent.save()
    return agent, []


async def run_agent(
    info: Info,
    *,
    agent_id: str,
    conversation_id: str | None,
    task: AgentTask,
    parameters: dict[str, Any] | None = None,
) -> tuple[AgentRun | None, list[UserError]]:
    if not is_configured(info.context.runtime.settings):
        return None, [_not_configured()]
    if task is AgentTask.CAMPAIGN_COPY and (
        missing := await features.missing(
            info.context.runtime, organization_id(info), Feature.AI_TEAMS
        )
    ):
        return None, [missing.user_error()]
    agent = await find_agent(info, agent_id)
    if agent is None:
        return None, [_not_found("agentId", "agent")]
    conversation = None
    if conversation_id is not None:
        pk = decode_id(conversation_id, "Conversation", field=("input", "conversationId"))
        conversation = await Conversation.get_or_none(id=pk, organization_id=organization_id(info))
        if conversation is None:
            return None, [_not_found("conversationId", "conversation")]
    elif task is not AgentTask.CAMPAIGN_COPY:
        return None, [
            user_error("conversationId", "This task needs a conversation.", UserErrorCode.REQUIRED)
        ]
    refused = await usage.count_run(info.context.runtime, agent.organization_id)
    if refused is not None:
        return None, [user_error(None, refused, UserErrorCode.LIMIT_EXCEEDED)]
    viewer = info.context.viewer
    assert viewer is not None
    run = await AgentRun.create(
        organization_id=agent.organization_id,
        agent_id=agent.id,
        conversation_id=conversation.id if conversation else None,
        requested_by_id=viewer.user.id,
        trigger=AgentTrigger.MANUAL,
        task=task,
        input=parameters or {},
    )
    await info.context.runtime.queues.enqueue(RUN_AGENT, **job_options(run, agent.timeout_seconds))
    return run, []


async def cancel_run(info: Info, run_id: str) -> tuple[AgentRun | None, list[UserError]]:
    pk = decode_id(run_id, "AgentRun", field=("input", "runId"))
    run = await AgentRun.get_or_none(id=pk, organization_id=organization_id(info))
    if run is None:
        return None, [_not_found("runId", "run")]
    if run.status in FINISHED:
        return run, [
            user_error(
                "runId", f"The run already ended {run.status.value}.", UserErrorCode.CONFLICT
            )
        ]
    async with events.transaction():
        cancelled = await AgentRun.filter(
            id=run.id, status__in=[AgentRunStatus.QUEUED, AgentRunStatus.RUNNING]
        ).update(status=AgentRunStatus.CANCELLED, error="cancelled by a user")
        await run.refresh_from_db()
        if cancelled:
            await events.publish(
                info.context.runtime.broker,
                events.AgentRunEvent.of(run, "STATUS", status=run.status.value),
            )
    return run, []


async def set_conversation_ai(
    info: Info, conversation_id: str, enabled: bool
) -> tuple[Conversation | None, list[UserError]]:
    pk = decode_id(conversation_id, "Conversation", field=("input", "conversationId"))
    conversation = await Conversation.get_or_none(id=pk, organization_id=organization_id(info))
    if conversation is None:
        return None, [_not_found("conversationId", "conversation")]
    conversation.ai_enabled = enabled
    async with events.transaction():
        await conversation.save(update_fields=["ai_enabled", "updated_at"])
        await events.publish(
            info.context.runtime.broker, events.ConversationEvent.of(conversation, "UPDATED")
        )
    return conversation, []


async def save_knowledge(
    info: Info, entry_id: str | None, title: str | None, body: str | None
) -> tuple[KnowledgeEntry | None, list[UserError]]:
    org_id = organization_id(info)
    entry = None
    if entry_id is not None:
        pk = decode_id(entry_id, "KnowledgeEntry", field=("input", "entryId"))
        entry = await KnowledgeEntry.get_or_none(id=pk, organization_id=org_id)
        if entry is None:
            return None, [_not_found("entryId", "knowledge entry")]
    errors = []
    if title is not None and not 0 < len(title.strip()) <= 300:
        errors.append(
            user_error("title", "Title must be 1 to 300 characters.", UserErrorCode.INVALID)
        )
    if body is not None and not body.strip():
        errors.append(user_error("body", "Body is required.", UserErrorCode.REQUIRED))
    if entry is None and (title is None or body is None):
        errors.append(user_error("title", "Title and body are required.", UserErrorCode.REQUIRED))
    if errors:
        return None, errors
    if entry is None:
        return await KnowledgeEntry.create(organization_id=org_id, title=title, body=body), []
    if title is not None:
        entry.title = title.strip()
    if body is not None:
        entry.body = body
    await entry.save()
    return entry, []


async def delete_knowledge(info: Info, entry_id: str) -> list[UserError]:
    pk = decode_id(entry_id, "KnowledgeEntry", field=("input", "entryId"))
    deleted = await KnowledgeEntry.filter(id=pk, organization_id=organization_id(info)).delete()
    return [] if deleted else [_not_found("entryId", "knowledge entry")]


@dataclass(frozen=True)
class MonthUsage:
    start: date
    days: list[AIUsage]
    totals: usage.Totals
    limit: AIUsageLimit | None


async def month_usage(info: Info, month: str | None) -> MonthUsage:
    org_id = organization_id(info)
    if month is None:
        day = usage.today()
    else:
        try:
            day = datetime.strptime(month, "%Y-%m").date()
        except ValueError as error:
            raise BadUserInput("month must look like 2026-11.") from error
    start, end = usage.month_of(day)
    rows = await usage.days(org_id, start, end)
    return MonthUsage(start, rows, usage.total(rows), await usage.limit_of(org_id))


def _hours_errors(field: str, hours: Any) -> list[UserError]:
    if not isinstance(hours, dict):
        return [user_error(field, "Opening hours must be an object.", UserErrorCode.INVALID)]
    return [
        user_error(field, problem, UserErrorCode.INVALID)
        for problem in business_hours.problems(hours)
    ]


async def set_business_hours(info: Info, hours: Any) -> tuple[Organization | None, list[UserError]]:
    """The organization's opening hours, which its agents' business_hours tool answers from."""
    errors = _hours_errors("businessHours", hours)
    if errors:
        return None, errors
    organization = await Organization.get(id=organization_id(info))
    organization.business_hours = hours
    await organization.save(update_fields=["business_hours", "updated_at"])
    return organization, []


async def set_usage_limit(
    info: Info, runs_per_month: int | None, tokens_per_month: int | None
) -> tuple[AIUsageLimit | None, list[UserError]]:
    errors = [
        user_error(field, "Must be 0 or more; null means unlimited.", UserErrorCode.INVALID)
        for field, value in (("runsPerMonth", runs_per_month), ("tokensPerMonth", tokens_per_month))
        if value is not None and value < 0
    ]
    if errors:
        return None, errors
    limit, _ = await AIUsageLimit.get_or_create(organization_id=organization_id(info))
    limit.runs_per_month, limit.tokens_per_month = runs_per_month, tokens_per_month
    await limit.save()
    return limit, []


def agents(info: Info) -> QuerySet[AIAgent]:
    return AIAgent.filter(organization_id=organization_id(info))


def runs(info: Info, conversation_id: str | None) -> QuerySet[AgentRun]:
    """Agent runs; of one conversation when given."""
    queryset = AgentRun.filter(organization_id=organization_id(info))
    if conversation_id is not None:
        queryset = queryset.filter(
            conversation_id=decode_id(conversation_id, "Conversation", field="conversationId")
        )
    return queryset


def knowledge_entries(info: Info, search: str | None) -> QuerySet[KnowledgeEntry]:
    """``search`` matches the title or the body."""
    queryset = KnowledgeEntry.filter(organization_id=organization_id(info))
    if search and search.strip():
        term = search.strip()
        queryset = queryset.filter(Q(title__icontains=term) | Q(body__icontains=term))
    return queryset
