"""The limits a plan sets, by the names the API and ``PARLEY_DEFAULT_PLAN_LIMITS`` use."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Any

# The period of limits that are not per month (devices, seats, ...).
ALWAYS = date(1970, 1, 1)


class Limit(str, Enum):
    # Counted from the rows that exist.
    DEVICES = "devices"
    SEATS = "seats"
    CONTACTS = "contacts"
    # Counted as they are created and removed (``quotas.reserve``/``release``).
    API_KEYS = "apiKeys"
    WEBHOOKS = "webhooks"
    STORAGE_BYTES = "storageBytes"
    # Counted per period (calendar month, or the billing period).
    MARKETING_MESSAGES = "marketingMessagesPerMonth"
    UTILITY_MESSAGES = "utilityMessagesPerMonth"
    AUTHENTICATION_MESSAGES = "authenticationMessagesPerMonth"
    SERVICE_MESSAGES = "serviceMessagesPerMonth"
    CAMPAIGNS = "campaignsPerMonth"
    AI_RUNS = "aiRunsPerMonth"

    @property
    def monthly(self) -> bool:
        return self.value.endswith("PerMonth")

    def noun(self, count: int) -> str:
        """What ``count`` of this limit are called, in agreement with the number
        ("1 device", "2 devices", "0 devices")."""
        singular, plural = _NOUNS[self]
        return singular if count == 1 else plural


# (one, several): the qualifier of seats stays plural, it says what is counted.
_NOUNS = {
    Limit.DEVICES: ("device", "devices"),
    Limit.SEATS: (
        "seat (members and pending invitations)",
        "seats (members and pending invitations)",
    ),
    Limit.CONTACTS: ("contact", "contacts"),
    Limit.API_KEYS: ("API key", "API keys"),
    Limit.WEBHOOKS: ("webhook", "webhooks"),
    Limit.STORAGE_BYTES: ("byte of storage", "bytes of storage"),
    Limit.MARKETING_MESSAGES: ("marketing message", "marketing messages"),
    Limit.UTILITY_MESSAGES: ("utility message", "utility messages"),
    Limit.AUTHENTICATION_MESSAGES: ("authentication message", "authentication messages"),
    Limit.SERVICE_MESSAGES: ("service message", "service messages"),
    Limit.CAMPAIGNS: ("campaign", "campaigns"),
    Limit.AI_RUNS: ("AI run", "AI runs"),
}

# A send's category (the template's, Meta's pricing category; SERVICE for free-form
# messages) → the limit it counts against.
MESSAGE_LIMITS = {
    "MARKETING": Limit.MARKETING_MESSAGES,
    "UTILITY": Limit.UTILITY_MESSAGES,
    "AUTHENTICATION": Limit.AUTHENTICATION_MESSAGES,
    "SERVICE": Limit.SERVICE_MESSAGES,
}


def message_limit(category: str | None) -> Limit:
    """The limit a send of ``category`` counts against (unknown categories: SERVICE)."""
    return MESSAGE_LIMITS.get((category or "SERVICE").upper(), Limit.SERVICE_MESSAGES)


class Feature(str, Enum):
    # draftCampaignCopy: the multi-agent team (a copywriter and a compliance reviewer).
    AI_TEAMS = "ai_teams"
    # Outbound webhooks: creating, resuming and redelivering them, and every delivery.
    OUTBOUND_WEBHOOKS = "outbound_webhooks"

    @property
    def noun(self) -> str:
        return _FEATURE_NOUNS[self]


_FEATURE_NOUNS = {
    Feature.AI_TEAMS: "AI teams (multi-agent campaign copy)",
    Feature.OUTBOUND_WEBHOOKS: "outbound webhooks",
}

FEATURES = sorted(feature.value for feature in Feature)


class InvalidFeatures(ValueError):
    pass


def parse_features(names: Iterable[str]) -> list[str]:
    """The flags, sorted and without repeats; InvalidFeatures for a name no feature has."""
    chosen = sorted({name.strip() for name in names})
    unknown = [name for name in chosen if name not in FEATURES]
    if unknown:
        raise InvalidFeatures(f"Unknown feature {unknown[0]!r}; known: {', '.join(FEATURES)}.")
    return chosen


def features_of(names: Iterable[Any] | None) -> frozenset[Feature]:
    """The features a plan's ``features`` turn on (names no feature has are ignored)."""
    return frozenset(Feature(name) for name in names or [] if name in FEATURES)


class InvalidLimits(ValueError):
    pass


@dataclass(frozen=True)
class PlanLimits:
    """A plan's limits; a limit that is absent is unlimited."""

    values: Mapping[Limit, int]

    def of(self, limit: Limit) -> int | None:
        return self.values.get(limit)

    def as_json(self) -> dict[str, int]:
        return {limit.value: value for limit, value in self.values.items()}

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | None) -> PlanLimits:
        """From ``{"devices": 2, ...}``; null values are unlimited. InvalidLimits if not."""
        values: dict[Limit, int] = {}
        for name, value in (raw or {}).items():
            try:
                limit = Limit(name)
            except ValueError:
                known = ", ".join(limit.value for limit in Limit)
                raise InvalidLimits(f"Unknown limit {name!r}; known: {known}.") from None
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise InvalidLimits(f"Limit {name!r} must be a number ≥ 0 or null.")
            if isinstance(value, float) and not value.is_integer():
                raise InvalidLimits(f"Limit {name!r} must be a whole number.")
            values[limit] = int(value)
        return cls(values)

    def updated(self, changes: Mapping[str, Any]) -> PlanLimits:
        """These limits with ``changes`` applied (a null change makes a limit unlimited)."""
        merged: dict[str, Any] = {**self.as_json(), **changes}
        return PlanLimits.parse(merged)
