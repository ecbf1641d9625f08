"""AI usage per organization: runs and tokens counted per UTC day, limits per calendar month.

A run counts when it is created (the allowance is checked then); its tokens are added when it
ends, on the day it was created. A run already under way may carry a month past its token allowance;
the next one is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from app.models.ai import AIUsage, AIUsageLimit
from app.plans import quotas
from app.plans.context import PlanContext
from app.plans.limits import Limit
from app.platform import clock, metrics


@dataclass(frozen=True)
class Totals:
    runs: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def today() -> date:
    return clock.now().date()


def month_of(day: date) -> tuple[date, date]:
    """The first day of ``day``'s month and the first day of the next."""
    start = day.replace(day=1)
    following = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start, following


async def add(
    organization_id: int, day: date, *, runs: int = 0, prompt: int = 0, completion: int = 0
) -> None:
    """Add to the day's counters atomically; concurrent first writers of a day both count."""
    if prompt > 0 or completion > 0:
        metrics.AI_TOKENS.labels("prompt").inc(max(prompt, 0))
        metrics.AI_TOKENS.labels("completion").inc(max(completion, 0))
    changes = {
        "runs": F("runs") + runs,
        "prompt_tokens": F("prompt_tokens") + prompt,
        "completion_tokens": F("completion_tokens") + completion,
    }
    row = AIUsage.filter(organization_id=organization_id, day=day)
    if await row.update(**changes):
        return
    try:
        await AIUsage.create(
            organization_id=organization_id,
            day=day,
            runs=runs,
            prompt_tokens=prompt,
            completion_tokens=completion,
        )
    except IntegrityError:
        await row.update(**changes)


async def days(organization_id: int, start: date, end: date) -> list[AIUsage]:
    """The organization's counted days in ``[start, end)``, oldest first."""
    return (
        await AIUsage.filter(organization_id=organization_id, day__gte=start, day__lt=end)
        .order_by("day")
        .limit(366)
    )


def total(rows: list[AIUsage]) -> Totals:
    return Totals(
        runs=sum(row.runs for row in rows),
        prompt_tokens=sum(row.prompt_tokens for row in rows),
        completion_tokens=sum(row.completion_tokens for row in rows),
    )


async def limit_of(organization_id: int) -> AIUsageLimit | None:
    return await AIUsageLimit.get_or_none(organization_id=organization_id)


async def count_run(ctx: PlanContext, organization_id: int) -> str | None:
    """Count a new run, or say why the plan or the organization's own monthly allowance
    refuses it.

    The run is counted first and taken back when it went over, so concurrent requests can
    never start more runs than the allowance.
    """
    if refusal := await quotas.reserve(ctx, organization_id, Limit.AI_RUNS):
        return refusal.message
    refused = await _count_allowed(organization_id)
    if refused is not None:
        await quotas.release(organization_id, Limit.AI_RUNS, amount=1)
    return refused


async def _count_allowed(organization_id: int) -> str | None:
    limit = await limit_of(organization_id)
    if limit is None or (limit.runs_per_month is None and limit.tokens_per_month is None):
        await add(organization_id, today(), runs=1)
        metrics.AI_RUNS.inc()
        return None
    start, end = month_of(today())
    used = total(await days(organization_id, start, end))
    if limit.tokens_per_month is not None and used.tokens >= limit.tokens_per_month:
        return (
            f"The organization's AI allowance of {limit.tokens_per_month} tokens this month is "
            f"used up ({used.tokens} used)."
        )
    await add(organization_id, today(), runs=1)
    if limit.runs_per_month is not None:
        counted = total(await days(organization_id, start, end))
        if counted.runs > limit.runs_per_month:
            await add(organization_id, today(), runs=-1)
            return (
                f"The organization's AI allowance of {limit.runs_per_month} runs this month "
                "is used up."
            )
    metrics.AI_RUNS.inc()
    return None
