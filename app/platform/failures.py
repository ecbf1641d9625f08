"""What an error is, read along its chain of causes, and the one kind worth running again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import asyncpg
import structlog

T = TypeVar("T")

# Past this many links a chain is a cycle or nothing telling is left in it.
_CHAIN_LIMIT = 10
DEADLOCK_ATTEMPTS = 3

log = structlog.get_logger("parley.database")


def causes(error: BaseException | None) -> Iterator[BaseException]:
    """``error``, then what it was raised from (or during), and so on."""
    for _ in range(_CHAIN_LIMIT):
        if error is None:
            return
        yield error
        error = error.__cause__ or error.__context__


def deadlock(error: BaseException | None) -> bool:
    """Whether PostgreSQL failed ``error``'s transaction to settle a deadlock. Nothing it did is
    left behind, and run again it will most likely succeed: the other side has finished."""
    return any(isinstance(e, asyncpg.exceptions.DeadlockDetectedError) for e in causes(error))


async def retrying_deadlocks(
    operation: Callable[[], Awaitable[T]], *, name: str, attempts: int = DEADLOCK_ATTEMPTS
) -> T:
    """Run ``operation`` (one transaction, or one statement), again when it loses a deadlock.

    For writes that touch many tables at once, such as a cascading delete, whose lock order
    cannot match every other writer's."""
    for attempt in range(1, attempts + 1):
        try:
            return await operation()
        except Exception as error:
            if attempt == attempts or not deadlock(error):
                raise
            log.info("database.deadlock_retried", operation=name, attempt=attempt)
    raise AssertionError("unreachable")
