"""Search fields: the hits of ``app.inbox.search``, as rows of the caller's organization."""

from __future__ import annotations

from app.inbox import search
from app.models.messaging import Contact, Message
from app.platform.context import Info
from app.platform.pagination import page_args
from app.platform.scope import organization_id

Found = tuple[list[Message], list[str]]


async def messages(info: Info, query: str, first: int | None, after: str | None) -> Found:
    """``first + 1`` messages matching ``query`` after the cursor ``after``, best first, and
    their cursors."""
    org_id = organization_id(info)
    limit = page_args(first).limit
    start = search.decode_search_cursor(after) if after else None
    hits = await search.search_messages(org_id, query, limit + 1, start)
    rows = {
        m.id: m for m in await Message.filter(organization_id=org_id, id__in=[h.id for h in hits])
    }
    found = [h for h in hits if h.id in rows]
    return [rows[h.id] for h in found], [h.cursor for h in found]


async def contacts(
    info: Info, query: str, first: int | None, after: str | None
) -> tuple[list[Contact], list[str]]:
    org_id = organization_id(info)
    limit = page_args(first).limit
    start = search.decode_search_cursor(after) if after else None
    hits = await search.search_contacts(org_id, query, limit + 1, start)
    rows = {
        c.id: c for c in await Contact.filter(organization_id=org_id, id__in=[h.id for h in hits])
    }
    found = [h for h in hits if h.id in rows]
    return [rows[h.id] for h in found], [h.cursor for h in found]
