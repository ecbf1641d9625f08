"""AI mutations: agents and knowledge (ADMIN+), runs (AGENT+). None of them calls a model."""

from __future__ import annotations

from typing import Any, cast

import strawberry
from strawberry.scalars import JSON

from app.models.accounts import Role
from app.models.ai import AgentTask as AgentTaskModel
from app.platform.context import Info
from app.resolvers import ai as resolvers
from app.schema.ai.types import AgentRun, AgentTask, AIAgent, KnowledgeEntry
from app.schema.ai.usage import AIUsageMutation
from app.schema.messaging.types import Conversation
from app.schema.permissions import HasRole
from app.schema.user_errors import UserError, UserErrorCode, user_error


@strawberry.input(description="A new agent.")
class CreateAIAgentInput:
    name: str = strawberry.field(description="A name for people.")
    instructions: str = strawberry.field(description="The system prompt.")
    model: str | None = strawberry.field(default=None, description="Model override.")
    tools: list[str] | None = strawberry.field(
        default=None,
        description="Enabled tools: contact_lookup, conversation_history, knowledge_search, "
        "business_hours, handoff_to_human; default all.",
    )
    device_id: strawberry.ID | None = strawberry.field(
        default=None, description="Auto-reply to inbound messages on this device."
    )
    handoff_keywords: list[str] | None = strawberry.field(
        default=None, description="Words that hand a conversation to a person at once."
    )
    business_hours: JSON | None = strawberry.field(
        default=None, description='`{"timezone": "...", "hours": {"mon": "09:00-17:00"}}`.'
    )
    max_tool_calls: int | None = strawberry.field(default=None, description="Default 5.")
    timeout_seconds: int | None = strawberry.field(default=None, description="Default 60.")
    enabled: bool | None = strawberry.field(default=None, description="Default true.")


@strawberry.input(description="Changes to an agent; fields left out stay as they are.")
class UpdateAIAgentInput:
    agent_id: strawberry.ID = strawberry.field(description="The agent.")
    name: str | None = strawberry.field(default=None, description="A new name.")
    instructions: str | None = strawberry.field(default=None, description="New instructions.")
    model: str | None = strawberry.field(default=None, description="Model; empty: the default.")
    tools: list[str] | None = strawberry.field(default=None, description="Enabled tools.")
    device_id: strawberry.ID | None = strawberry.field(
        default=None, description="Auto-reply device."
    )
    clear_device: bool | None = strawberry.field(
        default=None, description="True: stop auto-replying on any device."
    )
    handoff_keywords: list[str] | None = strawberry.field(default=None, description="Keywords.")
    business_hours: JSON | None = strawberry.field(default=None, description="Opening hours.")
    max_tool_calls: int | None = strawberry.field(default=None, description="Tool call limit.")
    timeout_seconds: int | None = strawberry.field(default=None, description="Time budget.")
    enabled: bool | None = strawberry.field(default=None, description="On or off.")


@strawberry.type(description="The result of createAIAgent.")
class CreateAIAgentPayload:
    agent: AIAgent | None = strawberry.field(description="The new agent.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing was created.")


