"""What the messaging list fields read: each a queryset scoped to the caller's organization,
which the schema pages through."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from app.models.messaging import Contact, ContactImport, Conversation, Device, Message, Template
from app.platform.context import Info
from app.platform.ids import decode_id
from app.platform.scope import organization_id

REPLAY_PAGE = 200


def devices(info: Info) -> QuerySet[Device]:
    return Device.filter(organization_id=organization_id(info))


def contacts(info: Info, search: str | None, tags: list[str] | None) -> QuerySet[Contact]:
    """``search`` matches the name or the number; ``tags`` needs all of them."""
    queryset = Contact.filter(organization_id=organization_id(info))
    if search and search.strip():
        term = search.strip()
        queryset = queryset.filter(Q(name__icontains=term) | Q(phone_number__contains=term))
    for tag in tags or []:
        queryset = queryset.filter(tags_text__contains=f",{tag.strip().lower()},")
    return queryset


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
