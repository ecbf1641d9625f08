"""The inbox change log for clients: a page of changes, and the live stream resumable from a
cursor (``app.inbox.sync`` keeps the log and says why it has no gap)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from app.inbox import sync
from app.models.inbox_sync import InboxChange
from app.platform import events
from app.platform.context import Info
from app.platform.pagination import PageArgs
from app.platform.scope import organization_id
from app.resolvers import subscriptions

REPLAY_PAGE = 200


async def changes(info: Info, args: PageArgs) -> tuple[list[InboxChange], int]:
    """``args.limit + 1`` changes after ``args.after`` (keyset on ``seq``), and the log's head
    when they were read."""
    org_id = organization_id(info)
    head = await sync.head(org_id)
    rows = await sync.changes_after(org_id, args.after or 0, args.limit + 1) if args.limit else []
    return rows, head


async def live_changes(info: Info, after: int | None) -> AsyncIterator[InboxChange]:
    """The organization's changes after ``after`` (or, without it, from now on), in order,
    each once, then the new ones as they commit."""
    org_id = organization_id(info)
    # Subscribed first: an announcement made while the log is read waits in the queue.
    async with subscriptions.listen(info, events.INBOX, lambda _: True) as announced:
        if not await subscriptions.authorized(info, org_id):
            return
        cursor = after if after is not None else await sync.head(org_id)
        await sync.check_cursor(org_id, cursor)
        while True:
            page = await sync.changes_after(org_id, cursor, REPLAY_PAGE)
            for change in page:
                cursor = change.seq
                yield change
            if len(page) == REPLAY_PAGE:
                continue
            # Caught up: wait for an announcement of something beyond the cursor. Late or
            # out-of-order announcements (another process committed first) are skipped.
            async for announcement in announced:
                if announcement["seq"] > cursor:
                    break
            else:
                return
