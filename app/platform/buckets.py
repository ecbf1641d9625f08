"""Leaky buckets in Redis, refilled at a steady rate: each caller's query cost budget.

An amount is taken from a caller's bucket, or refused with the seconds until it would fit;
a negative amount gives some back. One Lua script per step keeps concurrent requests of the
same caller exact, across processes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

# KEYS[1] bucket; ARGV: maximum, restore rate per second, now, amount to take (may be
# negative: a refund), ttl. Returns {allowed (1/0), available after, seconds to wait}.
_TAKE = """
local maximum = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local amount = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'available', 'at')
local available = tonumber(state[1]) or maximum
local at = tonumber(state[2]) or now
available = math.min(maximum, available + math.max(0, now - at) * rate)
if amount > available then
  return {0, tostring(available), tostring((amount - available) / rate)}
end
available = math.min(maximum, available - amount)
redis.call('HSET', KEYS[1], 'available', tostring(available), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], ARGV[5])
return {1, tostring(available), '0'}
"""


@dataclass(frozen=True, slots=True)
class BucketState:
    allowed: bool
    available: float
    retry_after: float


class CostBudget:
    def __init__(self, redis: aioredis.Redis, *, maximum: int, restore_rate: float) -> None:
        self.maximum = maximum
        self.restore_rate = restore_rate
        self._script = redis.register_script(_TAKE)
        self._ttl = int(maximum / restore_rate) + 60

    async def take(self, key: str, amount: float) -> BucketState:
        allowed, available, wait = await self._script(
            keys=[f"cost:bucket:{key}"],
            args=[self.maximum, self.restore_rate, time.time(), amount, self._ttl],
        )
        return BucketState(bool(int(allowed)), float(available), float(wait))

    async def peek(self, key: str) -> BucketState:
        return await self.take(key, 0)

    def throttle_status(self, available: float) -> dict[str, Any]:
        return {
            "maximumAvailable": self.maximum,
            "currentlyAvailable": int(available),
            "restoreRate": self.restore_rate,
        }
