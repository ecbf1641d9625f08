"""A conversation's timeline: its messages, private notes and activity, in the order they
happened (``created_at``, then messages before notes before activity, then ``id``).

Each of the three is read ``first + 1`` rows past the cursor on its own index, and the three
are merged; the cursor names the last item's place in that order.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.expressions import Q

from app.models.inbox import ConversationActivity, ConversationNote
from app.models.messaging import Conversation, Direction, Message, MessageType
from app.platform.errors import BadUserInput
from app.platform.ids import urlsafe_b64
from app.platform.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

MESSAGE, NOTE, ACTIVITY = 0, 1, 2
_MODELS: dict[int, Any] = {MESSAGE: Message, NOTE: ConversationNote, ACTIVITY: ConversationActivity}


@dataclass(frozen=True, slots=True)
class Place:
    at: datetime
    rank: int
    id: int

    def cursor(self) -> str:
        return urlsafe_b64(f"t:{self.at.isoformat()}|{self.rank}|{self.id}")


@dataclass(frozen=True, slots=True)
class TimelineItem:
    rank: int
    row: Any

    @property
    def place(self) -> Place:
        return Place(self.row.created_at, self.rank, self.row.id)


@dataclass(frozen=True, slots=True)
class TimelinePage:
    items: list[TimelineItem]
    has_next_page: bool
    has_previous_page: bool


def _decode(cursor: str) -> Place:
    try:
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()).decode()
        prefix, _, rest = raw.partition(":")
        at, rank, pk = rest.split("|")
        if prefix != "t" or int(rank) not in _MODELS:
            raise ValueError(cursor)
        return Place(datetime.fromisoformat(at), int(rank), int(pk))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadUserInput(f"'{cursor}' is not a valid cursor.", field=["after"]) from None


def _past(place: Place, rank: int) -> Q:
    if rank > place.rank:
        return Q(created_at__gte=place.at)
    if rank < place.rank:
        return Q(created_at__gt=place.at)
    return Q(created_at__gt=place.at) | Q(created_at=place.at, id__gt=place.id)


async def timeline(
    conversation: Conversation, *, first: int | None, after: str | None
) -> TimelinePage:
    limit = DEFAULT_PAGE_SIZE if first is None else first
    if not 0 <= limit <= MAX_PAGE_SIZE:
        raise BadUserInput(f"`first` must be between 0 and {MAX_PAGE_SIZE}.", field=["first"])
    place = _decode(after) if after else None
    items: list[TimelineItem] = []
    for rank, model in _MODELS.items():
        queryset = model.filter(conversation_id=conversation.id)
        if rank == MESSAGE:
            # The business's reactions show on the message they react to.
            queryset = queryset.exclude(type=MessageType.REACTION, direction=Direction.OUTBOUND)
        if place is not None:
            queryset = queryset.filter(_past(place, rank))
        rows = await queryset.order_by("created_at", "id").limit(limit + 1)
        items += [TimelineItem(rank, row) for row in rows]
    items.sort(key=lambda item: (item.row.created_at, item.rank, item.row.id))
    return TimelinePage(items[:limit], len(items) > limit, place is not None)
