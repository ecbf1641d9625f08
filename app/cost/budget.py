"""Each caller's cost budget: a leaky bucket in Redis, refilled at a steady rate.

An operation takes its requested cost from the bucket before it runs; when the bucket holds
less, it is refused with RATE_LIMITED and the seconds until it would fit. After execution
the difference between requested and actual cost (what the response really held) is given
back. One Lua script per step keeps concurrent requests of the same caller exact.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
import structlog
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from app.cost.analysis import actual_cost
from app.errors import RateLimited

log = structlog.get_logger("parley.cost")

# KEYS[1] bucket; ARGV: maximum, restore rate per second, now, amount to take (may be
# negative: a refund), ttl. Returns {allowed (1/0), available after, seconds to wait}.
_TAKE = """
local maximum = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local amount = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'available', 'at')
local available = tonumber(state[1]) or maximum
local at = tonumber(state[2]) or now
available = math.min(maximum, available + math.max(0, now - at) * rate)
if amount > available then
  return {0, tostring(available), tostring((amount - available) / rate)}
end
available = math.min(maximum, available - amount)
redis.call('HSET', KEYS[1], 'available', tostring(available), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], ARGV[5])
return {1, tostring(available), '0'}
"""


@dataclass(frozen=True, slots=True)
class BucketState:
    allowed: bool
    available: float
    retry_after: float


class CostBudget:
    def __init__(self, redis: aioredis.Redis, *, maximum: int, restore_rate: float) -> None:
        self.maximum = maximum
        self.restore_rate = restore_rate
        self._script = redis.register_script(_TAKE)
        self._ttl = int(maximum / restore_rate) + 60

    async def take(self, key: str, amount: float) -> BucketState:
        allowed, available, wait = await self._script(
            keys=[f"cost:bucket:{key}"],
            args=[self.maximum, self.restore_rate, time.time(), amount, self._ttl],
        )
        return BucketState(bool(int(allowed)), float(available), float(wait))

    async def peek(self, key: str) -> BucketState:
        return await self.take(key, 0)

    def throttle_status(self, available: float) -> dict[str, Any]:
        return {
            "maximumAvailable": self.maximum,
            "currentlyAvailable": int(available),
            "restoreRate": self.restore_rate,
        }


def budget_key(context: Any) -> str:
    """One bucket per user and organization; anonymous callers share one per ip."""
    viewer = getattr(context, "viewer", None)
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
