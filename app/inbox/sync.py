"""Gap-free sync: the inbox change log, numbered per organization.

Every live event an inbox shows is written down as an :class:`InboxChange` in the
transaction of the change that caused it (this module is an ``app.platform.events``
recorder, the last one: it takes the organization's sequence lock just before the commit). Each organization's changes
carry ``seq`` = 1, 2, 3, ... with no hole, and **a change becomes visible only after every
change with a lower number**:

- The numbers come from the organization's :class:`InboxSequence` row,
  ``UPDATE ... SET last_seq = last_seq + n RETURNING last_seq``, in the transaction that
  inserts the changes. The update locks the row until that transaction ends (PostgreSQL's
  row lock; SQLite's single writer), so a second writer waits, then reads the committed
  number: numbers are handed out in commit order, and a rolled-back transaction gives its
  numbers back. An autoincrement id would not do: PostgreSQL hands sequence values out at
  insert time, so id 7 may commit before id 6, and a reader at 7 would skip 6 for good.
- So a reader keeps one number, its cursor, and asks for ``seq > cursor`` in order: nothing
  can appear later behind it. Live subscribers read the same way, woken by the
  :class:`InboxChanged` announcement published after each commit; announcements that arrive
  late or out of order only cause a read that finds nothing new.

The changes commit with the change they record (``events.transaction``): a change that
rolls back leaves no entry, and a committed change has its entries even when the process dies
before its announcement goes out (the next announcement, or a reconnect, reads them).

Retention: :func:`prune` deletes changes older than the window and remembers, per
organization, the highest number it deleted; a cursor before it answers ``CURSOR_EXPIRED``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from enum import Enum

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from app.models.inbox_sync import InboxChange, InboxSequence
from app.platform import clock, events
from app.platform.errors import CursorExpired
from app.platform.sql import Binder


class InboxEventKind(str, Enum):
    MESSAGE_CREATED = "MESSAGE_CREATED"
    MESSAGE_STATUS_CHANGED = "MESSAGE_STATUS_CHANGED"
    MESSAGE_UPDATED = "MESSAGE_UPDATED"
    CONVERSATION_CREATED = "CONVERSATION_CREATED"
    CONVERSATION_UPDATED = "CONVERSATION_UPDATED"


# Which live events are inbox changes: (topic, kind) → the change's kind. A new event an inbox
# shows is one line here; its payload names `conversation_id` and, for a message, `message_id`.
KINDS: dict[tuple[str, str], InboxEventKind] = {
    (events.MESSAGES, "CREATED"): InboxEventKind.MESSAGE_CREATED,
    (events.MESSAGES, "STATUS_CHANGED"): InboxEventKind.MESSAGE_STATUS_CHANGED,
    (events.MESSAGES, "UPDATED"): InboxEventKind.MESSAGE_UPDATED,
    (events.CONVERSATIONS, "CREATED"): InboxEventKind.CONVERSATION_CREATED,
    (events.CONVERSATIONS, "UPDATED"): InboxEventKind.CONVERSATION_UPDATED,
}

_Entry = tuple[InboxEventKind, int | None, int | None]


async def record(published: Sequence[events.LiveEvent], written: events.Written) -> None:
    """The recorder: write the inbox changes among ``published`` down, numbered, on the
    change's transaction; announce each organization whose log grew."""
    by_org: dict[int, list[_Entry]] = {}
    for event in published:
        payload = event.payload()
        kind = KINDS.get((event.topic, payload.get("kind", "")))
        if kind is not None:
            by_org.setdefault(event.organization_id, []).append(
                (kind, payload.get("conversation_id"), payload.get("message_id"))
            )
    for org_id, entries in sorted(by_org.items()):
        last = await _write(org_id, entries)
        written.announcements.append(events.InboxChanged(org_id, last))


async def _write(org_id: int, entries: list[_Entry]) -> int:
    # The change's transaction (events.transaction): the sequence row stays locked until it ends.
    connection = connections.get("default")
    now = clock.now()
    last = await _reserve(connection, org_id, len(entries))
    first = last - len(entries) + 1
    await InboxChange.bulk_create(
        [
            InboxChange(
                organization_id=org_id,
                seq=first + offset,
                kind=kind.value,
                conversation_id=conversation_id,
                message_id=message_id,
                created_at=now,
            )
            for offset, (kind, conversation_id, message_id) in enumerate(entries)
        ],
        using_db=connection,
    )
    return last


async def _reserve(connection: BaseDBAsyncClient, org_id: int, count: int) -> int:
    """Take ``count`` numbers of the organization's sequence; its row stays locked until the
    caller's transaction ends."""
    for _ in range(2):
        bind = Binder(connection)
        update = (
            f"UPDATE inbox_sequences SET last_seq = last_seq + {bind(count)} "
            f"WHERE organization_id = {bind(org_id)} RETURNING last_seq"
        )
        # Tortoise's asyncpg client answers no rows for a statement starting with UPDATE.
        if bind.postgres:
            update = f"WITH taken AS ({update}) SELECT last_seq FROM taken"
        _, rows = await connection.execute_query(update, bind.params)
        if rows:
            return int(rows[0]["last_seq"])
        bind = Binder(connection)
        await connection.execute_query(
            "INSERT INTO inbox_sequences (organization_id, last_seq, pruned_through) "
            f"VALUES ({bind(org_id)}, 0, 0) ON CONFLICT (organization_id) DO NOTHING",
            bind.params,
        )
    raise RuntimeError(f"no inbox sequence for organization {org_id}")


async def head(org_id: int) -> int:
    """The organization's latest change number (0 before its first)."""
    row = await InboxSequence.get_or_none(organization_id=org_id)
    return row.last_seq if row is not None else 0


async def check_cursor(org_id: int, after: int) -> None:
    """CURSOR_EXPIRED when changes after ``after`` were pruned already."""
    row = await InboxSequence.get_or_none(organization_id=org_id)
    if row is not None and after < row.pruned_through:
        raise CursorExpired(prunedThrough=row.pruned_through)


async def changes_after(org_id: int, after: int, limit: int) -> list[InboxChange]:
    """Up to ``limit`` of the organization's changes after ``after``, in order, or
    CURSOR_EXPIRED when some of them were pruned."""
    rows = (
        await InboxChange.filter(organization_id=org_id, seq__gt=after).order_by("seq").limit(limit)
    )
    # Checked after the read: a prune that deleted some of them before it was recorded too.
    await check_cursor(org_id, after)
    return rows


async def prune(retention: timedelta) -> int:
    """Delete the changes older than ``retention``; the number deleted."""
    cutoff = clock.now() - retention
    connection = connections.get("default")
    bind = Binder(connection)
    _, rows = await connection.execute_query(
        "SELECT organization_id, MAX(seq) AS seq FROM inbox_changes "
        f"WHERE created_at < {bind(cutoff)} GROUP BY organization_id",
        bind.params,
    )
    deleted = 0
    for row in rows:
        org_id, through = int(row["organization_id"]), int(row["seq"])
        async with in_transaction() as transaction:
            # Recorded first: a reader that finds the gap also finds why.
            await (
                InboxSequence.filter(organization_id=org_id, pruned_through__lt=through)
                .using_db(transaction)
                .update(pruned_through=through)
            )
            deleted += (
                await InboxChange.filter(organization_id=org_id, seq__lte=through)
                .using_db(transaction)
                .delete()
            )
    return deleted
