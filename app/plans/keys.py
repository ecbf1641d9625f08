"""The names usage is counted under, spelled in one place.

A :class:`~app.models.plans.UsageCounter` row is named by its limit (``Limit.value``) or by
:data:`WARNINGS`; a :class:`~app.models.plans.UsageRecord` under it is keyed by what was
counted. Whoever counts, gives back or moves a count must spell the key the same way (a send
is reserved by the send job or a campaign, released when it never went, and moved when Meta
prices it), so each key has one builder here.
"""

from __future__ import annotations

from datetime import date

from app.plans.limits import Limit

# The counter of the month whose records are the usage warnings already given.
WARNINGS = "warnings"


def message_key(message_id: int) -> str:
    """A send, against its category's message limit (single sends and campaign sends alike)."""
    return f"message:{message_id}"


def file_key(media_file_id: int) -> str:
    """A stored file, against ``storageBytes``: counted once however often the same bytes are
    uploaded again."""
    return f"media:{media_file_id}"


def warning_key(limit: Limit, threshold: int, period: date) -> str:
    """A warning at ``threshold`` percent of ``limit`` in ``period``, under :data:`WARNINGS`."""
    return f"{limit.value}:{threshold}:{period}"
