"""A campaign's audience, resolved once at start into one recipient row per contact.

One row per contact, one *sending* row per phone number: contacts that share a number (say, a
legacy import with the number formatted differently) are SKIPPED as duplicates. Opted-out
contacts, contacts missing a variable the message needs and, for free-form text, contacts whose
24-hour window is closed are SKIPPED too, each with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.expressions import Q

from app.models.campaigns import Campaign, CampaignRecipient, RecipientStatus
from app.models.messaging import Contact, Conversation, service_window_open
from app.resolvers.campaigns import bulk
from app.resolvers.messaging.phones import stored_e164

VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}")
_CHUNK = 1000

OPTED_OUT = "The contact opted out (replied STOP)."
DUPLICATE = "Another contact in the audience has the same phone number; it receives the message."
WINDOW_CLOSED = (
    "The 24-hour customer service window is closed; free-form text cannot reach this contact "
    "(templates are the way to reach them)."
)


class MissingVariable(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(f"The contact has no value for the variable `{name}`.")
        self.name = name


def variables_of(*patterns: str | None) -> list[str]:
    return [m.group(1) for p in patterns if p for m in VARIABLE.finditer(p)]


@dataclass(slots=True)
class AudienceContact:
    """What resolving needs of a contact (a model per contact cost more than the rest)."""

    id: int
    phone_number: str
    name: str | None
    attributes: Mapping[str, Any] | None
    opted_out: bool


def _value(contact: AudienceContact, name: str) -> str:
    attributes: Mapping[str, Any] = contact.attributes or {}
    key = name.removeprefix("attributes.")
    if name == "name":
        value: Any = contact.name
    elif name in ("phone", "phoneNumber"):
        value = contact.phone_number
    else:
        value = attributes.get(key)
    if value is None or str(value).strip() == "":
        raise MissingVariable(name)
    return str(value)


def render(pattern: str, contact: AudienceContact) -> str:
    """``pattern`` with each ``{{variable}}`` replaced from the contact; MissingVariable if not."""
    return VARIABLE.sub(lambda m: _value(contact, m.group(1)), pattern)


def render_for(campaign: Campaign, contact: AudienceContact) -> dict[str, Any]:
    if campaign.text is not None:
        return {"text": render(campaign.text, contact)}
    return {"parameters": [render(p, contact) for p in campaign.template_parameters]}


def _audience_filter(campaign: Campaign) -> Q:
    condition = (
        Q(id__in=list(campaign.audience_contact_ids or []))
        if campaign.audience_contact_ids
        else None
    )
    for tag in campaign.audience_tags or []:
        tagged = Q(tags_text__contains=f",{tag.strip().lower()},")
        condition = tagged if condition is None else condition | tagged
    return condition if condition is not None else Q(id__in=[])


async def _contacts(campaign: Campaign) -> list[AudienceContact]:
    condition = _audience_filter(campaign)
    contacts: list[AudienceContact] = []
    last = 0
    while True:
        chunk = await (
            Contact.filter(condition, organization_id=campaign.organization_id, id__gt=last)
            .order_by("id")
            .limit(_CHUNK)
            .values_list("id", "phone_number", "name", "attributes", "opted_out_at")
        )
        if not chunk:
            return contacts
        contacts += [
            AudienceContact(pk, phone, name, attributes, opted_out_at is not None)
            for pk, phone, name, attributes, opted_out_at in chunk
        ]
        last = contacts[-1].id


async def resolve(campaign: Campaign) -> int:
    """Write the recipient rows (safe to rerun: existing rows stay); returns how many exist."""
    contacts = await _contacts(campaign)
    phone_of = {c.id: stored_e164(c.phone_number) for c in contacts}
    opted_out_phones = {phone_of[c.id] for c in contacts if c.opted_out}
    open_window: set[int] = set()
    if campaign.text is not None:
        for start in range(0, len(contacts), _CHUNK):
            ids = [c.id for c in contacts[start : start + _CHUNK]]
            windows = await Conversation.filter(
                device_id=campaign.device_id, contact_id__in=ids
            ).values_list("contact_id", "last_inbound_at")
            open_window |= {cid for cid, at in windows if service_window_open(at)}

    rows: list[bulk.NewRecipient] = []
    taken: set[str] = set()
    for contact in contacts:
        phone = phone_of[contact.id]
        row = bulk.NewRecipient(contact.id, phone)
        if phone in taken:
            row.status, row.reason = RecipientStatus.SKIPPED, DUPLICATE
        elif phone in opted_out_phones:
            row.status, row.reason = RecipientStatus.SKIPPED, OPTED_OUT
        elif campaign.text is not None and contact.id not in open_window:
            row.status, row.reason = RecipientStatus.SKIPPED, WINDOW_CLOSED
        else:
            try:
                row.variables = render_for(campaign, contact)
            except MissingVariable as missing:
                row.status, row.reason = RecipientStatus.SKIPPED, str(missing)
        if phone not in taken:
            # The first contact of a number holds it, sent to or not: one row per number.
            row.send_phone = phone
            taken.add(phone)
        rows.append(row)
    at = datetime.now(UTC)
    for start in range(0, len(rows), _CHUNK):
        await bulk.add_recipients(campaign.id, rows[start : start + _CHUNK], at)
    total = await CampaignRecipient.filter(campaign_id=campaign.id).count()
    await Campaign.filter(id=campaign.id).update(total_recipients=total, audience_resolved_at=at)
    return total
