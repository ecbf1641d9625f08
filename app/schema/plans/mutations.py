"""Staff-only mutations: plans and organizations' subscriptions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from app.models import plans as models
from app.platform.context import Info
from app.resolvers import plans as resolvers
from app.resolvers.plans import PlanFields
from app.schema.permissions import IsStaff
from app.schema.plans.types import OrganizationSubscription, PlanType, SubscriptionStatus
from app.schema.user_errors import UserError

_LIMITS = (
    'A JSON object of PlanLimits fields, e.g. `{"devices": 2, "seats": 5}`; '
    "a null value: unlimited."
)


@strawberry.input(description="A new plan.")
class CreatePlanInput:
    name: str = strawberry.field(description="Unique name.")
    limits: JSON = strawberry.field(
        default_factory=dict, description=_LIMITS + " Left out: unlimited."
    )
    features: list[str] = strawberry.field(
        default_factory=list,
        description="Feature flags it turns on: `ai_teams`, `outbound_webhooks` (none given: "
        "none).",
    )
    is_default: bool = strawberry.field(
        default=False, description="New organizations get this plan (instead of `Default`)."
    )


@strawberry.input(description="Changes to a plan; fields left out stay as they are.")
class UpdatePlanInput:
    plan_id: strawberry.ID = strawberry.field(description="The plan.")
    name: str | None = strawberry.field(default=None, description="New name.")
    limits: JSON | None = strawberry.field(
        default=None, description=_LIMITS + " Limits left out stay as they are."
    )
    features: list[str] | None = strawberry.field(
        default=None,
        description="Feature flags it turns on from now (`ai_teams`, `outbound_webhooks`); "
        "null: unchanged.",
    )
    is_default: bool | None = strawberry.field(default=None, description="The default plan.")


@strawberry.type(description="The result of createPlan and updatePlan.")
class PlanPayload:
    plan: PlanType | None = strawberry.field(description="The plan as it is now.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.input(description="Put an organization on a plan.")
class AssignPlanInput:
    organization_id: strawberry.ID = strawberry.field(description="The organization.")
    plan_id: strawberry.ID = strawberry.field(description="The plan.")
    status: SubscriptionStatus | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="A new status too; left out: unchanged."
    )


@strawberry.input(description="What staff (or billing) say of an organization's subscription.")
class SetSubscriptionStatusInput:
    organization_id: strawberry.ID = strawberry.field(description="The organization.")
    status: SubscriptionStatus = strawberry.field(description="The new status.")  # type: ignore[valid-type]
    current_period_start: datetime | None = strawberry.field(
        default=None, description="Start of the billing period (with its end)."
    )
    current_period_end: datetime | None = strawberry.field(
        default=None, description="End of the billing period; unset: calendar months."
    )
    trial_ends_at: datetime | None = strawberry.field(default=None, description="End of a trial.")


@strawberry.type(description="The result of assignPlan and setSubscriptionStatus.")
class SubscriptionPayload:
    subscription: OrganizationSubscription | None = strawberry.field(
        description="The subscription as it is now."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


def _plan_payload(plan: models.Plan | None, errors: list[Any]) -> PlanPayload:
    return PlanPayload(plan=PlanType.from_model(plan) if plan else None, user_errors=errors)


def _subscription_payload(
    subscription: models.Subscription | None, errors: list[Any]
) -> SubscriptionPayload:
    return SubscriptionPayload(
        subscription=OrganizationSubscription.from_model(subscription) if subscription else None,
        user_errors=errors,
    )


@strawberry.type
class PlansMutation:
    @strawberry.mutation(description="Create a plan (staff only).", permission_classes=[IsStaff])
    async def create_plan(self, input: CreatePlanInput) -> PlanPayload:
        limits = input.limits if isinstance(input.limits, dict) else None
        if limits is None:
            return _plan_payload(None, [resolvers.not_an_object("limits")])
        fields = PlanFields(input.name, limits, list(input.features), input.is_default)
        return _plan_payload(*await resolvers.create_plan(fields))

    @strawberry.mutation(
        description="Change a plan; organizations on it get the new limits at once (staff only).",
        permission_classes=[IsStaff],
    )
    async def update_plan(self, input: UpdatePlanInput) -> PlanPayload:
        if input.limits is not None and not isinstance(input.limits, dict):
            return _plan_payload(None, [resolvers.not_an_object("limits")])
        plan = await resolvers.find_plan(input.plan_id)
        if plan is None:
            return _plan_payload(None, [resolvers.not_found("planId", "plan")])
        fields = PlanFields(input.name, input.limits, input.features, input.is_default)
        return _plan_payload(*await resolvers.update_plan(plan, fields))

    @strawberry.mutation(
        description="Put an organization on a plan (staff only); a campaign paused at a limit "
        "can be resumed once the new plan has room.",
        permission_classes=[IsStaff],
    )
    async def assign_plan(self, info: Info, input: AssignPlanInput) -> SubscriptionPayload:
        return _subscription_payload(
            *await resolvers.assign_plan(info, input.organization_id, input.plan_id, input.status)
        )

    @strawberry.mutation(
        description="Set an organization's subscription status and billing period (staff only; "
        "a billing system calls `POST /billing/subscription` instead).",
        permission_classes=[IsStaff],
    )
    async def set_subscription_status(
        self, info: Info, input: SetSubscriptionStatusInput
    ) -> SubscriptionPayload:
        return _subscription_payload(
            *await resolvers.set_subscription_status(
                info,
                input.organization_id,
                input.status,
                input.current_period_start,
                input.current_period_end,
                input.trial_ends_at,
            )
        )
