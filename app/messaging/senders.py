"""Who a customer is: the contact of a number, of a business-scoped user id, or of both.

A customer who hides their number behind a WhatsApp username is known by their user id only;
when Meta sends both, the number's contact is the one and learns the user id, and a contact
known by its user id learns its number.
"""

from __future__ import annotations

from typing import Any

from tortoise.exceptions import IntegrityError

from app.models.messaging import Contact


async def contact_of_sender(
    org_id: int,
    phone_number: str | None,
    user_id: str | None,
    name: str | None = None,
    username: str | None = None,
) -> Contact:
    """The contact of a customer known by number, business-scoped user id, or both. With
    both, the contact of the number is the one (it learns the user id when it has none); a
    contact known only by the user id learns the number."""
    if user_id is None:
        assert phone_number is not None
        contact = await contact_for(org_id, phone_number, name)
    else:
        by_user = await Contact.get_or_none(organization_id=org_id, user_id=user_id)
        by_phone = (
            await Contact.get_or_none(organization_id=org_id, phone_number=phone_number)
            if phone_number
            else None
        )
        contact = by_phone or by_user or await _create_by_user_id(org_id, phone_number, user_id)
        changes: dict[str, Any] = {}
        if contact.user_id is None and by_user is None:
            changes["user_id"] = user_id
        if contact.phone_number is None and phone_number:
            changes["phone_number"] = phone_number
        if name and not contact.name:
            changes["name"] = name
        if changes:
            contact.update_from_dict(changes)
            await contact.save(update_fields=[*changes, "updated_at"])
    if username and contact.username != username:
        contact.username = username
        await contact.save(update_fields=["username", "updated_at"])
    return contact


async def _create_by_user_id(org_id: int, phone_number: str | None, user_id: str) -> Contact:
    try:
        return await Contact.create(
            organization_id=org_id, phone_number=phone_number, user_id=user_id
        )
    except IntegrityError:  # created by a concurrent delivery
        return await Contact.get(organization_id=org_id, user_id=user_id)


async def contact_for(org_id: int, phone_number: str, name: str | None = None) -> Contact:
    contact = await Contact.get_or_none(organization_id=org_id, phone_number=phone_number)
    if contact is not None:
        if name and not contact.name:
            contact.name = name
            await contact.save(update_fields=["name", "updated_at"])
        return contact
    try:
        return await Contact.create(organization_id=org_id, phone_number=phone_number, name=name)
    except IntegrityError:  # created by a concurrent delivery
        return await Contact.get(organization_id=org_id, phone_number=phone_number)
