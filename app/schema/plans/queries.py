"""Plans queries and the usage warnings subscription."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence

import strawberry

from app.models.accounts import Role
from app.platform import events
from app.platform.context import Info
from app.resolvers import plans as resolvers
from app.resolvers import subscriptions
from app.schema.node import register_node
from app.schema.permissions import HasRole, IsStaff
from app.schema.plans.types import PlanType, UsageWarning


async def _fetch_plans(info: Info, pks: Sequence[int]) -> Sequence[PlanType | None]:
    """Staff see every plan; members only their organization's."""
    visible = await resolvers.visible_plans(info, pks)
    return [PlanType.from_model(visible[pk]) if pk in visible else None for pk in pks]


register_node("Plan", _fetch_plans)


@strawberry.type
class PlansQuery:
    @strawberry.field(
        description="Every plan, oldest first (staff only).", permission_classes=[IsStaff]
    )
    async def plans(self, info: Info) -> list[PlanType]:
        return [PlanType.from_model(plan) for plan in await resolvers.all_plans()]


@strawberry.type
class PlansSubscription:
    @strawberry.subscription(
        description="Each time a limit of the organization's plan reaches 80 % or 100 % "
        "(once per period per limit and threshold; members).",
        permission_classes=[HasRole(Role.VIEWER)],
    )
    async def usage_warnings(self, info: Info) -> AsyncGenerator[UsageWarning, None]:
        async for event in subscriptions.stream(info, events.USAGE, lambda e: True):
            yield UsageWarning(
                limit=str(event["limit"]),
                threshold=int(event["threshold"]),
                used=float(event["used"]),
                allowed=float(event["allowed"]),
            )
