"""The statements of a campaign batch: recipients claimed, messages written, sends recorded.

At a thousand messages a second a worker's CPU is the limit, and composing these statements
through Tortoise cost a third of it: pypika builds a ``Case(When …)`` term per row, querysets
build a model per row, and an insert was followed by a select of what it inserted. Here each
is one parameterized statement sent through Tortoise's connection (``app.platform.sql.Binder``: arrays
on PostgreSQL, so the text is the same for every batch and asyncpg reuses its prepared
statement; ``VALUES`` lists on SQLite, which needs 3.35 for ``RETURNING``), returning plain
values. Every UPDATE still carries the conditions that make it safe with several workers on
one campaign: a row changes only while it is in the state the step expects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

import orjson
from tortoise import connections

from app.models.campaigns import RecipientStatus
from app.models.messaging import ConversationStatus, Direction, MessageStatus, MessageType
from app.platform.sql import Binder


def _literal(value: Enum) -> str:
    # The statements' constant states, written into their text (enum values hold no quotes).
    return f"'{value.value}'"


PENDING = _literal(RecipientStatus.PENDING)
CLAIMED = _literal(RecipientStatus.CLAIMED)
SENDING = _literal(RecipientStatus.SENDING)
SENT = _literal(RecipientStatus.SENT)


@dataclass(slots=True)
class Claimed:
    """A recipient leased to this worker: what its send needs."""

    id: int
    contact_id: int | None
    phone: str
    variables: dict[str, Any]
    message_id: int | None
    attempts: int


@dataclass(slots=True)
class Queued:
    """A recipient's campaign message (QUEUED until sent): what its send and its events need."""

    id: int
    organization_id: int
    conversation_id: int
    device_id: int
    type: MessageType
    payload: dict[str, Any]


@dataclass(slots=True)
class NewRecipient:
    """A recipient row that resolving a campaign's audience writes."""

    contact_id: int
    phone: str
    # The phone again for the one recipient that may be messaged at that number, else None.
    send_phone: str | None = None
    status: RecipientStatus = RecipientStatus.PENDING
    reason: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)


def _binder() -> tuple[Any, Binder]:
    connection = connections.get("default")
    return connection, Binder(connection)


def _claimable(bind: Binder, at: datetime) -> str:
    # A row that knows its provider message id reached Meta: it is never sent again. A lease
    # that ran out (a dead worker's, or a retry's backoff) makes a row claimable again.
    return (
        f"provider_message_id IS NULL AND ((status = {PENDING} AND lease_expires_at IS NULL)"
        f" OR (status IN ({PENDING}, {CLAIMED}) AND lease_expires_at < {bind(at)}))"
    )


async def claim(
    campaign_id: int, owner: str, size: int, lease_expires_at: datetime, at: datetime
) -> list[Claimed]:
    """Lease up to ``size`` claimable recipients (lowest ids first) to ``owner``, in one
    statement.

    The candidates are picked once (a MATERIALIZED CTE: as a plain ``IN (subquery)``,
    PostgreSQL may run the subquery again for later rows, and its LIMIT with it). The UPDATE
    repeats the claimable test: on PostgreSQL a row another worker claimed after the pick is
    checked again in its new version and left alone, and the pick skips rows being claimed
    right now; SQLite runs one writer at a time.
    """
    connection, bind = _binder()
    lock = " FOR UPDATE SKIP LOCKED" if bind.postgres else ""
    sql = (
        "WITH picked AS MATERIALIZED (SELECT id FROM campaign_recipients"
        f" WHERE campaign_id = {bind(campaign_id)} AND {_claimable(bind, at)}"
        f" ORDER BY id LIMIT {bind(size)}{lock})"
        f" UPDATE campaign_recipients SET status = {CLAIMED}, lease_owner = {bind(owner)},"
        f" lease_expires_at = {bind(lease_expires_at)}"
        f" WHERE id IN (SELECT id FROM picked) AND {_claimable(bind, at)}"
        " RETURNING id, contact_id, phone, variables, message_id, attempts"
    )
    rows = await connection.execute_query_dict(sql, bind.params)
    claimed = [
        Claimed(
            row["id"],
            row["contact_id"],
            row["phone"],
            _json(row["variables"]),
            row["message_id"],
            row["attempts"],
        )
        for row in rows
    ]
    claimed.sort(key=lambda recipient: recipient.id)  # RETURNING keeps no order
    return claimed


