"""The billing seam: a billing system tells Parley what a subscription is now.

``POST /billing/subscription`` (app.http.billing) carries a JSON body signed like Parley's own
outbound webhooks: ``X-Parley-Billing-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(
PARLEY_BILLING_SECRET, "<t>.<raw body>")>``, at most five minutes old. A Stripe handler would
turn Stripe's events into this same call (or :func:`apply`); enforcement only ever reads the
subscription row, so it never changes for it.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.models.accounts import Organization
from app.models.plans import Plan, Subscription, SubscriptionStatus
from app.plans import subscriptions
from app.plans.subscriptions import Period
from app.platform.config import Settings
from app.platform.ids import InvalidId, from_global_id

SIGNATURE_HEADER = "X-Parley-Billing-Signature"
MAX_AGE_SECONDS = 300


class BillingError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def sign(secret: str, body: bytes, at: int) -> str:
    digest = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def verify(secret: str, header: str | None, body: bytes, now: float) -> bool:
    parts = dict(p.split("=", 1) for p in (header or "").split(",") if "=" in p)
    try:
        at = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(now - at) > MAX_AGE_SECONDS:
        return False
    expected = sign(secret, body, at).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


@dataclass(frozen=True)
class Change:
    organization_id: int
    status: SubscriptionStatus
    plan: str | None
    period: Period | None
    trial_ends_at: datetime | None
    external_id: str | None


def _time(body: dict[str, Any], name: str) -> datetime | None:
    value = body.get(name)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise BillingError(f"`{name}` must be an ISO 8601 time.") from None
    if parsed.tzinfo is None:
        raise BillingError(f"`{name}` needs a time zone.")
    return parsed


def parse(body: Any) -> Change:
    if not isinstance(body, dict):
        raise BillingError("The body must be a JSON object.")
    try:
        type_name, pk = from_global_id(str(body.get("organizationId", "")))
    except InvalidId:
        type_name, pk = "", 0
    if type_name != "Organization":
        raise BillingError("`organizationId` must be an Organization's global id.")
    try:
        status = SubscriptionStatus(str(body.get("status", "")))
    except ValueError:
        names = ", ".join(s.value for s in SubscriptionStatus)
        raise BillingError(f"`status` must be one of {names}.") from None
    start, end = _time(body, "currentPeriodStart"), _time(body, "currentPeriodEnd")
    if (start is None) != (end is None) or (start and end and end <= start):
        raise BillingError("Give `currentPeriodStart` before `currentPeriodEnd`, or neither.")
    plan = body.get("plan")
    external_id = body.get("externalId")
    return Change(
        organization_id=pk,
        status=status,
        plan=str(plan) if plan is not None else None,
        period=Period(start, end) if start and end else None,
        trial_ends_at=_time(body, "trialEndsAt"),
        external_id=str(external_id) if external_id is not None else None,
    )


async def apply(settings: Settings, change: Change) -> tuple[Subscription, Plan]:
    if not await Organization.exists(id=change.organization_id):
        raise BillingError("No such organization.", 404)
    if change.plan is not None:
        plan = await Plan.get_or_none(name=change.plan)
        if plan is None:
            raise BillingError(f"No plan named {change.plan!r}.", 404)
        await subscriptions.assign(settings, change.organization_id, plan)
    subscription = await subscriptions.set_status(
        settings,
        change.organization_id,
        change.status,
        period=change.period,
        trial_ends_at=change.trial_ends_at,
        external_id=change.external_id,
    )
    return subscription, await Plan.get(id=subscription.plan_id)
