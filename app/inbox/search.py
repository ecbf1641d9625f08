"""Full-text search of an organization's messages and contacts, one function per question and
one index per dialect:

- PostgreSQL: ``messages.search_vector`` (a ``tsvector`` under a GIN index, kept by a trigger in
  the organization's text search configuration, ``InboxSettings.search_language``), ranked by
  ``ts_rank``;
- SQLite: the FTS5 table ``messages_fts`` over ``messages.body``, ranked by ``bm25``.

Both are made by the migration (``migrations/models/15_*``), not by the models. A query is
its words, all required, the last one as a prefix (search as you type). Results come best
first, then newest; pages are cut on (score, id), never by offset.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from tortoise import connections

from app.platform.errors import BadUserInput
from app.platform.ids import urlsafe_b64
from app.platform.sql import Binder

MAX_WORDS = 12
MAX_WORD_LENGTH = 64
# A contact whose name or number matches ranks above every contact found by a message.
NAME_SCORE = 1000.0
_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Hit:
    id: int
    score: float

    @property
    def cursor(self) -> str:
        return urlsafe_b64(f"s:{self.score!r}:{self.id}")


def decode_search_cursor(cursor: str, *, field: str = "after") -> Hit:
    try:
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()).decode()
        prefix, score, key = raw.split(":")
        if prefix != "s":
            raise ValueError(cursor)
        return Hit(int(key), float(score))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadUserInput(f"'{cursor}' is not a valid search cursor.", field=[field]) from None


def words(query: str) -> list[str]:
    found = [w[:MAX_WORD_LENGTH] for w in _WORD.findall(query.lower())][:MAX_WORDS]
    if not found:
        raise BadUserInput("The search needs at least one word or number.", field=["query"])
    return found


async def search_messages(org_id: int, query: str, limit: int, after: Hit | None) -> list[Hit]:
    """Up to ``limit`` of the organization's messages matching ``query``, best first."""
    terms = words(query)
    bind = Binder(connections.get("default"))
    inner = _message_hits(bind, org_id, terms, "m.id")
    return await _page(bind, inner, limit, after)


async def search_contacts(org_id: int, query: str, limit: int, after: Hit | None) -> list[Hit]:
    """Up to ``limit`` of the organization's contacts whose name or number matches ``query``,
    or who wrote or received a message that does: name and number matches first."""
    terms = words(query)
    bind = Binder(connections.get("default"))
    like = "%" + re.sub(r"([\\%_])", r"\\\1", query.strip().lower()) + "%"
    digits = re.sub(r"\D", "", query)
    # Bound in the order the placeholders appear: SQLite's are positional.
    named = (
        f"SELECT c.id AS id, {bind(NAME_SCORE, 'real')} AS score FROM contacts c "
        f"WHERE c.organization_id = {bind(org_id)} AND (LOWER(c.name) LIKE {bind(like)} ESCAPE '\\'"
    )
    if len(digits) >= 3:
        named += f" OR c.phone_number LIKE {bind('%' + digits + '%')}"
    named += ")"
    written = _message_hits(bind, org_id, terms, "conv.contact_id", join_conversations=True)
    inner = (
        f"SELECT id, MAX(score) AS score FROM ({named} UNION ALL {written}) AS found GROUP BY id"
    )
    return await _page(bind, inner, limit, after)


def _message_hits(
    bind: Binder, org_id: int, terms: list[str], key: str, *, join_conversations: bool = False
) -> str:
    joined = "JOIN conversations conv ON conv.id = m.conversation_id " if join_conversations else ""
    if bind.postgres:
        expression = " & ".join([*terms[:-1], terms[-1] + ":*"])
        language = (
            "COALESCE((SELECT search_language FROM inbox_settings "
            f"WHERE organization_id = {bind(org_id)}), 'simple')::regconfig"
        )
        return (
            f"SELECT {key} AS id, ts_rank(m.search_vector, q.q) AS score "
            f"FROM messages m {joined}"
            f"CROSS JOIN (SELECT to_tsquery({language}, {bind(expression)}) AS q) AS q "
            f"WHERE m.organization_id = {bind(org_id)} AND m.search_vector @@ q.q"
        )
    phrase = " ".join('"' + term.replace('"', '""') + '"' for term in terms) + "*"
    return (
        f"SELECT {key} AS id, -bm25(messages_fts) AS score "
        f"FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid {joined}"
        f"WHERE messages_fts MATCH {bind(phrase)} AND m.organization_id = {bind(org_id)}"
    )


async def _page(bind: Binder, inner: str, limit: int, after: Hit | None) -> list[Hit]:
    where = ""
    if after is not None:
        score = bind(after.score, "real")
        where = (
            f"WHERE hits.score < {score} OR "
            f"(hits.score = {bind(after.score, 'real')} AND hits.id < {bind(after.id)})"
        )
    sql = (
        f"SELECT hits.id AS id, hits.score AS score FROM ({inner}) AS hits {where} "
        f"ORDER BY hits.score DESC, hits.id DESC LIMIT {bind(limit)}"
    )
    _, rows = await connections.get("default").execute_query(sql, bind.params)
    return [Hit(int(row["id"]), float(row["score"])) for row in rows]
