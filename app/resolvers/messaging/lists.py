"""What the messaging list fields read: each a queryset scoped to the caller's organization,
which the schema pages through."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise import connections
from tortoise.expressions import Q, RawSQL
from tortoise.queryset import QuerySet

from app.models.messaging import Contact, ContactImport, Conversation, Device, Message, Template
from app.platform.context import Info
from app.platform.errors import BadUserInput
from app.platform.ids import decode_id
from app.platform.scope import organization_id

REPLAY_PAGE = 200


def devices(info: Info) -> QuerySet[Device]:
    return Device.filter(organization_id=organization_id(info))


@dataclass(frozen=True, slots=True)
class ContactFilter:
    """Every condition given must hold."""

    tags: list[str] | None = None  # all of them
    any_tags: list[str] | None = None  # at least one
    attributes: dict[str, Any] | None = None  # each key equal to its value (compared as text)
    opted_out: bool | None = None
    last_seen_after: datetime | None = None
    last_seen_before: datetime | None = None
    never_seen: bool | None = None


_ATTRIBUTE_KEY = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


def contacts(
    info: Info,
    search: str | None,
    tags: list[str] | None,
    where: ContactFilter | None = None,
) -> QuerySet[Contact]:
    """``search`` matches the name or the number; ``tags`` needs all of them; ``where`` adds
    the rest."""
    queryset = Contact.filter(organization_id=organization_id(info))
    if search and search.strip():
        term = search.strip()
        queryset = queryset.filter(Q(name__icontains=term) | Q(phone_number__contains=term))
    where = where or ContactFilter()
    for tag in [*(tags or []), *(where.tags or [])]:
        queryset = queryset.filter(tags_text__contains=f",{tag.strip().lower()},")
    if where.any_tags:
        anyone = Q()
        for tag in where.any_tags:
            anyone |= Q(tags_text__contains=f",{tag.strip().lower()},")
        queryset = queryset.filter(anyone)
    if where.opted_out is not None:
        queryset = queryset.filter(opted_out_at__isnull=not where.opted_out)
    if where.last_seen_after is not None:
        queryset = queryset.filter(last_seen_at__gte=where.last_seen_after)
    if where.last_seen_before is not None:
        queryset = queryset.filter(last_seen_at__lt=where.last_seen_before)
    if where.never_seen is not None:
        queryset = queryset.filter(last_seen_at__isnull=where.never_seen)
    for index, (key, value) in enumerate((where.attributes or {}).items()):
        queryset = _attribute_equals(queryset, index, key, value)
    return queryset


def _attribute_equals(
    queryset: QuerySet[Contact], index: int, key: str, value: Any
) -> QuerySet[Contact]:
    """A custom attribute equal to ``value``, compared as text: one SQL expression per
    dialect (the key is checked against a strict pattern before it is written into it)."""
    field = ["where", "attributes", key]
    if not _ATTRIBUTE_KEY.match(key):
        raise BadUserInput(
            "Attribute names in a filter are letters, digits, `_` and `-`.", field=field
        )
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BadUserInput("Filter attributes by a string or a number.", field=field)
    postgres = connections.get("default").capabilities.dialect == "postgres"
    column = (
        f"\"attributes\"::jsonb ->> '{key}'"
        if postgres
        else f'CAST(json_extract("attributes", \'$."{key}"\') AS TEXT)'
    )
    name = f"_attribute_{index}"
    return queryset.annotate(**{name: RawSQL(column)}).filter(**{name: str(value)})


def templates(info: Info, device_id: str | None) -> QuerySet[Template]:
    queryset = Template.filter(organization_id=organization_id(info))
    if device_id is not None:
        queryset = queryset.filter(device_id=decode_id(device_id, "Device", field="deviceId"))
    return queryset


def device_conversations(device: Device) -> QuerySet[Conversation]:
    return Conversation.filter(organization_id=device.organization_id, device_id=device.id)


async def contact_imports(info: Info, pks: Sequence[int]) -> list[ContactImport | None]:
    """Imports by id, None for an id of another organization (or none)."""
    if info.context.viewer is None or info.context.viewer.organization_id is None:
        return [None for _ in pks]
    rows = await ContactImport.filter(id__in=list(pks), organization_id=organization_id(info))
    by_id = {row.id: row for row in rows}
    return [by_id.get(pk) for pk in pks]


async def missed_messages(
    org_id: int, after: int, conversation_id: int | None, device_id: int | None
) -> AsyncIterator[Message]:
    """The organization's messages after ``after`` (in this conversation or device), oldest
    first, read a page at a time."""
    while True:
        queryset = Message.filter(organization_id=org_id, id__gt=after)
        if conversation_id is not None:
            queryset = queryset.filter(conversation_id=conversation_id)
        if device_id is not None:
            queryset = queryset.filter(device_id=device_id)
        page = await queryset.order_by("id").limit(REPLAY_PAGE)
        for row in page:
            yield row
        if len(page) < REPLAY_PAGE:
            return
        after = page[-1].id
