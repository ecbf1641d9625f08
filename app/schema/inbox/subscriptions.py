"""The inbox change log, live."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from app.platform.context import Info
from app.platform.pagination import decode_cursor
from app.resolvers.inbox import sync
from app.schema.inbox.types import InboxEvent
from app.schema.permissions import IsAuthenticated


@strawberry.type
class InboxSubscription:
    @strawberry.subscription(
        description="Every change of the organization's inbox as it commits, in order, the "
        "same as `inboxChanges`. With `after` (the `cursor` of the last event a client saw, "
        "or `inboxChanges.headCursor`), the changes since then come first, then the live "
        "ones: no gap, no duplicate. A cursor older than the retention window ends the "
        "subscription with CURSOR_EXPIRED: refetch the inbox.",
        permission_classes=[IsAuthenticated],
    )
    async def inbox_events(
        self, info: Info, after: str | None = None
    ) -> AsyncGenerator[InboxEvent, None]:
        after_seq = decode_cursor(after, field="after") if after is not None else None
        async for change in sync.live_changes(info, after_seq):
            yield InboxEvent(row=change)
