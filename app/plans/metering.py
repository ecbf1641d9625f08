"""Sends counted by category: ours when they go, Meta's once Meta says.

A send is counted when it goes, under ``message:<id>``, against the limit of our category (its
template's as synced from Meta, SERVICE for free-form messages): that is what can refuse a
campaign before it sends. Meta prices each message in its ``sent``/``delivered`` status webhooks
(``pricing.category``); when that category maps to another limit, the count moves there (in
the period it was counted in), exactly once however often Meta repeats the webhook and however
many workers apply it (:func:`app.plans.quotas.move`). A move is never refused: the message went.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.plans import quotas
from app.plans.context import PlanContext
from app.plans.keys import message_key
from app.plans.limits import MESSAGE_LIMITS, Limit

__all__ = ["META_CATEGORIES", "SEND_LIMITS", "message_key", "meta_limit", "priced", "priced_many"]

# Meta's pricing categories (lower case in webhooks) and the limit each counts against.
# marketing_lite: marketing messages sent through the Marketing Messages Lite API;
# authentication_international: authentication messages billed at international rates;
# referral_conversion: messages in a free entry-point conversation (a click-to-WhatsApp ad or
# a Facebook page call to action), which Meta does not charge: counted like service messages.
META_CATEGORIES = {
    "marketing": Limit.MARKETING_MESSAGES,
    "marketing_lite": Limit.MARKETING_MESSAGES,
    "utility": Limit.UTILITY_MESSAGES,
    "authentication": Limit.AUTHENTICATION_MESSAGES,
    "authentication_international": Limit.AUTHENTICATION_MESSAGES,
    "service": Limit.SERVICE_MESSAGES,
    "referral_conversion": Limit.SERVICE_MESSAGES,
}
SEND_LIMITS = tuple(dict.fromkeys(MESSAGE_LIMITS.values()))


def meta_limit(category: str | None) -> Limit | None:
    """The limit of Meta's pricing ``category``; None for one this version does not know (the
    send stays counted under our category)."""
    return META_CATEGORIES.get((category or "").strip().lower())


async def priced(ctx: PlanContext, organization_id: int, message_id: int, category: str) -> bool:
    """Meta priced the message ``category``: its count moves to that category's limit (True
    when this call moved it)."""
    limit = meta_limit(category)
    if limit is None:
        return False
    return await quotas.move(ctx, organization_id, message_key(message_id), SEND_LIMITS, limit)


async def priced_many(ctx: PlanContext, prices: Sequence[tuple[int, int, str]]) -> None:
    """:func:`priced` for each ``(organization id, message id, Meta's category)``: the counts
    of each organization that go to one limit move together (app.plans.quotas.move_many: one
    lock of each counter for a batch of statuses, app.messaging.status_batches)."""
    groups: dict[tuple[int, Limit], list[str]] = {}
    for organization_id, message_id, category in prices:
        if (limit := meta_limit(category)) is not None:
            groups.setdefault((organization_id, limit), []).append(message_key(message_id))
    for (organization_id, limit), keys in sorted(
        groups.items(), key=lambda g: (g[0][0], g[0][1].value)
    ):
        await quotas.move_many(ctx, organization_id, keys, SEND_LIMITS, limit)
