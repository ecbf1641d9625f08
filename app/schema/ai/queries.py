"""AI lists, node fetchers and the run event subscription."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from typing import Any

import strawberry

from app.dataloaders import ai as loaders
from app.models import ai as models
from app.platform import events
from app.platform.context import Info
from app.platform.ids import decode_id
from app.platform.pagination import page_args
from app.platform.scope import in_organization, organization_id
from app.resolvers import ai as resolvers
from app.resolvers import subscriptions
from app.schema.ai.types import (
    AgentRun,
    AgentRunEvent,
    AgentRunEventKind,
    AgentStep,
    AIAgent,
    KnowledgeEntry,
)
from app.schema.ai.usage import AIUsageQuery
from app.schema.node import register_node
from app.schema.pagination import Connection, paginate
from app.schema.permissions import IsAuthenticated


@strawberry.type
class AIQuery(AIUsageQuery):
    @strawberry.field(
        name="aiAgents",
        description="The organization's AI agents.",
        permission_classes=[IsAuthenticated],
    )
    async def ai_agents(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[AIAgent]:
        return await paginate(resolvers.agents(info), page_args(first, after), AIAgent.from_model)

    @strawberry.field(
        description="Agent runs, oldest first; of one conversation when given.",
        permission_classes=[IsAuthenticated],
    )
    async def agent_runs(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        conversation_id: strawberry.ID | None = None,
    ) -> Connection[AgentRun]:
        queryset = resolvers.runs(info, conversation_id)
        return await paginate(queryset, page_args(first, after), AgentRun.from_model)

    @strawberry.field(
        description="The knowledge agents search; `search` matches title or body.",
        permission_classes=[IsAuthenticated],
    )
    async def knowledge_entries(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        search: str | None = None,
    ) -> Connection[KnowledgeEntry]:
        queryset = resolvers.knowledge_entries(info, search)
        return await paginate(queryset, page_args(first, after), KnowledgeEntry.from_model)


@strawberry.type
class AISubscription:
    @strawberry.subscription(
        description="A run's new steps, streamed tokens and status changes.",
        permission_classes=[IsAuthenticated],
    )
    async def agent_run_events(
        self, info: Info, run_id: strawberry.ID
    ) -> AsyncGenerator[AgentRunEvent, None]:
        run_pk = decode_id(run_id, "AgentRun", field="runId")
        org_id = organization_id(info)
        if not await models.AgentRun.exists(id=run_pk, organization_id=org_id):
            return
        async for event in subscriptions.stream(
            info, events.AGENT_RUNS, lambda e: e["run_id"] == run_pk
        ):
            row = await info.context.loaders.get(loaders.run_by_id).load(run_pk)
            row = in_organization([row], org_id)[0]
            if row is None:
                return
            yield AgentRunEvent(
                kind=AgentRunEventKind(event["kind"]),
                run=AgentRun.from_model(row),
                step=AgentStep.from_dict(event["step"]) if event.get("step") else None,
                token=event.get("token"),
                source=event.get("source"),
            )


def _fetcher(factory: Any, to_node: Any) -> Any:
    async def fetch(info: Info, pks: Sequence[int]) -> list[Any]:
        if info.context.viewer is None or info.context.viewer.organization_id is None:
            return [None for _ in pks]
        rows = await info.context.loaders.get(factory).load_many(list(pks))
        scoped = in_organization(rows, organization_id(info))
        return [to_node(row) if row is not None else None for row in scoped]

    return fetch


register_node("AIAgent", _fetcher(loaders.agent_by_id, AIAgent.from_model))
register_node("AgentRun", _fetcher(loaders.run_by_id, AgentRun.from_model))
register_node("KnowledgeEntry", _fetcher(loaders.knowledge_entry_by_id, KnowledgeEntry.from_model))
