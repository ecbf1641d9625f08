"""GraphQL types of plans: a plan and its limits, an organization's subscription and usage."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.dataloaders.plans import plan_by_id
from app.models import plans as models
from app.plans.limits import Limit, PlanLimits
from app.plans.subscriptions import period_of
from app.plans.usage import Usage as UsageRow
from app.platform.context import Info
from app.platform.errors import NotFound
from app.platform.ids import to_global_id
from app.schema.node import Node
from app.schema.permissions import IsStaff

SubscriptionStatus = strawberry.enum(
    models.SubscriptionStatus,
    description="TRIALING and ACTIVE subscriptions work as their plan allows; PAST_DUE still "
    "works (a grace period); CANCELED refuses every counted action.",
)


@strawberry.type(name="PlanLimits", description="A plan's limits; null: unlimited.")
class PlanLimitsType:
    devices: int | None = strawberry.field(description="WhatsApp numbers.")
    seats: int | None = strawberry.field(description="Members plus pending invitations.")
    contacts: int | None = strawberry.field(description="Contacts.")
    marketing_messages_per_month: int | None = strawberry.field(
        description="MARKETING template sends a month (sends into an open service window "
        "count but are never refused)."
    )
    utility_messages_per_month: int | None = strawberry.field(
        description="UTILITY template sends a month."
    )
    authentication_messages_per_month: int | None = strawberry.field(
        description="AUTHENTICATION template sends a month."
    )
    service_messages_per_month: int | None = strawberry.field(
        description="Free-form sends a month (metered and warned about, never refused)."
    )
    campaigns_per_month: int | None = strawberry.field(description="Campaigns created a month.")
    ai_runs_per_month: int | None = strawberry.field(description="AI agent runs a month.")
    api_keys: int | None = strawberry.field(description="Active API keys.")
    webhooks: int | None = strawberry.field(description="Outbound webhooks.")
    storage_bytes: float | None = strawberry.field(description="Bytes of stored media.")

    @classmethod
    def from_limits(cls, limits: PlanLimits) -> PlanLimitsType:
        return cls(
            devices=limits.of(Limit.DEVICES),
            seats=limits.of(Limit.SEATS),
            contacts=limits.of(Limit.CONTACTS),
            marketing_messages_per_month=limits.of(Limit.MARKETING_MESSAGES),
            utility_messages_per_month=limits.of(Limit.UTILITY_MESSAGES),
            authentication_messages_per_month=limits.of(Limit.AUTHENTICATION_MESSAGES),
            service_messages_per_month=limits.of(Limit.SERVICE_MESSAGES),
            campaigns_per_month=limits.of(Limit.CAMPAIGNS),
            ai_runs_per_month=limits.of(Limit.AI_RUNS),
            api_keys=limits.of(Limit.API_KEYS),
            webhooks=limits.of(Limit.WEBHOOKS),
            storage_bytes=_float(limits.of(Limit.STORAGE_BYTES)),
        )


def _float(value: int | None) -> float | None:
    return None if value is None else float(value)


@strawberry.type(name="Plan", description="What an organization may do and use.")
class PlanType(Node):
    model: strawberry.Private[models.Plan]
    name: str = strawberry.field(description="The plan's name, unique.")
    limits: PlanLimitsType = strawberry.field(description="Its limits; null: unlimited.")
    features: list[str] = strawberry.field(
        description="Feature flags it turns on: `ai_teams` (draftCampaignCopy's team of "
        "agents), `outbound_webhooks` (webhooks and their deliveries). An action a flag is "
        "missing for answers FEATURE_NOT_IN_PLAN."
    )

    @strawberry.field(
        description="Whether new organizations get this plan (staff only).",
        permission_classes=[IsStaff],
    )
    def is_default(self) -> bool:
        return self.model.is_default

    @classmethod
    def from_model(cls, plan: models.Plan) -> PlanType:
        return cls(
            id=to_global_id("Plan", plan.id),
            model=plan,
            name=plan.name,
            limits=PlanLimitsType.from_limits(PlanLimits.parse(plan.limits)),
            features=list(plan.features or []),
        )


@strawberry.type(description="The organization's subscription to its plan.")
class OrganizationSubscription:
    model: strawberry.Private[models.Subscription]
    status: SubscriptionStatus = strawberry.field(description="Set by staff or billing.")  # type: ignore[valid-type]
    current_period_start: datetime = strawberry.field(
        description="When the usage period began (the billing period, else the month, UTC)."
    )
    current_period_end: datetime | None = strawberry.field(
        description="When the usage period ends and the monthly counts start again."
    )
    trial_ends_at: datetime | None = strawberry.field(description="End of a trial, if any.")

    @strawberry.field(description="The plan.")
    async def plan(self, info: Info) -> PlanType:
        plan = await info.context.loaders.get(plan_by_id).load(self.model.plan_id)
        if plan is None:
            raise NotFound("No such plan.")
        return PlanType.from_model(plan)

    @classmethod
    def from_model(cls, subscription: models.Subscription) -> OrganizationSubscription:
        period = period_of(subscription)
        return cls(
            model=subscription,
            status=subscription.status,
            current_period_start=period.start,
            current_period_end=period.end,
            trial_ends_at=subscription.trial_ends_at,
        )


@strawberry.type(description="One limit: what is used this period and what the plan allows.")
class UsageLimit:
    limit: str = strawberry.field(
        description="The limit's name, as in PlanLimits (`devices`, `aiRunsPerMonth`, …)."
    )
    used: float = strawberry.field(description="Used (this period, for monthly limits).")
    allowed: float | None = strawberry.field(description="The plan's limit; null: unlimited.")
    percent: float | None = strawberry.field(description="used / allowed × 100; null: unlimited.")


@strawberry.type(description="What the organization uses in its current period.")
class Usage:
    devices: int = strawberry.field(description="Devices.")
    seats: int = strawberry.field(description="Members plus pending invitations.")
    contacts: int = strawberry.field(description="Contacts.")
    marketing_messages: int = strawberry.field(description="MARKETING template sends.")
    utility_messages: int = strawberry.field(description="UTILITY template sends.")
    authentication_messages: int = strawberry.field(description="AUTHENTICATION template sends.")
    service_messages: int = strawberry.field(description="Free-form sends.")
    campaigns: int = strawberry.field(description="Campaigns created.")
    ai_runs: int = strawberry.field(description="AI agent runs.")
    api_keys: int = strawberry.field(description="API keys counted.")
    webhooks: int = strawberry.field(description="Webhooks counted.")
    storage_bytes: float = strawberry.field(description="Bytes of stored media counted.")
    period_start: datetime = strawberry.field(description="Start of the period.")
    period_end: datetime = strawberry.field(description="End of the period.")
    limits: PlanLimitsType = strawberry.field(description="The plan's limits, beside the usage.")
    items: list[UsageLimit] = strawberry.field(
        description="Every limit with its usage and allowance, in PlanLimits order."
    )

    @classmethod
    def from_usage(cls, usage: UsageRow) -> Usage:
        items = []
        for limit in Limit:
            allowed = usage.limits.of(limit)
            used = usage.of(limit)
            percent = None if allowed is None else (100.0 if allowed == 0 else used * 100 / allowed)
            items.append(
                UsageLimit(
                    limit=limit.value, used=float(used), allowed=_float(allowed), percent=percent
                )
            )
        return cls(
            devices=usage.of(Limit.DEVICES),
            seats=usage.of(Limit.SEATS),
            contacts=usage.of(Limit.CONTACTS),
            marketing_messages=usage.of(Limit.MARKETING_MESSAGES),
            utility_messages=usage.of(Limit.UTILITY_MESSAGES),
            authentication_messages=usage.of(Limit.AUTHENTICATION_MESSAGES),
            service_messages=usage.of(Limit.SERVICE_MESSAGES),
            campaigns=usage.of(Limit.CAMPAIGNS),
            ai_runs=usage.of(Limit.AI_RUNS),
            api_keys=usage.of(Limit.API_KEYS),
            webhooks=usage.of(Limit.WEBHOOKS),
            storage_bytes=float(usage.of(Limit.STORAGE_BYTES)),
            period_start=usage.period.start,
            period_end=usage.period.end,
            limits=PlanLimitsType.from_limits(usage.limits),
            items=items,
        )


@strawberry.type(description="A limit of the organization's plan reached 80 % or 100 %.")
class UsageWarning:
    limit: str = strawberry.field(description="The limit's name, as in PlanLimits.")
    threshold: int = strawberry.field(description="80 or 100 (percent).")
    used: float = strawberry.field(description="Used when it was reached.")
    allowed: float = strawberry.field(description="The plan's limit.")
