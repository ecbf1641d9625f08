"""Which plan an organization is on, its subscription's status, and its current period.

An organization gets its subscription the first time anything asks for it: to the plan staff
marked as the default, or else to the ``Default`` plan, whose limits mirror
``PARLEY_DEFAULT_PLAN_LIMITS`` (unset: unlimited) and which has every feature.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.exceptions import IntegrityError

from app.models.plans import Plan, Subscription, SubscriptionStatus
from app.plans.limits import FEATURES, PlanLimits
from app.platform import clock
from app.platform.config import Settings

SETTINGS_PLAN = "Default"


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime


def month_of(at: datetime) -> Period:
    start = at.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    return Period(start, end)


def period_of(subscription: Subscription, at: datetime | None = None) -> Period:
    """The billing period the billing system set, if ``at`` is in it; else the calendar month."""
    at = at or clock.now()
    start, end = subscription.current_period_start, subscription.current_period_end
    if start is not None and end is not None and start <= at < end:
        return Period(start, end)
    return month_of(at)


async def default_plan(settings: Settings) -> Plan:
    chosen = await Plan.filter(is_default=True).order_by("id").first()
    if chosen is not None:
        return chosen
    plan = await Plan.get_or_none(name=SETTINGS_PLAN)
    if plan is None:
        limits = PlanLimits.parse(settings.default_plan_limits).as_json()
        try:
            return await Plan.create(name=SETTINGS_PLAN, limits=limits, features=FEATURES)
        except IntegrityError:
            plan = await Plan.get(name=SETTINGS_PLAN)
    return await _mirror_settings(settings, plan)


async def _mirror_settings(settings: Settings, plan: Plan) -> Plan:
    """The ``Default`` plan as the settings say now: their limits, every feature (a row
    written by an older version, or under other settings, is brought in line)."""
    limits = PlanLimits.parse(settings.default_plan_limits).as_json()
    if plan.limits != limits or plan.features != FEATURES:
        await Plan.filter(id=plan.id).update(
            limits=limits, features=FEATURES, updated_at=clock.now()
        )
        plan.limits, plan.features = limits, FEATURES
    return plan


async def subscription_of(settings: Settings, organization_id: int) -> Subscription:
    found = await Subscription.get_or_none(organization_id=organization_id)
    if found is not None:
        return found
    plan = await default_plan(settings)
    try:
        return await Subscription.create(
            organization_id=organization_id, plan_id=plan.id, status=SubscriptionStatus.ACTIVE
        )
    except IntegrityError:  # another request made it first
        return await Subscription.get(organization_id=organization_id)


async def plan_and_subscription(
    settings: Settings, organization_id: int
) -> tuple[Plan, Subscription]:
    subscription = await subscription_of(settings, organization_id)
    plan = await Plan.get(id=subscription.plan_id)
    if plan.name == SETTINGS_PLAN and plan.features != FEATURES:
        # A row from before features were enforced: the settings' plan has every one.
        await Plan.filter(id=plan.id).update(features=FEATURES, updated_at=clock.now())
        plan.features = FEATURES
    return plan, subscription


async def assign(
    settings: Settings,
    organization_id: int,
    plan: Plan,
    *,
    status: SubscriptionStatus | None = None,
) -> Subscription:
    subscription = await subscription_of(settings, organization_id)
    subscription.plan_id = plan.id
    if status is not None:
        subscription.status = status
    await subscription.save(update_fields=["plan_id", "status", "updated_at"])
    return subscription


async def set_status(
    settings: Settings,
    organization_id: int,
    status: SubscriptionStatus,
    *,
    period: Period | None = None,
    trial_ends_at: datetime | None = None,
    external_id: str | None = None,
) -> Subscription:
    """What staff or the billing system say of the subscription; enforcement only reads it."""
    subscription = await subscription_of(settings, organization_id)
    subscription.status = status
    if period is not None:
        subscription.current_period_start, subscription.current_period_end = (
            period.start,
            period.end,
        )
    if trial_ends_at is not None:
        subscription.trial_ends_at = trial_ends_at
    if external_id is not None:
        subscription.external_id = external_id
    await subscription.save()
    return subscription
