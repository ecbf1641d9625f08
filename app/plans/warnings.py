"""Warnings at 80 % and 100 % of a limit: once per period per limit and threshold.

Each warning is a :class:`UsageRecord` under the organization's ``warnings`` counter of the
month, keyed by limit, threshold and period, so however many processes cross the line at
once, one of them warns: a live :class:`~app.platform.events.UsageEvent` and the
:class:`~app.platform.events.UsageThresholdReached` reaction (the email to OWNERs and ADMINs).
"""

from __future__ import annotations

import math
from datetime import date

import structlog
from tortoise.exceptions import IntegrityError

from app.models.plans import UsageRecord
from app.plans import counters
from app.plans.context import PlanContext
from app.plans.keys import WARNINGS, warning_key
from app.plans.limits import ALWAYS, Limit
from app.plans.subscriptions import month_of
from app.platform import clock, events

log = structlog.get_logger("parley.plans")

THRESHOLDS = (80, 100)


def reached(before: int, after: int, allowed: int) -> list[int]:
    """The thresholds (percent) that going from ``before`` to ``after`` used reaches."""
    if allowed <= 0:
        return []
    return [t for t in THRESHOLDS if before < math.ceil(allowed * t / 100) <= after]


async def crossed(
    ctx: PlanContext,
    organization_id: int,
    limit: Limit,
    before: int,
    after: int,
    allowed: int,
    period: date = ALWAYS,
) -> None:
    thresholds = reached(before, after, allowed)
    if not thresholds:
        return
    month = month_of(clock.now()).start.date()
    period = month if period == ALWAYS else period
    counter = await counters.counter(organization_id, WARNINGS, month)
    for threshold in thresholds:
        event = events.UsageEvent(organization_id, limit.value, threshold, after, allowed)
        try:
            async with events.transaction():
                await UsageRecord.create(
                    counter_id=counter.id, key=warning_key(limit, threshold, period), amount=0
                )
                await events.publish(ctx.broker, event)
        except IntegrityError:
            continue  # warned already this period
        log.info("plans.usage_warning", **event.payload())
        await events.happened(events.UsageThresholdReached(ctx.settings, ctx.broker, event))
