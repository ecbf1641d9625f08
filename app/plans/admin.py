"""Operator tasks on plans that run outside a request (``parley plans …``)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tortoise import Tortoise
from tortoise.exceptions import IntegrityError

from app.models.accounts import Organization
from app.models.plans import Plan, Subscription, SubscriptionStatus
from app.plans import subscriptions
from app.plans.limits import InvalidFeatures, InvalidLimits, PlanLimits, parse_features
from app.platform.config import Settings, tortoise_config
from app.platform.ids import InvalidId, from_global_id, to_global_id


class PlanCommandError(Exception):
    """What the operator asked cannot be done; the message says why."""


@asynccontextmanager
async def _database(settings: Settings) -> AsyncIterator[None]:
    await Tortoise.init(config=tortoise_config(settings.resolved_database_url))
    try:
        yield
    finally:
        await Tortoise.close_connections()


def _limits(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        raw = json.loads(text)
    except ValueError as error:
        raise PlanCommandError(f"--limits is not JSON: {error}") from None
    if not isinstance(raw, dict):
        raise PlanCommandError("--limits must be a JSON object, e.g. '{\"devices\": 2}'")
    return raw


def _describe(plan: Plan, organizations: int) -> str:
    flags = " (default)" if plan.is_default else ""
    limits = json.dumps(plan.limits, sort_keys=True) if plan.limits else "unlimited"
    features = ",".join(plan.features or []) or "-"
    return (
        f"{to_global_id('Plan', plan.id)}  {plan.name}{flags}  limits={limits}  "
        f"features={features}  organizations={organizations}"
    )


async def list_plans(settings: Settings) -> list[str]:
    async with _database(settings):
        lines = []
        for plan in await Plan.all().order_by("id"):
            count = await Subscription.filter(plan_id=plan.id).count()
            lines.append(_describe(plan, count))
        return lines


async def create_plan(
    settings: Settings, name: str, limits: str | None, features: list[str], default: bool
) -> str:
    try:
        parsed = PlanLimits.parse(_limits(limits))
        flags = parse_features(features)
    except (InvalidLimits, InvalidFeatures) as error:
        raise PlanCommandError(str(error)) from None
    async with _database(settings):
        try:
            plan = await Plan.create(
                name=name.strip(),
                limits=parsed.as_json(),
                features=flags,
                is_default=default,
            )
        except IntegrityError:
            raise PlanCommandError(f"A plan named {name!r} exists.") from None
        if default:
            await Plan.filter(is_default=True).exclude(id=plan.id).update(is_default=False)
        return _describe(plan, 0)


async def _plan(name: str) -> Plan:
    plan = await Plan.get_or_none(name=name)
    if plan is None:
        raise PlanCommandError(f"No plan named {name!r}.")
    return plan


async def update_plan(
    settings: Settings,
    name: str,
    *,
    limits: str | None,
    rename: str | None,
    features: list[str] | None,
    default: bool | None,
) -> str:
    async with _database(settings):
        plan = await _plan(name)
        if limits is not None:
            try:
                plan.limits = PlanLimits.parse(plan.limits).updated(_limits(limits)).as_json()
            except InvalidLimits as error:
                raise PlanCommandError(str(error)) from None
        if rename is not None:
            plan.name = rename.strip()
        if features is not None:
            try:
                plan.features = parse_features(features)
            except InvalidFeatures as error:
                raise PlanCommandError(str(error)) from None
        if default is not None:
            plan.is_default = default
        try:
            await plan.save()
        except IntegrityError:
            raise PlanCommandError(f"A plan named {rename!r} exists.") from None
        if plan.is_default:
            await Plan.filter(is_default=True).exclude(id=plan.id).update(is_default=False)
        return _describe(plan, await Subscription.filter(plan_id=plan.id).count())


async def _organization(reference: str) -> Organization:
    """An organization by its number or its global id."""
    try:
        pk = int(reference) if reference.isdigit() else from_global_id(reference)[1]
    except InvalidId:
        pk = 0
    organization = await Organization.get_or_none(id=pk)
    if organization is None:
        raise PlanCommandError(f"No organization {reference!r}.")
    return organization


async def assign_plan(
    settings: Settings, organization: str, name: str, status: SubscriptionStatus | None
) -> str:
    async with _database(settings):
        org = await _organization(organization)
        plan = await _plan(name)
        subscription = await subscriptions.assign(settings, org.id, plan, status=status)
        return f"{org.name} is on {plan.name} ({subscription.status.value})."


async def set_status(settings: Settings, organization: str, status: SubscriptionStatus) -> str:
    async with _database(settings):
        org = await _organization(organization)
        subscription = await subscriptions.set_status(settings, org.id, status)
        plan = await Plan.get(id=subscription.plan_id)
        return f"{org.name} is on {plan.name} ({subscription.status.value})."