async def add_recipients(campaign_id: int, rows: Sequence[NewRecipient], at: datetime) -> None:
    """Insert the campaign's recipient rows; a contact or sending phone it already has is
    left as it is (resolving again after a crash adds only what is missing)."""
    connection, bind = _binder()
    new = bind.table(
        "new",
        [
            ("contact_id", "bigint"),
            ("phone", "text"),
            ("send_phone", "text"),
            ("status", "text"),
            ("reason", "text"),
            ("variables", "text"),
        ],
        [
            (r.contact_id, r.phone, r.send_phone, r.status.value, r.reason, _dumps(r.variables))
            for r in rows
        ],
    )
    variables = "variables::jsonb" if bind.postgres else "variables"
    sql = (
        f"WITH {new} INSERT INTO campaign_recipients (campaign_id, contact_id, phone, send_phone,"
        " status, reason, variables, attempts, created_at, updated_at)"
        f" SELECT {bind(campaign_id, 'bigint')}, contact_id, phone, send_phone, status, reason,"
        f" {variables}, 0, {bind(at, 'timestamptz')}, {bind(at, 'timestamptz')} FROM new"
        " WHERE true ON CONFLICT DO NOTHING"
    )
    await connection.execute_query(sql, bind.params)


async def mark_sending(ids: Sequence[int], owner: str, lease_expires_at: datetime) -> set[int]:
    """CLAIMED → SENDING for those of ``ids`` still leased to ``owner`` (a pause, a cancel or
    a lost lease takes rows away meanwhile); returns the ids that moved."""
    connection, bind = _binder()
    sql = (
        f"UPDATE campaign_recipients SET status = {SENDING}, attempts = attempts + 1,"
        f" lease_expires_at = {bind(lease_expires_at)}"
        f" WHERE id {bind.ids(ids)} AND lease_owner = {bind(owner)} AND status = {CLAIMED}"
        " AND provider_message_id IS NULL RETURNING id"
    )
    return {row["id"] for row in await connection.execute_query_dict(sql, bind.params)}


async def conversations(device_id: int, contact_ids: Sequence[int]) -> dict[int, int]:
    """Contact id → id of its conversation on the device, for those that have one."""
    connection, bind = _binder()
    sql = (
        "SELECT contact_id, id FROM conversations"
        f" WHERE device_id = {bind(device_id)} AND contact_id {bind.ids(contact_ids)}"
    )
    _, rows = await connection.execute_query(sql, bind.params)
    return {row[0]: row[1] for row in rows}


async def create_conversations(
    organization_id: int, device_id: int, contact_ids: Sequence[int], at: datetime
) -> dict[int, int]:
    """New OPEN conversations on the device with ``contact_ids``; contact id → conversation
    id of those this call created (one another process created meanwhile is left out)."""
    connection, bind = _binder()
    new = bind.table("new", [("contact_id", "bigint")], [(i,) for i in contact_ids])
    sql = (
        f"WITH {new} INSERT INTO conversations (organization_id, device_id, contact_id, status,"
        " unread_count, ai_enabled, created_at, updated_at)"
        f" SELECT {bind(organization_id, 'bigint')}, {bind(device_id, 'bigint')}, contact_id,"
        f" {_literal(ConversationStatus.OPEN)}, 0, false,"
        f" {bind(at, 'timestamptz')}, {bind(at, 'timestamptz')} FROM new WHERE true"
        # (WHERE true: SQLite's parser needs it before ON CONFLICT in an INSERT … SELECT.)
        " ON CONFLICT (device_id, contact_id) DO NOTHING RETURNING contact_id, id"
    )
    return {
        row["contact_id"]: row["id"]
        for row in await connection.execute_query_dict(sql, bind.params)
    }


async def create_messages(
    organization_id: int,
    device_id: int,
    kind: MessageType,
    author_user_id: int | None,
    rows: Sequence[tuple[int, str | None, dict[str, Any], str]],
    at: datetime,
) -> dict[str, int]:
    """QUEUED outbound messages of ``kind`` on the device, one per
    ``(conversation id, body, payload, client message id)``; client message id → id of those
    created. A key the organization already used is skipped: a retried batch finds the
    messages it created before with ``messages_by_key``."""
    connection, bind = _binder()
    new = bind.table(
        "new",
        [("conversation_id", "bigint"), ("body", "text"), ("payload", "text"), ("key", "text")],
        [(c, body, _dumps(payload), key) for c, body, payload, key in rows],
    )
    payload = "payload::jsonb" if bind.postgres else "payload"
    sql = (
        f"WITH {new} INSERT INTO messages (organization_id, conversation_id, device_id, direction,"
        " type, body, payload, status, author_user_id, client_message_id, created_at,"
        f" updated_at) SELECT {bind(organization_id, 'bigint')}, conversation_id,"
        f" {bind(device_id, 'bigint')}, {_literal(Direction.OUTBOUND)}, {_literal(kind)}, body,"
        f" {payload}, {_literal(MessageStatus.QUEUED)}, {bind(author_user_id, 'bigint')}, key,"
        f" {bind(at, 'timestamptz')}, {bind(at, 'timestamptz')} FROM new WHERE true"
        " ON CONFLICT (organization_id, client_message_id) DO NOTHING"
        " RETURNING client_message_id, id"
    )
    return {
        row["client_message_id"]: row["id"]
        for row in await connection.execute_query_dict(sql, bind.params)
    }


