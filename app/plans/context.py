"""What the plans domain needs of the process it runs in: an API process's or a worker's
``Runtime`` is one; so is an inbound message's reaction event."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from app.platform.config import Settings
    from app.platform.pubsub import Broker


class PlanContext(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def broker(self) -> Broker: ...
