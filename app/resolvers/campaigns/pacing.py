"""One send rate per device across every worker process: a GCRA in Redis, without burst.

Each send reserves the next free slot on the device's timeline (slots ``1/rate`` apart, kept
in Redis, timed by Redis's clock) and sleeps until it. Nothing is saved up while idle, so no
one-second window ever holds more than the rate; a small margin absorbs late wake-ups.
"""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis

# Aim a little under the limit: a sleeper waking late must not push a window over it.
MARGIN = 0.975

_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
redis.call('SET', KEYS[1], tostring(tat + interval), 'PX', math.ceil((tat + interval - now) / 1000) + 1000)
return tat - now
"""


class DeviceLimiter:
    def __init__(self, redis: aioredis.Redis) -> None:
        self._reserve: Any = redis.register_script(_RESERVE)

    async def acquire(self, device_id: int, per_second: int) -> None:
        interval_us = int(1_000_000 / (max(per_second, 1) * MARGIN))
        wait_us = int(await self._reserve(keys=[f"pace:device:{device_id}"], args=[interval_us]))
        if wait_us > 0:
            await asyncio.sleep(wait_us / 1_000_000)
