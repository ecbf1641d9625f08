"""WhatsApp's rules for campaign copy that code can check without a model.

The compliance reviewer applies these before it asks its model: a draft that breaks one is
sent back to the copywriter with the reasons, and only a draft that passes all of them can be
approved. What needs judgement (prohibited content, misleading claims, tone) is the model's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# A template body holds at most 1,024 characters; copy meant for campaigns stays within it.
MAX_LENGTH = 1024
# Variables every campaign can fill from the contact (app.campaigns.audience).
CONTACT_VARIABLES = ("name", "phone")
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}")
_BRACES = re.compile(r"\{\{|\}\}")


@dataclass(frozen=True)
class CopyRules:
    marketing: bool
    variables: tuple[str, ...]
    opt_out_keywords: tuple[str, ...]

    @property
    def allowed_variables(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*CONTACT_VARIABLES, *self.variables)))

    def describe(self) -> str:
        """The rules as the team's prompts state them."""
        lines = [
            f"- At most {MAX_LENGTH} characters, plain text (WhatsApp formatting like *bold* "
            "is fine).",
            "- Personalise only with these variables, written exactly like {{name}}: "
            + ", ".join("{{" + name + "}}" for name in self.allowed_variables)
            + ". No other placeholders.",
            "- No prohibited content (WhatsApp Commerce Policy): no drugs, weapons, tobacco, "
            "alcohol, gambling, adult content, no misleading or deceptive claims, no requests "
            "for passwords, card numbers or other sensitive data.",
        ]
        if self.marketing:
            keywords = " or ".join(self.opt_out_keywords)
            lines.append(
                f"- Marketing: a line telling the customer how to opt out, e.g. "
                f'"Reply {self.opt_out_keywords[0]} to unsubscribe" (keywords: {keywords}).'
            )
        return "\n".join(lines)

    def violations(self, copy: str) -> list[str]:
        found: list[str] = []
        if not copy.strip():
            return ["The copy is empty."]
        if len(copy) > MAX_LENGTH:
            found.append(f"The copy has {len(copy)} characters; at most {MAX_LENGTH}.")
        unknown = sorted(set(_VARIABLE.findall(copy)) - set(self.allowed_variables))
        if unknown:
            found.append(
                "Unknown variables "
                + ", ".join("{{" + name + "}}" for name in unknown)
                + "; allowed: "
                + ", ".join("{{" + name + "}}" for name in self.allowed_variables)
                + "."
            )
        if len(_BRACES.findall(_VARIABLE.sub("", copy))):
            found.append("Unbalanced or malformed {{ }} placeholders.")
        if self.marketing and not _mentions_any(copy, self.opt_out_keywords):
            found.append(
                "Marketing copy needs an opt-out line, e.g. "
                f'"Reply {self.opt_out_keywords[0]} to unsubscribe".'
            )
        return found


def _mentions_any(copy: str, keywords: Iterable[str]) -> bool:
    return any(re.search(rf"\b{re.escape(k)}\b", copy, re.IGNORECASE) for k in keywords if k)
