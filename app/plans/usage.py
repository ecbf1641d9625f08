"""An organization's usage in its current period, each limit beside it."""

from __future__ import annotations

from dataclasses import dataclass

from app.models.plans import Plan, Subscription, UsageCounter
from app.plans.context import PlanContext
from app.plans.limits import ALWAYS, Limit, PlanLimits
from app.plans.quotas import ROW_COUNTED, count_rows
from app.plans.subscriptions import Period, period_of, plan_and_subscription


@dataclass(frozen=True)
class Usage:
    plan: Plan
    subscription: Subscription
    period: Period
    used: dict[Limit, int]
    limits: PlanLimits

    def of(self, limit: Limit) -> int:
        return self.used.get(limit, 0)


async def usage_of(ctx: PlanContext, organization_id: int) -> Usage:
    plan, subscription = await plan_and_subscription(ctx.settings, organization_id)
    period = period_of(subscription)
    counted = await UsageCounter.filter(
        organization_id=organization_id,
        period__in=[ALWAYS, period.start.date()],
        limit__in=[limit.value for limit in Limit],
    ).values_list("limit", "period", "used")
    used: dict[Limit, int] = {}
    for name, row_period, amount in counted:
        limit = Limit(name)
        if (row_period == ALWAYS) != limit.monthly:
            used[limit] = int(amount)
    for limit in ROW_COUNTED:
        used[limit] = await count_rows(organization_id, limit)
    return Usage(plan, subscription, period, used, PlanLimits.parse(plan.limits))
