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
from tortoise.backends.base.client import BaseDBAsyncClient

from app.models.routing import InboxSettings
from app.platform.errors import BadUserInput
from app.platform.ids import urlsafe_b64
from app.platform.sql import Binder

MAX_WORDS = 12
MAX_WORD_LENGTH = 64
# A contact whose name or number matches ranks above every contact found by a message.
NAME_SCORE = 1000.0
# Messages are ranked in recency tiers: the newest 10,000 message ids, then the newest
# 200,000, then the rest; each tier's matches best first. A common word matches tens of
# thousands of messages and ranking them all costs hundreds of milliseconds; ranking those of
# the first tier costs a few, and a rarer word, with too few matches there, is ranked in the
# next tiers, where it has few matches to rank.
TIERS = (10_000, 200_000)
_WORD = re.compile(r"\w+")
_SAFE = re.compile(r"[\w:&* ]+")
# PostgreSQL's built-in text search configurations (SQLite's FTS5 index is language-neutral).
_LANGUAGE_NAMES = (
    "simple arabic armenian basque catalan danish dutch english finnish french german greek "
    "hindi hungarian indonesian irish italian lithuanian nepali norwegian portuguese romanian "
    "russian serbian spanish swedish tamil turkish yiddish"
)
LANGUAGES = frozenset(_LANGUAGE_NAMES.split())


@dataclass(frozen=True, slots=True)
class Hit:
    id: int
    score: float
    tier: int = 0
    top: int = 0  # the newest message id when the first page was read: the tiers' origin

    @property
    def cursor(self) -> str:
        return urlsafe_b64(f"s:{self.tier}:{self.top}:{self.score!r}:{self.id}")


def decode_search_cursor(cursor: str, *, field: str = "after") -> Hit:
    try:
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()).decode()
        prefix, tier, top, score, key = raw.split(":")
        if prefix != "s" or not 0 <= int(tier) <= len(TIERS):
            raise ValueError(cursor)
        return Hit(int(key), float(score), int(tier), int(top))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadUserInput(f"'{cursor}' is not a valid search cursor.", field=[field]) from None


def words(query: str) -> list[str]:
    found = [w[:MAX_WORD_LENGTH] for w in _WORD.findall(query.lower())][:MAX_WORDS]
    if not found:
        raise BadUserInput("The search needs at least one word or number.", field=["query"])
    return found


async def search_messages(org_id: int, query: str, limit: int, after: Hit | None) -> list[Hit]:
    """Up to ``limit`` of the organization's messages matching ``query``: the recent tier's
    best first, then the older tier's."""
    terms = words(query)
    connection = connections.get("default")
    language = await _language(org_id) if _postgres(connection) else ""
    if after is not None:
        top = after.top
    else:
        _, rows = await connection.execute_query("SELECT MAX(id) AS id FROM messages")
        top = int(rows[0]["id"] or 0)
    bounds = [top - window for window in TIERS if top - window > 0]
    hits: list[Hit] = []
    for tier in range(len(bounds) + 1):
        if after is not None and tier < after.tier:
            continue
        bind = Binder(connection)
        inner = _message_hits(bind, org_id, terms, language, "m.id")
        if tier < len(bounds):
            inner += f" AND m.id > {bind(bounds[tier])}"
        if tier > 0:
            inner += f" AND m.id <= {bind(bounds[tier - 1])}"
        start = after if after is not None and after.tier == tier else None
        found = await _page(bind, inner, limit - len(hits), start)
        hits += [Hit(hit.id, hit.score, tier, top) for hit in found]
        if len(hits) >= limit:
            break
    return hits


async def search_contacts(org_id: int, query: str, limit: int, after: Hit | None) -> list[Hit]:
    """Up to ``limit`` of the organization's contacts whose name or number matches ``query``,
    or who wrote or received a message that does: name and number matches first."""
    terms = words(query)
    connection = connections.get("default")
    language = await _language(org_id) if _postgres(connection) else ""
    bind = Binder(connection)
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
    written = _message_hits(
        bind, org_id, terms, language, "conv.contact_id", join_conversations=True
    )
    inner = (
        f"SELECT id, MAX(score) AS score FROM ({named} UNION ALL {written}) AS found GROUP BY id"
    )
    return await _page(bind, inner, limit, after)


def _postgres(connection: BaseDBAsyncClient) -> bool:
    return connection.capabilities.dialect == "postgres"


async def _language(org_id: int) -> str:
    settings = await InboxSettings.get_or_none(organization_id=org_id)
    language = settings.search_language if settings is not None else "simple"
    return language if language in LANGUAGES else "simple"


def _message_hits(
    bind: Binder,
    org_id: int,
    terms: list[str],
    language: str,
    key: str,
    *,
    join_conversations: bool = False,
) -> str:
    joined = "JOIN conversations conv ON conv.id = m.conversation_id " if join_conversations else ""
    if bind.postgres:
        # Constants, not parameters: the planner then estimates from the column's statistics
        # how many messages match (a parameter gets a blind guess and a parallel plan whose
        # workers take longer to start than a rare word takes to find).
        expression = " & ".join([*terms[:-1], terms[-1] + ":*"])
        if language not in LANGUAGES or not _SAFE.fullmatch(expression):
            raise ValueError(f"unsafe search expression {expression!r} ({language!r})")
        query = f"to_tsquery('{language}'::regconfig, '{expression}')"
        return (
            f"SELECT {key} AS id, ts_rank(m.search_vector, {query}) AS score "
            f"FROM messages m {joined}"
            f"WHERE m.organization_id = {bind(org_id)} AND m.search_vector @@ {query}"
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
