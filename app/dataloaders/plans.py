"""Batch loaders for plans; built per operation through ``info.context.loaders.get``."""

from __future__ import annotations

from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from app.models.plans import Plan


async def _load_plans(keys: Sequence[int]) -> list[Plan | None]:
    plans = {plan.id: plan for plan in await Plan.filter(id__in=list(keys))}
    return [plans.get(key) for key in keys]


def plan_by_id() -> DataLoader[int, Plan | None]:
    return DataLoader(load_fn=_load_plans)
