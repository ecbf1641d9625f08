"""One send rate per device across every worker process: a GCRA in Redis, without burst.

Sends take slots on the device's timeline (slots ``1/rate`` apart, kept in Redis, timed by
Redis's clock). A sender reserves a run of consecutive slots in one round trip (about a tenth
of a second of the rate) and sleeps until each. Nothing is saved up while idle, so no
one-second window ever holds more than the rate as long as every send leaves on time.

A send that leaves late crowds the window after it: slots are ``1/(rate*MARGIN)`` apart, so
``rate`` consecutive slots span ``1/MARGIN`` seconds, and a window of one second holds more
than ``rate`` sends only if one send left more than ``1/MARGIN - 1`` seconds (~31 ms) later
than a send ``rate`` slots after it. So a slot woken up more than ``LATE_SECONDS`` after its
time is not used (the send takes a later slot): lateness stays under ``LATE_SECONDS`` and
the rest of the margin absorbs the jitter between here and Meta's door.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

# Slots are this fraction of the limit apart: a 1/MARGIN - 1 (~31 ms) budget for lateness.
MARGIN = 0.97
# A slot woken up later than this is skipped; the rest of the budget covers the way to Meta.
LATE_SECONDS = 0.010
# A reservation holds at most this much of the rate (and at least one slot)...
RESERVE_SECONDS = 0.1
# ... and does not start further ahead of now than this (other senders hold the slots before).
HORIZON_SECONDS = 1.0

_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local wanted = tonumber(ARGV[2])
local horizon = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local within = tonumber(ARGV[4] or '-1')
if within >= 0 and tat - now > within then return {tat, now, 0} end
local room = math.floor((now + horizon - tat) / interval)
local n = math.max(1, math.min(wanted, room))
local last = tat + n * interval
redis.call('SET', KEYS[1], tostring(last), 'PX', math.ceil((last - now) / 1000) + 1000)
return {tat, now, n}
"""

# A send Meta refused as over the rate (130429) is tried again at later slots this often.
RATE_LIMITED_RETRIES = 3


class _Clock:
    """Redis's clock on this process's monotonic clock.

    A slot is a time on Redis's clock. Converting it with the moment the reply arrived would
    shift a whole run of slots by however long the reply waited for a busy event loop, and the
    shifted run would crowd the one reserved after it. Redis read its clock between sending the
    call and receiving the reply, so ``redis_now - received`` is a lower bound of the offset;
    the largest bound seen (the quickest round trip) is kept.
    """

    def __init__(self) -> None:
        self.offset: float | None = None

    def observe(self, redis_now: float, sent: float, received: float) -> None:
        low, high = redis_now - received, redis_now - sent
        if self.offset is None or self.offset > high:  # first, or Redis's clock was stepped
            self.offset = low
        else:
            self.offset = max(self.offset, low)

    def local(self, redis_time: float) -> float:
        assert self.offset is not None
        return redis_time - self.offset


_clock = _Clock()


@dataclass(frozen=True)
class Slots:
    """``count`` consecutive slots ``interval`` seconds apart, the first at ``first``
    (``time.monotonic()``)."""

    first: float
    interval: float
    count: int

    def at(self, index: int) -> float:
        return self.first + index * self.interval


def interval_of(per_second: int) -> float:
    return 1.0 / (max(per_second, 1) * MARGIN)


class DeviceLimiter:
    def __init__(self, redis: aioredis.Redis) -> None:
        self._reserve: Any = redis.register_script(_RESERVE)

    async def reserve(
        self, device_id: int, per_second: int, wanted: int, *, within: float | None = None
    ) -> Slots:
        """Reserve up to ``wanted`` consecutive slots (at least one) in one round trip; with
        ``within``, none when the first free slot is further ahead than that many seconds
        (``count`` 0, ``first`` that slot's time)."""
        interval_us = int(1_000_000 * interval_of(per_second))
        most = max(1, int(per_second * RESERVE_SECONDS))
        args = [interval_us, max(1, min(wanted, most)), int(HORIZON_SECONDS * 1_000_000)]
        if within is not None:
            args.append(int(within * 1_000_000))
        sent = time.monotonic()
        tat_us, now_us, count = await self._reserve(keys=[f"pace:device:{device_id}"], args=args)
        _clock.observe(int(now_us) / 1_000_000, sent, time.monotonic())
        return Slots(
            first=_clock.local(int(tat_us) / 1_000_000),
            interval=interval_us / 1_000_000,
            count=int(count),
        )

    async def next_slot(self, device_id: int, per_second: int, *, within: float) -> Slots:
        """One slot no further ahead than ``within`` seconds, slept until. When the device is
        booked further ahead than that, nothing is reserved and nothing slept: ``count`` is 0
        and ``first`` the first free slot."""
        slots = await self.reserve(device_id, per_second, 1, within=within)
        delay = slots.first - time.monotonic()
        if slots.count and delay > 0:
            await asyncio.sleep(delay)
        return slots
