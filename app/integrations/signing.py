"""Stripe-style signatures: ``X-Parley-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>]``.

``v1`` is HMAC-SHA256 with the webhook's secret of ``"<t>.<raw body>"``. During a rotation's
grace period the old secret signs too (a second ``v1``), so a receiver that still has the old
secret keeps accepting. Receivers compare in constant time and refuse a ``t`` more than
``TOLERANCE_SECONDS`` away from their clock (a replayed request is refused after that; within
it, ``X-Parley-Delivery`` tells a replay from a new delivery).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

TOLERANCE_SECONDS = 300


def sign(secrets: Sequence[str], timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    parts = [f"t={timestamp}"]
    for secret in secrets:
        parts.append("v1=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest())
    return ",".join(parts)


def verify(
    secret: str, header: str, body: bytes, *, now: float, tolerance: int = TOLERANCE_SECONDS
) -> bool:
    """What a receiver does (the README's snippets do the same)."""
    fields = [part.split("=", 1) for part in header.split(",") if "=" in part]
    timestamps = [value for key, value in fields if key == "t"]
    if len(timestamps) != 1 or not timestamps[0].isdigit():
        return False
    timestamp = int(timestamps[0])
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign([secret], timestamp, body).split(",")[1][3:]
    return any(hmac.compare_digest(expected, value) for key, value in fields if key == "v1")
