from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta

import pytest

from app.platform import clock
from tests.integrations.receiver import Receiver, running_receiver


class MovableClock:
    """The app's clock, moved forward by the test (the server runs in the test's loop)."""

    def __init__(self) -> None:
        self.offset = timedelta()
        self._real = clock.now

    def now(self) -> datetime:
        return self._real() + self.offset

    def move(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


@pytest.fixture
def moved_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[MovableClock]:
    moving = MovableClock()
    monkeypatch.setattr(clock, "now", moving.now)
    yield moving


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as running:
        yield running
