"""Batch loaders for AI relations."""

from __future__ import annotations

from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from app.models.ai import AgentRun, AIAgent, KnowledgeEntry


async def _agents(keys: Sequence[int]) -> list[AIAgent | None]:
    rows = {row.pk: row for row in await AIAgent.filter(id__in=list(set(keys)))}
    return [rows.get(key) for key in keys]


async def _runs(keys: Sequence[int]) -> list[AgentRun | None]:
    rows = {row.pk: row for row in await AgentRun.filter(id__in=list(set(keys)))}
    return [rows.get(key) for key in keys]


async def _entries(keys: Sequence[int]) -> list[KnowledgeEntry | None]:
    rows = {row.pk: row for row in await KnowledgeEntry.filter(id__in=list(set(keys)))}
    return [rows.get(key) for key in keys]


def agent_by_id() -> DataLoader[int, AIAgent | None]:
    return DataLoader(load_fn=_agents)


def run_by_id() -> DataLoader[int, AgentRun | None]:
    return DataLoader(load_fn=_runs)


def knowledge_entry_by_id() -> DataLoader[int, KnowledgeEntry | None]:
    return DataLoader(load_fn=_entries)
