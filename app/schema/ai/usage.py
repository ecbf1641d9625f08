"""AI usage of the organization and its monthly allowance (ADMIN+)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from app.models import ai as models
from app.models.accounts import Role
from app.platform.context import Info
from app.resolvers import ai as resolvers
from app.schema.accounts.types import OrganizationType
from app.schema.permissions import HasRole
from app.schema.user_errors import UserError


@strawberry.type(description="AI runs and tokens of one UTC day.")
class AIUsageDay:
    date: date = strawberry.field(description="The day (UTC).")
    runs: int = strawberry.field(description="Runs started that day.")
    prompt_tokens: int = strawberry.field(description="Tokens sent to models by those runs.")
    completion_tokens: int = strawberry.field(description="Tokens models produced for them.")

    @classmethod
    def from_model(cls, row: models.AIUsage) -> AIUsageDay:
        return cls(
            date=row.day,
            runs=row.runs,
            prompt_tokens=row.prompt_tokens,
            completion_tokens=row.completion_tokens,
        )


@strawberry.type(description="The organization's monthly AI allowance; null: unlimited.")
class AIUsageLimit:
    runs_per_month: int | None = strawberry.field(description="Runs a month may start.")
    tokens_per_month: int | None = strawberry.field(
        description="Tokens (in + out) after which a month starts no more runs."
    )

    @classmethod
    def from_model(cls, row: models.AIUsageLimit) -> AIUsageLimit:
        return cls(runs_per_month=row.runs_per_month, tokens_per_month=row.tokens_per_month)


@strawberry.type(description="AI usage of the organization in one calendar month (UTC).")
class AIUsage:
    month: str = strawberry.field(description="The month, `YYYY-MM`.")
    runs: int = strawberry.field(description="Runs started in the month.")
    prompt_tokens: int = strawberry.field(description="Tokens sent to models.")
    completion_tokens: int = strawberry.field(description="Tokens models produced.")
    days: list[AIUsageDay] = strawberry.field(description="The days with usage, oldest first.")
    limit: AIUsageLimit | None = strawberry.field(description="The allowance, if one is set.")


@strawberry.input(description="The organization's monthly AI allowance; null fields: unlimited.")
class SetAIUsageLimitInput:
    runs_per_month: int | None = strawberry.field(default=None, description="Runs a month.")
    tokens_per_month: int | None = strawberry.field(default=None, description="Tokens a month.")


@strawberry.type(description="The result of setAIUsageLimit.")
class SetAIUsageLimitPayload:
    limit: AIUsageLimit | None = strawberry.field(description="The allowance as it is now.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.type
class AIUsageQuery:
    @strawberry.field(
        name="aiUsage",
        description="AI runs and tokens of the organization in a month (default: this one), "
        "per day, with its allowance (ADMIN+).",
        permission_classes=[HasRole(Role.ADMIN)],
    )
    async def ai_usage(
        self,
        info: Info,
        month: Annotated[
            str | None, strawberry.argument(description="`YYYY-MM` (UTC); default this month.")
        ] = None,
    ) -> AIUsage:
        usage = await resolvers.month_usage(info, month)
        return AIUsage(
            month=usage.start.strftime("%Y-%m"),
            runs=usage.totals.runs,
            prompt_tokens=usage.totals.prompt_tokens,
            completion_tokens=usage.totals.completion_tokens,
            days=[AIUsageDay.from_model(row) for row in usage.days],
            limit=AIUsageLimit.from_model(usage.limit) if usage.limit else None,
        )


@strawberry.input(description="The organization's opening hours.")
class SetBusinessHoursInput:
    business_hours: JSON = strawberry.field(
        description='`{"timezone": "Europe/Rome", "hours": {"mon": "09:00-17:00", "sun": '
        '"closed"}, "note": "..."}`; days left out are closed; `{}` clears them.'
    )


@strawberry.type(description="The result of setBusinessHours.")
class SetBusinessHoursPayload:
    organization: OrganizationType | None = strawberry.field(
        description="The organization as it is now."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.type
class AIUsageMutation:
    @strawberry.mutation(
        description="Set the organization's opening hours, which AI agents answer from (ADMIN+).",
        permission_classes=[HasRole(Role.ADMIN)],
    )
    async def set_business_hours(
        self, info: Info, input: SetBusinessHoursInput
    ) -> SetBusinessHoursPayload:
        organization, errors = await resolvers.set_business_hours(info, input.business_hours)
        return SetBusinessHoursPayload(
            organization=OrganizationType.from_model(organization) if organization else None,
            user_errors=errors,
        )

    @strawberry.mutation(
        name="setAIUsageLimit",
        description="Set the organization's monthly AI allowance (ADMIN+); runs beyond it are "
        "refused with LIMIT_EXCEEDED.",
        permission_classes=[HasRole(Role.ADMIN)],
    )
    async def set_ai_usage_limit(
        self, info: Info, input: SetAIUsageLimitInput
    ) -> SetAIUsageLimitPayload:
        row, errors = await resolvers.set_usage_limit(
            info, input.runs_per_month, input.tokens_per_month
        )
        return SetAIUsageLimitPayload(
            limit=AIUsageLimit.from_model(row) if row else None, user_errors=errors
        )
