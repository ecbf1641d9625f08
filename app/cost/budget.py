"""Each caller's cost budget: a leaky bucket in Redis, refilled at a steady rate.

An operation takes its requested cost from the bucket before it runs; when the bucket holds
less, it is refused with RATE_LIMITED and the seconds until it would fit. After execution
the difference between requested and actual cost (what the response really held) is given
back. One Lua script per step keeps concurrent requests of the same caller exact.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis
import structlog
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from app.cost.analysis import actual_cost
from app.platform.buckets import CostBudget
from app.platform.errors import RateLimited
from app.platform.metrics import COST_BUDGET_REFUSALS

log = structlog.get_logger("parley.cost")


def budget_key(context: Any) -> str:
    """One bucket per API key, per user and organization; anonymous callers share one per ip."""
    viewer = getattr(context, "viewer", None)
    if viewer is not None and viewer.api_key_id is not None:
        return f"api-key:{viewer.api_key_id}"
    if viewer is not None:
        return f"user:{viewer.user.id}:org:{viewer.organization_id or 0}"
    request = getattr(context, "request", None)
    client = getattr(request, "client", None)
    return f"ip:{client.host if client else 'unknown'}"


class CostBudgetExtension(SchemaExtension):
    """Charges the requested cost, refunds the unused part, reports `extensions.cost`."""

    def __init__(self, *, execution_context: Any = None) -> None:
        super().__init__(execution_context=execution_context)
        self._report: dict[str, Any] | None = None

    async def on_execute(self) -> AsyncIterator[None]:  # type: ignore[override]
        context = self.execution_context.context
        budget: CostBudget | None = getattr(context.runtime, "cost_budget", None)
        requested = context.cost.get("requestedQueryCost")
        if budget is None or requested is None:
            yield
            return
        key = budget_key(context)
        try:
            state = await budget.take(key, requested)
        except (aioredis.RedisError, OSError) as error:
            # Fail open: the budget protects capacity; losing its store must not fail reads.
            log.warning("cost_budget_unavailable", error=type(error).__name__)
            yield
            return
        if not state.allowed:
            COST_BUDGET_REFUSALS.inc()
            self._report = {
                "requestedQueryCost": requested,
                "actualQueryCost": 0,
                "throttleStatus": budget.throttle_status(state.available),
            }
            refusal = RateLimited(
                state.retry_after,
                f"This operation costs {requested} points and {int(state.available)} are left.",
            )
            # A result set before execution means nothing is executed.
            self.execution_context.result = GraphQLExecutionResult(
                data=None, errors=[GraphQLError(refusal.message, original_error=refusal)]
            )
            yield
            return
        yield
        result = self.execution_context.result
        actual = requested
        if isinstance(result, GraphQLExecutionResult) and self.execution_context.graphql_document:
            actual = actual_cost(
                result.data,
                self.execution_context.graphql_document,
                self.execution_context.schema._schema,
                variables=self.execution_context.variables,
                operation_name=self.execution_context.operation_name,
            )
        available = state.available
        if actual < requested:
            with contextlib.suppress(aioredis.RedisError, OSError):
                available = (await budget.take(key, actual - requested)).available
        self._report = {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": budget.throttle_status(available),
        }

    def get_results(self) -> dict[str, Any]:
        return {"cost": self._report} if self._report is not None else {}