_QUEUED_COLUMNS = (
    "id, organization_id, conversation_id, device_id, type, payload, client_message_id"
)


async def messages_by_id(ids: Sequence[int]) -> list[Queued]:
    connection, bind = _binder()
    sql = f"SELECT {_QUEUED_COLUMNS} FROM messages WHERE id {bind.ids(ids)}"
    return [_queued(row) for row in (await connection.execute_query(sql, bind.params))[1]]


async def messages_by_key(organization_id: int, keys: Sequence[str]) -> dict[str, Queued]:
    """The organization's messages by client message id, for those of ``keys`` it has."""
    connection, bind = _binder()
    sql = (
        f"SELECT {_QUEUED_COLUMNS} FROM messages WHERE organization_id = {bind(organization_id)}"
        f" AND client_message_id {bind.one_of(keys, 'text')}"
    )
    _, rows = await connection.execute_query(sql, bind.params)
    return {row[6]: _queued(row) for row in rows}


def _queued(row: Any) -> Queued:
    return Queued(
        row[0],
        row[1],
        row[2],
        row[3],
        MessageType(row[4]),
        _json(row[5]),
    )


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _json(value: Any) -> Any:
    # JSON columns come as text from both drivers (Tortoise decodes them itself).
    return orjson.loads(value) if isinstance(value, str | bytes) else value


async def link_messages(message_ids: dict[int, int]) -> None:
    """Record each recipient's message (recipient id → message id)."""
    connection, bind = _binder()
    sql = bind.update_from(
        "campaign_recipients",
        [("id", "bigint"), ("message_id", "bigint")],
        list(message_ids.items()),
    )
    await connection.execute_query(sql, bind.params)


async def messages_sent(wamids: dict[int, str], at: datetime) -> None:
    """QUEUED → SENT with the provider's message id (message id → wamid)."""
    connection, bind = _binder()
    sent = bind.table("sent", [("id", "bigint"), ("wamid", "text")], list(wamids.items()))
    sql = (
        f"WITH {sent} UPDATE messages SET status = {_literal(MessageStatus.SENT)},"
        f" sent_at = {bind(at)}, updated_at = {bind(at)}, provider_message_id = sent.wamid"
        " FROM sent WHERE messages.id = sent.id"
        f" AND messages.status = {_literal(MessageStatus.QUEUED)}"
    )
    await connection.execute_query(sql, bind.params)


async def recipients_sent(wamids: dict[int, str], at: datetime) -> None:
    """Record the provider's message id of each recipient (recipient id → wamid) unless a
    status webhook recorded it first, and move those CLAIMED or SENDING to SENT, their lease
    over. (SET expressions all read the row as it was, on both databases.)"""
    connection, bind = _binder()
    sent = bind.table("sent", [("id", "bigint"), ("wamid", "text")], list(wamids.items()))
    ours = f"campaign_recipients.status IN ({CLAIMED}, {SENDING})"
    sql = (
        f"WITH {sent} UPDATE campaign_recipients SET provider_message_id ="
        " COALESCE(campaign_recipients.provider_message_id, sent.wamid),"
        f" status = CASE WHEN {ours} THEN {SENT} ELSE campaign_recipients.status END,"
        f" sent_at = CASE WHEN {ours} THEN {bind(at)} ELSE campaign_recipients.sent_at END,"
        f" lease_owner = CASE WHEN {ours} THEN NULL ELSE campaign_recipients.lease_owner END,"
        f" lease_expires_at = CASE WHEN {ours} THEN NULL"
        " ELSE campaign_recipients.lease_expires_at END"
        " FROM sent WHERE campaign_recipients.id = sent.id"
    )
    await connection.execute_query(sql, bind.params)


async def unmatched(device_id: int, wamids: Sequence[str]) -> set[str]:
    """Those of ``wamids`` with statuses Meta sent before we knew the id (UnmatchedStatus)."""
    connection, bind = _binder()
    sql = (
        "SELECT DISTINCT provider_message_id FROM unmatched_statuses"
        f" WHERE device_id = {bind(device_id)} AND provider_message_id {bind.one_of(wamids, 'text')}"
    )
    _, rows = await connection.execute_query(sql, bind.params)
    return {row[0] for row in rows}
