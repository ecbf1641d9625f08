"""Counting against a plan's limits at the point of action, race-free across processes.

Each organization has a :class:`UsageCounter` row per limit and period. Whoever counts takes
that row's lock first (an UPDATE of it inside a transaction: PostgreSQL holds the row lock until
the commit; SQLite runs one transaction at a time), then reads what is used and decides, so two
requests racing for the last slot are decided one after the other, whichever process they run in.

- Limits counted from rows (devices, seats, contacts): :func:`capacity` counts the rows under
  the lock and the caller creates its rows inside, in the same transaction.
- Everything else: :func:`reserve` adds to the counter. With a ``key`` (``message:42``,
  ``media:7``: :mod:`app.plans.keys`) it counts at most once per key, however often a retry or
  another worker asks; :func:`release` takes a keyed reservation back when the thing never
  happened.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from tortoise import connections
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from app.models.accounts import Membership, OneTimeToken, TokenPurpose
from app.models.messaging import Contact, Device
from app.models.plans import Plan, Subscription, SubscriptionStatus, UsageCounter, UsageRecord
from app.plans import counters, warnings
from app.plans.context import PlanContext
from app.plans.limits import ALWAYS, Limit, PlanLimits
from app.plans.subscriptions import period_of, plan_and_subscription
from app.platform import clock
from app.platform.sql import Binder
from app.platform.user_errors import UserError, UserErrorCode, user_error

ROW_COUNTED = (Limit.DEVICES, Limit.SEATS, Limit.CONTACTS)


@dataclass(frozen=True)
class LimitExceeded:
    """A refusal: the limit, what the plan allows, what is used and what was asked for."""

    limit: Limit
    plan: str
    allowed: int
    used: int
    requested: int
    status: SubscriptionStatus = SubscriptionStatus.ACTIVE

    @property
    def remaining(self) -> int:
        return max(0, self.allowed - self.used)

    @property
    def message(self) -> str:
        if self.status is SubscriptionStatus.CANCELED:
            return f"The subscription to the plan {self.plan!r} is cancelled."
        per = " this month" if self.limit.monthly else ""
        return (
            f"The plan {self.plan!r} allows {self.allowed} {self.limit.noun(self.allowed)}{per}: "
            f"{self.used} used, {self.remaining} left, {self.requested} asked for "
            f"(limit {self.limit.value})."
        )

    def user_error(self, field: str | list[str] | None = None) -> UserError:
        return user_error(field, self.message, UserErrorCode.LIMIT_EXCEEDED)


@dataclass(frozen=True)
class Standing:
    plan: Plan
    subscription: Subscription
    allowed: int | None
    period: date


async def standing(ctx: PlanContext, organization_id: int, limit: Limit) -> Standing:
    plan, subscription = await plan_and_subscription(ctx.settings, organization_id)
    allowed = PlanLimits.parse(plan.limits).of(limit)
    period = period_of(subscription).start.date() if limit.monthly else ALWAYS
    return Standing(plan, subscription, allowed, period)


async def _lock(counter_id: int) -> int:
    """Take the counter's row lock (held until the transaction ends); what it says is used."""
    await UsageCounter.filter(id=counter_id).update(updated_at=clock.now())
    row = await UsageCounter.get(id=counter_id)
    return int(row.used)


def _cancelled(standing: Standing) -> bool:
    return standing.subscription.status is SubscriptionStatus.CANCELED


async def count_rows(organization_id: int, limit: Limit) -> int:
    """What a row-counted limit uses now."""
    if limit is Limit.DEVICES:
        return await Device.filter(organization_id=organization_id).count()
    if limit is Limit.CONTACTS:
        return await Contact.filter(organization_id=organization_id).count()
    if limit is Limit.SEATS:
        # API keys act through service users of their own: they take no seat.
        members = await Membership.filter(
            organization_id=organization_id, user__is_service=False
        ).count()
        invited = await (
            OneTimeToken.filter(
                Q(expires_at__gt=clock.now()),
                organization_id=organization_id,
                purpose=TokenPurpose.INVITATION,
                used_at__isnull=True,
            )
            .distinct()
            .values_list("email", flat=True)
        )
        return members + len(set(invited))
    raise ValueError(f"{limit} is not counted from rows")


@contextlib.asynccontextmanager
async def capacity(
    ctx: PlanContext, organization_id: int, limit: Limit, amount: int = 1
) -> AsyncIterator[LimitExceeded | None]:
    """Room for ``amount`` more rows of a row-counted limit: None, or why not.

    Create the rows inside the block: it is a transaction holding the limit's lock, so a
    concurrent caller counts them before it decides.
    """
    if limit not in ROW_COUNTED:
        raise ValueError(f"{limit} is not counted from rows; use reserve()")
    state = await standing(ctx, organization_id, limit)
    if state.allowed is None and not _cancelled(state):
        yield None
        return
    row = await counters.counter(organization_id, limit.value, ALWAYS)
    used = 0
    async with in_transaction():
        await _lock(row.id)
        used = await count_rows(organization_id, limit)
        if _cancelled(state) or (state.allowed is not None and used + amount > state.allowed):
            yield _refusal(state, limit, used, amount)
            return
        yield None
    assert state.allowed is not None
    await warnings.crossed(ctx, organization_id, limit, used, used + amount, state.allowed)


