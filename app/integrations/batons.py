"""One runner at a time per (job, subject), and no announcement lost while it runs.

A webhook's deliveries (or an organization's outbox) are worked by one job at a time, which
loops while there is more. SAQ's job keys alone would drop an announcement that comes while
the job is finishing its last pass, leaving that work to the next sweep a second or two
later. So an announcement sets a *pending* flag and queues a job (keyed per 200 ms, so a
burst queues a few jobs, not one per event); a job runs only with the *baton* (a Redis lock
that expires, so a killed worker's baton is free again after ``BATON_SECONDS``), clears the
flag before each pass, loops while it was set again, and after handing the baton back looks
once more: an announcement whose job found the baton taken is never left behind.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis

from app.platform.queues import Job, Queues

BATON_SECONDS = 30
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _pending(job: Job, subject: int) -> str:
    return f"webhooks:pending:{job.name}:{subject}"


def _baton(job: Job, subject: int) -> str:
    return f"webhooks:baton:{job.name}:{subject}"


async def announce(
    redis: aioredis.Redis, queues: Queues, job: Job, subject: int, *, argument: str
) -> None:
    """Work for ``job`` on ``subject`` (passed to it as ``argument``) is pending."""
    await redis.set(_pending(job, subject), "1")
    bucket = int(time.time() * 5)
    await queues.enqueue(
        job, **{argument: subject}, key=f"{job.name}:{subject}:{bucket}", timeout=BATON_SECONDS
    )


async def run_with_baton(
    redis: aioredis.Redis,
    queues: Queues,
    job: Job,
    subject: int,
    one_pass: Callable[[], Awaitable[bool]],
    *,
    argument: str,
    budget_seconds: float,
) -> None:
    """Runs ``one_pass`` (True: there may be more) while work is pending, if the baton is
    free; returns at once when another job holds it."""
    token = secrets.token_hex(8)
    baton = _baton(job, subject)
    if not await redis.set(baton, token, nx=True, ex=BATON_SECONDS):
        return
    started = time.monotonic()
    try:
        while time.monotonic() - started < budget_seconds:
            await redis.delete(_pending(job, subject))
            more = await one_pass()
            if not more and not await redis.exists(_pending(job, subject)):
                break
    finally:
        await redis.eval(_RELEASE, 1, baton, token)  # type: ignore[misc]
    if await redis.exists(_pending(job, subject)) or time.monotonic() - started >= budget_seconds:
        await announce(redis, queues, job, subject, argument=argument)