@strawberry.type(description="The result of updateAIAgent.")
class UpdateAIAgentPayload:
    agent: AIAgent | None = strawberry.field(description="The agent as it is now.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.input(description="Run an agent on a conversation.")
class RunAgentInput:
    agent_id: strawberry.ID = strawberry.field(description="The agent.")
    conversation_id: strawberry.ID = strawberry.field(description="The conversation.")
    task: AgentTask = strawberry.field(description="REPLY, DRAFT_REPLY or SUMMARIZE.")


@strawberry.input(description="A brief for campaign copy, written and reviewed by a team.")
class DraftCampaignCopyInput:
    agent_id: strawberry.ID = strawberry.field(
        description="The agent whose model and instructions (brand voice) the team uses."
    )
    brief: str = strawberry.field(description="What the campaign is about.")
    marketing: bool = strawberry.field(
        default=True, description="Marketing messages need an opt-out line."
    )
    variables: list[str] | None = strawberry.field(
        default=None, description="Template variables the copy may use, e.g. `first_name`."
    )
    max_turns: int = strawberry.field(default=6, description="Turn limit of the team (2-12).")


@strawberry.input(description="The run to act on.")
class AgentRunIdInput:
    run_id: strawberry.ID = strawberry.field(description="The run.")


@strawberry.type(description="The result of runAgent, draftCampaignCopy and cancelAgentRun.")
class RunAgentPayload:
    run: AgentRun | None = strawberry.field(description="The run (QUEUED when just started).")
    user_errors: list[UserError] = strawberry.field(description="Why nothing was started.")


@strawberry.input(description="Turn AI answers on or off for one conversation.")
class SetConversationAIInput:
    conversation_id: strawberry.ID = strawberry.field(description="The conversation.")
    enabled: bool = strawberry.field(description="Whether AI agents may answer here.")


@strawberry.type(description="The result of setConversationAI.")
class SetConversationAIPayload:
    conversation: Conversation | None = strawberry.field(description="The conversation.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.input(description="A knowledge entry to create (no id) or change (with id).")
class SaveKnowledgeEntryInput:
    entry_id: strawberry.ID | None = strawberry.field(default=None, description="To change.")
    title: str | None = strawberry.field(default=None, description="Title.")
    body: str | None = strawberry.field(default=None, description="Text.")


@strawberry.type(description="The result of saveKnowledgeEntry.")
class SaveKnowledgeEntryPayload:
    entry: KnowledgeEntry | None = strawberry.field(description="The entry as it is now.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing was saved.")


@strawberry.input(description="The knowledge entry to delete.")
class DeleteKnowledgeEntryInput:
    entry_id: strawberry.ID = strawberry.field(description="The entry.")


@strawberry.type(description="The result of deleteKnowledgeEntry.")
class DeleteKnowledgeEntryPayload:
    deleted_entry_id: strawberry.ID | None = strawberry.field(description="The deleted entry.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing was deleted.")


def _fields(data: CreateAIAgentInput | UpdateAIAgentInput) -> resolvers.AgentFields:
    return resolvers.AgentFields(
        name=data.name,
        instructions=data.instructions,
        model=data.model,
        tools=data.tools,
        device_id=data.device_id,
        clear_device=bool(getattr(data, "clear_device", False)),
        handoff_keywords=data.handoff_keywords,
        business_hours=cast("dict[str, Any] | None", data.business_hours),
        max_tool_calls=data.max_tool_calls,
        timeout_seconds=data.timeout_seconds,
        enabled=data.enabled,
    )


def _run_payload(row: object, errors: list[UserError]) -> RunAgentPayload:
    return RunAgentPayload(
        run=AgentRun.from_model(row) if row is not None else None,  # type: ignore[arg-type]
        user_errors=errors,
    )


@strawberry.type
class AIMutation(AIUsageMutation):
    @strawberry.mutation(
        name="createAIAgent",
        description="Create an agent (ADMIN+).",
        permission_classes=[HasRole(Role.ADMIN)],
    )
    async def create_ai_agent(self, info: Info, input: CreateAIAgentInput) -> CreateAIAgentPayload:
        row, errors = await resolvers.create_agent(info, _fields(input))
        return CreateAIAgentPayload(
            agent=AIAgent.from_model(row) if row else None, user_errors=errors
        )

    @strawberry.mutation(
        name="updateAIAgent",
        description="Change an agent (ADMIN+).",
        permission_classes=[HasRole(Role.ADMIN)],
    )
    async def update_ai_agent(self, info: Info, input: UpdateAIAgentInput) -> UpdateAIAgentPayload:
        row, errors = await resolvers.update_agent(info, input.agent_id, _fields(input))
        return UpdateAIAgentPayload(
            agent=AIAgent.from_model(row) if row else None, user_errors=errors
        )

    @strawberry.mutation(
        description="Queue a run of an agent on a conversation (AGENT+); follow it with "
        "agentRunEvents.",
        permission_classes=[HasRole(Role.AGENT)],
    )
    async def run_agent(self, info: Info, input: RunAgentInput) -> RunAgentPayload:
        task = AgentTaskModel(input.task.value if hasattr(input.task, "value") else input.task)
        if task is AgentTaskModel.CAMPAIGN_COPY:
            return _run_payload(
                None,
                [
                    user_error(
                        "task", "Use draftCampaignCopy for campaign copy.", UserErrorCode.INVALID
                    )
                ],
            )
        row, errors = await resolvers.run_agent(
            info, agent_id=input.agent_id, conversation_id=input.conversation_id, task=task
        )
        return _run_payload(row, errors)

    @strawberry.mutation(
        description="Queue a copywriter + compliance reviewer team on a campaign brief (AGENT+).",
        permission_classes=[HasRole(Role.AGENT)],
    )
    async def draft_campaign_copy(
        self, info: Info, input: DraftCampaignCopyInput
    ) -> RunAgentPayload:
        if not input.brief.strip():
            return _run_payload(
                None, [user_error("brief", "A brief is required.", UserErrorCode.REQUIRED)]
            )
        if not 2 <= input.max_turns <= 12:
            return _run_payload(
                None, [user_error("maxTurns", "Between 2 and 12.", UserErrorCode.INVALID)]
            )
        row, errors = await resolvers.run_agent(
            info,
            agent_id=input.agent_id,
            conversation_id=None,
            task=AgentTaskModel.CAMPAIGN_COPY,
            parameters={
                "brief": input.brief,
                "marketing": input.marketing,
                "variables": list(input.variables or []),
                "max_turns": input.max_turns,
            },
        )
        return _run_payload(row, errors)

    @strawberry.mutation(
        description="Stop a queued or running run (AGENT+).",
        permission_classes=[HasRole(Role.AGENT)],
    )
    async def cancel_agent_run(self, info: Info, input: AgentRunIdInput) -> RunAgentPayload:
        row, errors = await resolvers.cancel_run(info, input.run_id)
        return _run_payload(row, errors)

    @strawberry.mutation(
        name="setConversationAI",
        description="Turn AI answers on or off for a conversation (AGENT+).",
        permission_classes=[HasRole(Role.AGENT)],
    )
    async def set_conversation_ai(
        self, info: Info, input: SetConversationAIInput
    ) -> SetConversationAIPayload:
        row, errors = await resolvers.set_conversation_ai(
            info, input.conversation_id, input.enabled
        )
        return SetConversationAIPayload(
            conversation=Conversation.from_model(row) if row else None, user_errors=errors
        )

    @strawberry.mutation(
        description="Create or change a knowledge entry (ADMIN+).",
        permission_classes=[HasRole(Role.ADMIN)],
    )
    async def save_knowledge_entry(
        self, info: Info, input: SaveKnowledgeEntryInput
    ) -> SaveKnowledgeEntryPayload:
        row, errors = await resolvers.save_knowledge(info, input.entry_id, input.title, input.body)
        return SaveKnowledgeEntryPayload(
            entry=KnowledgeEntry.from_model(row) if row else None, user_errors=errors
        )

    @strawberry.mutation(
        description="Delete a knowledge entry (ADMIN+).",
        permission_classes=[HasRole(Role.ADMIN)],
    )
    async def delete_knowledge_entry(
        self, info: Info, input: DeleteKnowledgeEntryInput
    ) -> DeleteKnowledgeEntryPayload:
        errors = await resolvers.delete_knowledge(info, input.entry_id)
        return DeleteKnowledgeEntryPayload(
            deleted_entry_id=None if errors else input.entry_id, user_errors=errors
        )
