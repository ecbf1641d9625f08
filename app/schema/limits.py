from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import strawberry

from app.cost.budget import budget_key
from app.platform import clock
from app.platform.buckets import BucketState, CostBudget
from app.platform.context import Info


@strawberry.type(
    description="Your query cost budget: a bucket refilled at `restoreRate` points per second."
)
class RateLimit:
    maximum_available: int = strawberry.field(description="Points the bucket holds when full.")
    currently_available: int = strawberry.field(description="Points available now.")
    restore_rate: float = strawberry.field(description="Points restored per second.")
    reset_at: datetime = strawberry.field(description="When the bucket will be full again.")


class _BudgetPeek:
    """One read of the caller's budget per operation, however many times it is selected (30
    aliases of `rateLimit` cost 30 Redis round trips before)."""

    def __init__(self) -> None:
        self._state: asyncio.Future[BucketState] | None = None

    async def read(self, budget: CostBudget, key: str) -> BucketState:
        if self._state is None:
            self._state = asyncio.ensure_future(budget.peek(key))
        return await self._state


@strawberry.type
class LimitsQuery:
    @strawberry.field(description="The caller's query cost budget (see `extensions.cost`).")
    async def rate_limit(self, info: Info) -> RateLimit:
        budget = info.context.runtime.cost_budget
        settings = info.context.settings
        if budget is None:
            now = clock.now()
            return RateLimit(
                maximum_available=settings.cost_budget_maximum,
                currently_available=settings.cost_budget_maximum,
                restore_rate=settings.cost_budget_restore_rate,
                reset_at=now,
            )
        state = await info.context.loaders.get(_BudgetPeek).read(budget, budget_key(info.context))
        missing = budget.maximum - state.available
        return RateLimit(
            maximum_available=budget.maximum,
            currently_available=int(state.available),
            restore_rate=budget.restore_rate,
            reset_at=clock.now() + timedelta(seconds=missing / budget.restore_rate),
        )
