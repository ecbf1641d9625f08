"""Canned responses: saved replies with variables, rendered on the server when sent.

Variables: ``{{contact.name}}``, ``{{contact.phoneNumber}}``, ``{{agent.name}}`` and
``{{contact.attributes.<key>}}``. A variable without a value is reported, never left as an
empty gap in a message a customer reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from app.models.accounts import User
from app.models.messaging import Contact

_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][\w.\-]*)\s*\}\}")
_FIXED = ("contact.name", "contact.phoneNumber", "agent.name")
_ATTRIBUTE = "contact.attributes."


@dataclass(frozen=True, slots=True)
class Rendered:
    text: str
    missing: list[str] = field(default_factory=list)


def variables(body: str) -> list[str]:
    """The variables ``body`` uses, in order, each once."""
    return list(dict.fromkeys(_VARIABLE.findall(body)))


def unknown_variables(body: str) -> list[str]:
    return [
        name
        for name in variables(body)
        if name not in _FIXED and not (name.startswith(_ATTRIBUTE) and len(name) > len(_ATTRIBUTE))
    ]


def render(body: str, contact: Contact, agent: User) -> Rendered:
    values: dict[str, str | None] = {
        "contact.name": contact.name,
        "contact.phoneNumber": contact.phone_number,
        "agent.name": agent.name,
    }
    missing: list[str] = []

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith(_ATTRIBUTE):
            value = (contact.attributes or {}).get(name.removeprefix(_ATTRIBUTE))
            text = None if value is None or value == "" else str(value)
        else:
            text = values.get(name) or None
        if text is None:
            if name not in missing:
                missing.append(name)
            return ""
        return text

    return Rendered(_VARIABLE.sub(fill, body), missing)
