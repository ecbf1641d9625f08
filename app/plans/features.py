"""A plan's feature flags: what an organization may use at all, checked where it is used.

A plan turns features on by name (``Plan.features``); a plan without a feature refuses it with
a ``FEATURE_NOT_IN_PLAN`` userError naming the feature and the plan. The ``Default`` plan that
mirrors the settings has every feature, so ``make dev`` is never blocked; a plan staff create
has the features they name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.models.plans import Plan, Subscription
from app.plans.context import PlanContext
from app.plans.limits import Feature, features_of
from app.plans.subscriptions import SETTINGS_PLAN, plan_and_subscription
from app.platform.user_errors import UserError, UserErrorCode, user_error


@dataclass(frozen=True)
class FeatureMissing:
    """A refusal: the organization's plan does not include ``feature``."""

    feature: Feature
    plan: str

    @property
    def message(self) -> str:
        return (
            f"The plan {self.plan!r} does not include {self.feature.noun} "
            f"(feature {self.feature.value})."
        )

    def user_error(self, field: str | list[str] | None = None) -> UserError:
        return user_error(field, self.message, UserErrorCode.FEATURE_NOT_IN_PLAN)


async def enabled(ctx: PlanContext, organization_id: int) -> frozenset[Feature]:
    plan, _ = await plan_and_subscription(ctx.settings, organization_id)
    return features_of(plan.features)


async def missing(
    ctx: PlanContext, organization_id: int, feature: Feature
) -> FeatureMissing | None:
    """None when the organization's plan includes ``feature``; else the refusal."""
    plan, _ = await plan_and_subscription(ctx.settings, organization_id)
    return None if feature in features_of(plan.features) else FeatureMissing(feature, plan.name)


async def organizations_with(organization_ids: Sequence[int], feature: Feature) -> set[int]:
    """Which of the organizations may use ``feature``, in one query (two when some have no
    subscription yet: those will get the default plan; the settings' ``Default`` plan has
    every feature)."""
    if not organization_ids:
        return set()
    subscribed = await Subscription.filter(
        organization_id__in=list(organization_ids)
    ).select_related("plan")
    allowed = {s.organization_id for s in subscribed if _includes(s.plan, feature)}
    unsubscribed = set(organization_ids) - {s.organization_id for s in subscribed}
    if unsubscribed:
        default = await Plan.filter(is_default=True).order_by("id").first()
        if default is None or _includes(default, feature):
            allowed |= unsubscribed
    return allowed


def _includes(plan: Plan, feature: Feature) -> bool:
    # The settings' plan has every feature, even as a row written before features counted
    # (plan_and_subscription brings that row in line on its next use).
    return plan.name == SETTINGS_PLAN or feature in features_of(plan.features)
