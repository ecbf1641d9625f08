"""A campaign's audience, resolved once at start into one recipient row per contact.

One row per contact, one *sending* row per phone number: contacts that share a number (say, a
legacy import with the number formatted differently) are SKIPPED as duplicates. Opted-out
contacts, contacts missing a variable the message needs and, for free-form text, contacts whose
24-hour window is closed are SKIPPED too, each with the reason.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from app.campaigns import bulk
from app.messaging.phones import stored_e164
from app.messaging.template_messages import header_parameter
from app.models.campaigns import Campaign, CampaignRecipient, RecipientStatus
from app.models.messaging import SERVICE_WINDOW, Contact, Conversation, service_window_open
from app.platform import clock

VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}")
_CHUNK = 1000
# The first rows are written sooner, so the sending starts sooner.
_FIRST_CHUNK = 200

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
    variables: dict[str, Any] = {
        "parameters": [render(p, contact) for p in campaign.template_parameters]
    }
    if header := campaign.template_header:
        variables["header"] = _header(header, contact)
    if campaign.template_buttons:
        variables["buttons"] = [
            dict(button) | {"parameter": render(str(button["parameter"]), contact)}
            for button in campaign.template_buttons
        ]
    return variables


def _header(header: Mapping[str, Any], contact: AudienceContact) -> dict[str, Any]:
    """The header parameter of one contact's message (app.messaging.template_messages)."""
    header_format = str(header.get("format") or "TEXT")
    if header.get("media_file_id") is not None:
        return {"type": header_format.lower(), "media_file_id": header["media_file_id"]}
    text, link = header.get("text"), header.get("link")
    return header_parameter(
        header_format,
        text=render(text, contact) if isinstance(text, str) else None,
        link=render(link, contact) if isinstance(link, str) else None,
    )


def template_patterns(campaign: Campaign) -> list[str]:
    """Every string of the template's values that may hold {{variables}}."""
    header = campaign.template_header or {}
    return [
        *campaign.template_parameters,
        *(str(header[key]) for key in ("text", "link") if header.get(key)),
        *(str(button["parameter"]) for button in campaign.template_buttons or []),
    ]


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


def _audience(campaign: Campaign) -> QuerySet[Contact]:
    # Campaign recipients are numbers: a contact known only by its user id is left out.
    return Contact.filter(
        _audience_filter(campaign),
        organization_id=campaign.organization_id,
        phone_number__isnull=False,
    )


async def marketing_audience(campaign: Campaign) -> int:
    """How many template sends the audience would take outside an open service window: its
    contacts not opted out, less those whose window on the device is open now (an upper
    bound: contacts sharing a number count once each here, one of them is sent to)."""
    reachable = _audience(campaign).filter(opted_out_at__isnull=True)
    total = await reachable.count()
    in_window = await Conversation.filter(
        device_id=campaign.device_id,
        last_inbound_at__gt=clock.now() - SERVICE_WINDOW,
        contact_id__in=Subquery(reachable.values("id")),
    ).count()
    return total - in_window


async def _contacts(campaign: Campaign) -> AsyncIterator[list[AudienceContact]]:
    """The audience in contact order, a chunk at a time."""
    last, size = 0, _FIRST_CHUNK
    while True:
        chunk = await (
            _audience(campaign)
            .filter(id__gt=last)
            .order_by("id")
            .limit(size)
            .values_list("id", "phone_number", "name", "attributes")
        )
        if not chunk:
            return
        yield [AudienceContact(*row) for row in chunk]
        last, size = chunk[-1][0], _CHUNK


async def _open_windows(campaign: Campaign, contacts: list[AudienceContact]) -> set[int]:
    """Those of ``contacts`` whose 24-hour window on the campaign's device is open."""
    windows = await Conversation.filter(
        device_id=campaign.device_id, contact_id__in=[c.id for c in contacts]
    ).values_list("contact_id", "last_inbound_at")
    now = clock.now()
    return {contact_id for contact_id, at in windows if service_window_open(at, now)}


async def resolve(
    campaign: Campaign, *, first_rows: Callable[[], Awaitable[None]] | None = None
) -> int:
    """Write the recipient rows (safe to rerun: existing rows stay); returns how many exist.

    Contacts are read and their rows written in chunks (200, then a thousand at a time), in
    contact order, and ``first_rows`` is awaited once the first rows are in (or at the end,
    when there are none): the sending starts while the rest are written, so the first
    recipients of a large audience do not wait for its last. (A campaign is COMPLETED only
    once ``audience_resolved_at`` is set, after the last row.)
    """
    # A number is opted out if any of its contacts is: known before the first row is written.
    opted_out = {
        stored_e164(phone)
        for (phone,) in await _audience(campaign)
        .filter(opted_out_at__isnull=False)
        .values_list("phone_number")
    }
    taken: set[str] = set()
    at = clock.now()
    text = campaign.text is not None
    waiting = first_rows
    async for contacts in _contacts(campaign):
        open_window = await _open_windows(campaign, contacts) if text else set()
        rows: list[bulk.NewRecipient] = []
        for contact in contacts:
            phone = stored_e164(contact.phone_number)
            row = bulk.NewRecipient(contact.id, phone)
            if phone in taken:
                row.status, row.reason = RecipientStatus.SKIPPED, DUPLICATE
            elif phone in opted_out:
                row.status, row.reason = RecipientStatus.SKIPPED, OPTED_OUT
            elif text and contact.id not in open_window:
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
        await bulk.add_recipients(campaign.id, rows, at)
        if waiting is not None:
            await waiting()
            waiting = None
    if waiting is not None:
        await waiting()
    total = await CampaignRecipient.filter(campaign_id=campaign.id).count()
    await Campaign.filter(id=campaign.id).update(
        total_recipients=total, audience_resolved_at=clock.now()
    )
    return total
