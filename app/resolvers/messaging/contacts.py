"""Contacts: E.164 numbers, unique per organization, with tags and attributes."""

from __future__ import annotations

from typing import Any

from tortoise.exceptions import IntegrityError

from app.context import Info
from app.models.messaging import Contact
from app.resolvers.messaging.devices import bad_phone
from app.resolvers.messaging.phones import to_e164
from app.resolvers.messaging.scope import organization_id
from app.schema.errors import UserError, UserErrorCode, user_error


def normalize_tags(tags: list[str] | None) -> list[str]:
    seen: dict[str, None] = {}
    for tag in tags or []:
        clean = tag.strip().lower()
        if clean:
            seen[clean] = None
    return list(seen)


def tags_text(tags: list[str]) -> str:
    return "," + ",".join(tags) + "," if tags else ""


async def create_contact(
    info: Info,
    *,
    phone_number: str,
    name: str | None,
    tags: list[str] | None,
    attributes: dict[str, Any] | None,
) -> tuple[Contact | None, list[UserError]]:
    e164 = to_e164(phone_number)
    if e164 is None:
        return None, [bad_phone("phoneNumber")]
    if attributes is not None and not isinstance(attributes, dict):
        return None, [
            user_error("attributes", "Attributes must be a JSON object.", UserErrorCode.INVALID)
        ]
    if any("," in tag for tag in tags or []):
        return None, [user_error("tags", "Tags cannot contain commas.", UserErrorCode.INVALID)]
    clean_tags = normalize_tags(tags)
    try:
        contact = await Contact.create(
            organization_id=organization_id(info),
            phone_number=e164,
            name=(name or "").strip() or None,
            tags=clean_tags,
            tags_text=tags_text(clean_tags),
            attributes=attributes or {},
        )
    except IntegrityError:
        return None, [
            user_error("phoneNumber", "A contact with this number exists.", UserErrorCode.TAKEN)
        ]
    return contact, []
