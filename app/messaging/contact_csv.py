"""Contacts written as CSV, in the columns an import reads back: ``phone_number``, ``name``,
``tags`` (``;``-separated), then one column per custom attribute (sorted).

A cell a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``) is
written with a leading ``'``; the phone number, always ``+`` and digits, is written as is.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from app.messaging.contact_imports import NAME, PHONE, TAGS
from app.models.messaging import Contact

_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def write(contacts: Sequence[Contact]) -> str:
    keys = sorted({key for contact in contacts for key in (contact.attributes or {})})
    keys = [key for key in keys if key.strip().lower() not in (PHONE, NAME, TAGS)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([PHONE, NAME, TAGS, *keys])
    for contact in contacts:
        attributes = contact.attributes or {}
        writer.writerow(
            [
                contact.phone_number or "",
                _cell(contact.name),
                _cell(";".join(contact.tags or [])),
                *(_cell(_text(attributes.get(key))) for key in keys),
            ]
        )
    return out.getvalue()


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _cell(value: str | None) -> str:
    if not value:
        return ""
    return "'" + value if value.startswith(_FORMULA) else value