def _refusal(state: Standing, limit: Limit, used: int, requested: int) -> LimitExceeded:
    return LimitExceeded(
        limit=limit,
        plan=state.plan.name,
        allowed=state.allowed if state.allowed is not None else 0,
        used=used,
        requested=requested,
        status=state.subscription.status,
    )


@dataclass(frozen=True)
class Reserved:
    """What :func:`reserve_each` granted (keys counted now or before) and any refusal."""

    granted: set[str]
    refusal: LimitExceeded | None


async def reserve_each(
    ctx: PlanContext,
    organization_id: int,
    limit: Limit,
    keys: Sequence[str],
    *,
    free: Sequence[str] = (),
) -> Reserved:
    """Count one for each key not counted yet, in order, while the limit has room.

    Keys in ``free`` are counted but never refused (a send inside an open service window).
    Keys counted before (a retry, another worker) are granted and not counted again.
    """
    if limit in ROW_COUNTED:
        raise ValueError(f"{limit} is counted from rows; use capacity()")
    if not keys:
        return Reserved(set(), None)
    state = await standing(ctx, organization_id, limit)
    row = await counters.counter(organization_id, limit.value, state.period)
    never_refused = set(free)
    granted: set[str] = set()
    refusal: LimitExceeded | None = None
    async with in_transaction():
        used = await _lock(row.id)
        known = set(
            await UsageRecord.filter(counter_id=row.id, key__in=list(keys)).values_list(
                "key", flat=True
            )
        )
        added: list[str] = []
        for key in dict.fromkeys(keys):
            if key in known:
                granted.add(key)
                continue
            over = state.allowed is not None and used + len(added) + 1 > state.allowed
            if key not in never_refused and (_cancelled(state) or over):
                if refusal is None:
                    refusal = _refusal(state, limit, used + len(added), 1)
                continue
            added.append(key)
            granted.add(key)
        if added:
            await UsageRecord.bulk_create(
                [UsageRecord(counter_id=row.id, key=key, amount=1) for key in added]
            )
            await UsageCounter.filter(id=row.id).update(used=F("used") + len(added))
    if added and state.allowed is not None:
        await warnings.crossed(
            ctx, organization_id, limit, used, used + len(added), state.allowed, state.period
        )
    return Reserved(granted, refusal)


async def reserve(
    ctx: PlanContext,
    organization_id: int,
    limit: Limit,
    amount: int = 1,
    *,
    key: str | None = None,
    force: bool = False,
) -> LimitExceeded | None:
    """Count ``amount`` against ``limit`` if it has room: None, or the refusal.

    With ``key`` it counts at most once per key (a retry is granted without counting again).
    ``force`` counts without refusing (what happened anyway, e.g. a send in a service window).
    """
    if limit in ROW_COUNTED:
        raise ValueError(f"{limit} is counted from rows; use capacity()")
    state = await standing(ctx, organization_id, limit)
    row = await counters.counter(organization_id, limit.value, state.period)
    async with in_transaction():
        used = await _lock(row.id)
        if key is not None and await UsageRecord.exists(counter_id=row.id, key=key):
            return None
        over = state.allowed is not None and used + amount > state.allowed
        if not force and (_cancelled(state) or over):
            return _refusal(state, limit, used, amount)
        if key is not None:
            await UsageRecord.create(counter_id=row.id, key=key, amount=amount)
        await UsageCounter.filter(id=row.id).update(used=F("used") + amount)
    if state.allowed is not None:
        await warnings.crossed(
            ctx, organization_id, limit, used, used + amount, state.allowed, state.period
        )
    return None


async def release(
    organization_id: int, limit: Limit, *, key: str | None = None, amount: int = 0
) -> None:
    """Take back a reservation: the one under ``key`` (in whichever period it was counted;
    nothing if there is none), or ``amount`` of this period's count (an API key revoked, a
    file deleted)."""
    if key is not None:
        await release_each(organization_id, limit, [key])
        return
    if amount:
        period = ALWAYS
        if limit.monthly:
            subscription = await Subscription.get_or_none(organization_id=organization_id)
            period = (
                period_of(subscription).start.date()
                if subscription
                else clock.now().date().replace(day=1)
            )
        await UsageCounter.filter(
            organization_id=organization_id, limit=limit.value, period=period, used__gte=amount
        ).update(used=F("used") - amount)


