from __future__ import annotations

import time
from typing import Any


async def ping(ctx: dict[str, Any], *, sent_at: float) -> float:
    """Round trip through a queue and a worker; the health check and tests use it."""
    return time.time() - sent_at
