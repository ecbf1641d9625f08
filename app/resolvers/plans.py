"""Plans and subscriptions: what members read of their organization's, what staff manage."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError

from app.models.accounts import Organization
from app.models.plans import Plan, Subscription, SubscriptionStatus
from app.plans import subscriptions
from app.plans.limits import InvalidFeatures, InvalidLimits, PlanLimits, parse_features
from app.plans.subscriptions import Period
from app.plans.usage import Usage, usage_of
from app.platform import clock
from app.platform.context import Info
from app.platform.ids import decode_id
from app.platform.user_errors import UserError, UserErrorCode, user_error

MAX_PLANS = 200


def not_found(field: str, what: str) -> UserError:
    return user_error(field, f"No such {what}.", UserErrorCode.NOT_FOUND)


def not_an_object(field: str) -> UserError:
    return user_error(field, "Give a JSON object of PlanLimits fields.", UserErrorCode.INVALID)


async def subscription_of(info: Info, organization_id: int) -> Subscription:
    return await subscriptions.subscription_of(info.context.settings, organization_id)


async def usage(info: Info, organization_id: int) -> Usage:
    return await usage_of(info.context.runtime, organization_id)


async def visible_plans(info: Info, pks: Sequence[int]) -> dict[int, Plan]:
    viewer = info.context.viewer
    if viewer is None:
        return {}
    if not viewer.user.is_staff:
        if viewer.organization_id is None:
            return {}
        own = await subscription_of(info, viewer.organization_id)
        pks = [pk for pk in pks if pk == own.plan_id]
    return {plan.id: plan for plan in await Plan.filter(id__in=list(pks))}


async def all_plans() -> list[Plan]:
    return await Plan.all().order_by("id").limit(MAX_PLANS)


def _limits(field: str, raw: Mapping[str, Any]) -> tuple[PlanLimits | None, list[UserError]]:
    try:
        return PlanLimits.parse(raw), []
    except InvalidLimits as error:
        return None, [user_error(field, str(error), UserErrorCode.INVALID)]


def _features(names: Sequence[str]) -> tuple[list[str] | None, list[UserError]]:
    try:
        return parse_features(names), []
    except InvalidFeatures as error:
        return None, [user_error("features", str(error), UserErrorCode.INVALID)]


async def _clear_default(except_id: int) -> None:
    await (
        Plan.filter(is_default=True)
        .exclude(id=except_id)
        .update(is_default=False, updated_at=clock.now())
    )


@dataclass
class PlanFields:
    name: str | None = None
    limits: dict[str, Any] | None = None
    features: list[str] | None = None
    is_default: bool | None = None


async def create_plan(fields: PlanFields) -> tuple[Plan | None, list[UserError]]:
    name = (fields.name or "").strip()
    if not 0 < len(name) <= 100:
        return None, [
            user_error("name", "Name must be 1 to 100 characters.", UserErrorCode.INVALID)
        ]
    limits, errors = _limits("limits", fields.limits or {})
    if limits is None:
        return None, errors
    features, errors = _features(fields.features or [])
    if features is None:
        return None, errors
    try:
        plan = await Plan.create(
            name=name,
            limits=limits.as_json(),
            features=features,
            is_default=bool(fields.is_default),
        )
    except IntegrityError:
        return None, [user_error("name", "A plan with this name exists.", UserErrorCode.TAKEN)]
    if plan.is_default:
        await _clear_default(plan.id)
    return plan, []


async def find_plan(plan_id: str, field: str = "planId") -> Plan | None:
    pk = decode_id(plan_id, "Plan", field=("input", field))
    return await Plan.get_or_none(id=pk)


async def update_plan(plan: Plan, fields: PlanFields) -> tuple[Plan | None, list[UserError]]:
    """``fields.limits``: the limits to change (a null value makes one unlimited)."""
    if fields.name is not None:
        name = fields.name.strip()
        if not 0 < len(name) <= 100:
            return plan, [
                user_error("name", "Name must be 1 to 100 characters.", UserErrorCode.INVALID)
            ]
        plan.name = name
    if fields.limits is not None:
        try:
            limits = PlanLimits.parse(plan.limits).updated(fields.limits)
        except InvalidLimits as error:
            return plan, [user_error("limits", str(error), UserErrorCode.INVALID)]
        plan.limits = limits.as_json()
    if fields.features is not None:
        features, errors = _features(fields.features)
        if features is None:
            return plan, errors
        plan.features = features
    if fields.is_default is not None:
        plan.is_default = fields.is_default
    try:
        await plan.save()
    except IntegrityError:
        return plan, [user_error("name", "A plan with this name exists.", UserErrorCode.TAKEN)]
    if plan.is_default:
        await _clear_default(plan.id)
    return plan, []


async def find_organization(organization_id: str) -> Organization | None:
    pk = decode_id(organization_id, "Organization", field=("input", "organizationId"))
    return await Organization.get_or_none(id=pk)


async def assign_plan(
    info: Info, organization_id: str, plan_id: str, status: SubscriptionStatus | None
) -> tuple[Subscription | None, list[UserError]]:
    organization = await find_organization(organization_id)
    if organization is None:
        return None, [not_found("organizationId", "organization")]
    plan = await find_plan(plan_id)
    if plan is None:
        return None, [not_found("planId", "plan")]
    subscription = await subscriptions.assign(
        info.context.settings, organization.id, plan, status=status
    )
    return subscription, []


async def set_subscription_status(
    info: Info,
    organization_id: str,
    status: SubscriptionStatus,
    period_start: datetime | None,
    period_end: datetime | None,
    trial_ends_at: datetime | None,
) -> tuple[Subscription | None, list[UserError]]:
    organization = await find_organization(organization_id)
    if organization is None:
        return None, [not_found("organizationId", "organization")]
    period = None
    if (period_start is None) != (period_end is None):
        return None, [
            user_error(
                "currentPeriodEnd",
                "Give both ends of the period, or neither.",
                UserErrorCode.INVALID,
            )
        ]
    if period_start is not None and period_end is not None:
        if period_end <= period_start:
            return None, [
                user_error(
                    "currentPeriodEnd",
                    "The period must end after it starts.",
                    UserErrorCode.INVALID,
                )
            ]
        period = Period(period_start, period_end)
    subscription = await subscriptions.set_status(
        info.context.settings, organization.id, status, period=period, trial_ends_at=trial_ends_at
    )
    return subscription, []