async def release_each(organization_id: int, limit: Limit, keys: Sequence[str]) -> None:
    """Take back the reservations under ``keys`` (those there are), each once however many
    callers ask. The counter is locked before its records, as :func:`reserve` does."""
    if not keys:
        return
    found = await UsageRecord.filter(
        counter__organization_id=organization_id,
        counter__limit=limit.value,
        key__in=list(keys),
    ).values_list("counter_id", "key")
    by_counter: dict[int, list[str]] = {}
    for counter_id, key in found:
        by_counter.setdefault(counter_id, []).append(key)
    for counter_id, counted in sorted(by_counter.items()):
        async with in_transaction():
            await _lock(counter_id)
            records = await UsageRecord.filter(counter_id=counter_id, key__in=counted)
            if not records:
                continue
            await UsageRecord.filter(id__in=[record.id for record in records]).delete()
            taken = sum(int(record.amount) for record in records)
            await UsageCounter.filter(id=counter_id).update(used=F("used") - taken)


async def move(
    ctx: PlanContext, organization_id: int, key: str, among: Sequence[Limit], to: Limit
) -> bool:
    """Move what was counted under ``key`` against one of ``among`` to ``to`` (see
    :func:`move_many`); True when this caller moved it."""
    return await move_many(ctx, organization_id, [key], among, to) == 1


async def move_many(
    ctx: PlanContext, organization_id: int, keys: Sequence[str], among: Sequence[Limit], to: Limit
) -> int:
    """Move what was counted under each of ``keys`` against one of ``among`` to ``to``, in the
    period it was counted in, never refused (it happened). Exactly once however many callers
    ask at once: the counters are locked (in id order, so two movers never wait on each other)
    before the records are taken, and only the caller that deletes a record adds it to ``to``.
    A batch takes each counter's lock once. Returns how many this caller moved."""
    found = [
        record
        for record in await UsageRecord.filter(
            counter__organization_id=organization_id,
            counter__limit__in=[limit.value for limit in among],
            key__in=list(keys),
        ).select_related("counter")
        if record.counter.limit != to.value  # else where it belongs already
    ]
    if not found:
        return 0  # never counted (or given back), or where they belong already
    sources = {record.counter.id: record.counter for record in found}
    targets = {
        period: await counters.counter(organization_id, to.value, period)
        for period in sorted({source.period for source in sources.values()})
    }
    async with in_transaction():
        lock_ids = sorted({*sources, *(target.id for target in targets.values())})
        used = {counter_id: await _lock(counter_id) for counter_id in lock_ids}
        # Another caller may have moved (or given back) some meanwhile: what this one deletes
        # is its to move.
        taken = await _take_records([record.id for record in found])
        for counter_id, amount in _per_counter(taken).items():
            await UsageCounter.filter(id=counter_id).update(used=F("used") - amount)
        moving = [(targets[sources[c].period].id, key, amount) for c, key, amount in taken]
        # Counted there too already: the count it had where it was was one too many.
        there = set(
            await UsageRecord.filter(
                counter_id__in=sorted({t for t, _, _ in moving}),
                key__in=sorted({key for _, key, _ in moving}),
            ).values_list("counter_id", "key")
        )
        new = [(t, key, amount) for t, key, amount in moving if (t, key) not in there]
        if new:
            await UsageRecord.bulk_create(
                [UsageRecord(counter_id=t, key=key, amount=amount) for t, key, amount in new]
            )
        added = _per_counter(new)  # target counter → what it gained
        for target_id, amount in added.items():
            await UsageCounter.filter(id=target_id).update(used=F("used") + amount)
    if added:
        state = await standing(ctx, organization_id, to)
        target = targets.get(state.period)
        if state.allowed is not None and target is not None and target.id in added:
            before = used[target.id]
            await warnings.crossed(
                ctx,
                organization_id,
                to,
                before,
                before + added[target.id],
                state.allowed,
                state.period,
            )
    return len(taken)


def _per_counter(rows: Iterable[tuple[int, str, int]]) -> dict[int, int]:
    """The amounts of (counter id, key, amount) rows summed by counter, in counter id order."""
    totals: Counter[int] = Counter()
    for counter_id, _, amount in rows:
        totals[counter_id] += amount
    return dict(sorted(totals.items()))


async def _take_records(ids: Sequence[int]) -> list[tuple[int, str, int]]:
    """Delete the usage records ``ids`` still there; (counter id, key, amount) of each."""
    connection = connections.get("default")
    bind = Binder(connection)
    rows = await connection.execute_query_dict(
        f"DELETE FROM {UsageRecord._meta.db_table} WHERE id {bind.ids(ids)}"
        " RETURNING counter_id, key, amount",
        bind.params,
    )
    return [(int(r["counter_id"]), str(r["key"]), int(r["amount"])) for r in rows]


async def used(organization_id: int, limit: Limit, period: date) -> int:
    """What ``limit`` uses in ``period`` (row-counted limits: the rows now)."""
    if limit in ROW_COUNTED:
        return await count_rows(organization_id, limit)
    row = await UsageCounter.get_or_none(
        organization_id=organization_id, limit=limit.value, period=period
    )
    return int(row.used) if row else 0
