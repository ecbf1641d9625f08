"""Phone numbers in E.164 (``+16505555555``), the only form Parley stores."""

from __future__ import annotations

import re

import phonenumbers

# What ``to_e164`` returns: a plus, a country code and at most 15 digits in all.
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def to_e164(raw: str) -> str | None:
    """``raw`` as E.164, or None when it is not a valid international number."""
    text = raw.strip()
    if not text:
        return None
    if not text.startswith("+"):
        # WhatsApp ids are the number without the plus; accept that spelling too.
        text = "+" + text.lstrip("0") if text.isdigit() else text
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def from_wa_id(wa_id: str) -> str:
    """A WhatsApp id as E.164; kept as given (with a plus) if phonenumbers does not know it."""
    return to_e164(wa_id) or "+" + wa_id.lstrip("+")


def stored_e164(phone: str) -> str:
    """A stored contact's number in E.164, for comparing numbers across many contacts.

    Every way into the contacts table stores ``to_e164``'s form, so a number of that shape is
    taken as it is (parsing costs ~25 µs, a quarter of a second for a 10,000-contact audience);
    another spelling (a row written some other way) is normalised, or kept if it is not valid.
    """
    if _E164.fullmatch(phone):
        return phone
    return to_e164(phone) or phone
