"""Provider-neutral messages, results and webhook events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from app.whatsapp.errors import FailureReason, ProviderError, classify

__all__ = [
    "DeliveryStatus",
    "FailureReason",
    "InboundMedia",
    "InboundMessage",
    "InboundType",
    "InteractiveReply",
    "Location",
    "MessageType",
    "NumberHealthUpdate",
    "OutboundMessage",
    "PreferenceChange",
    "ProviderError",
    "Reaction",
    "SendResult",
    "SkippedItem",
    "StatusUpdate",
    "TemplateUpdate",
    "WebhookBatch",
]


class MessageType(StrEnum):
    TEXT = "text"
    TEMPLATE = "template"
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    DOCUMENT = "document"
    STICKER = "sticker"
    LOCATION = "location"
    REACTION = "reaction"
    INTERACTIVE = "interactive"


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One message to send; ``payload`` is the type's object (see app.whatsapp.payloads)."""

    to: str  # E.164; empty when the customer is known only by ``recipient``
    type: MessageType
    payload: Mapping[str, Any] = field(default_factory=dict)
    context_message_id: str | None = None
    biz_opaque_callback_data: str | None = None
    recipient: str | None = None  # a business-scoped user id, sent when there is no `to`


@dataclass(frozen=True, slots=True)
class SendResult:
    provider_message_id: str
    # Meta may normalise the number it was given (e.g. Brazilian mobiles); this is the one it used.
    wa_id: str | None = None


class InboundType(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    DOCUMENT = "document"
    STICKER = "sticker"
    LOCATION = "location"
    INTERACTIVE = "interactive"
    BUTTON = "button"
    REACTION = "reaction"
    CONTACTS = "contacts"
    ORDER = "order"
    SYSTEM = "system"
    EDIT = "edit"  # changes `original_message_id` to `content`
    REVOKE = "revoke"  # deletes `original_message_id`
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True, slots=True)
class InboundMedia:
    id: str
    mime_type: str | None = None
    sha256: str | None = None
    caption: str | None = None
    filename: str | None = None


@dataclass(frozen=True, slots=True)
class InteractiveReply:
    """A tapped reply button, list row or template quick-reply button."""

    id: str
    title: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Reaction:
    message_id: str
    emoji: str  # empty when the customer removed their reaction


@dataclass(frozen=True, slots=True)
class Location:
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None


@dataclass(frozen=True, slots=True)
class InboundMessage:
    phone_number_id: str
    from_wa_id: str
    provider_message_id: str
    timestamp: datetime
    type: InboundType
    profile_name: str | None = None
    # The sender's business-scoped user id and WhatsApp username, when Meta says them; a sender
    # who hides their number has ``from_wa_id`` empty and a ``from_user_id``.
    from_user_id: str | None = None
    username: str | None = None
    # What an inbox shows as the message text: the body, a caption, a reply's title or an emoji.
    text: str | None = None
    context_message_id: str | None = None
    media: InboundMedia | None = None
    reply: InteractiveReply | None = None
    reaction: Reaction | None = None
    location: Location | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)
    where: str = ""  # the item's place in its delivery, e.g. "entry[0].changes[0].messages[2]"
    # The normalized payload (app.whatsapp.content); for an EDIT, the message's new content.
    content: Mapping[str, Any] = field(default_factory=dict)
    original_message_id: str | None = None  # EDIT and REVOKE: the message they change
    edited_type: str | None = None  # EDIT: the type of the new content, e.g. "text"


class DeliveryStatus(StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    PLAYED = "played"  # a voice note was played; the message stays READ
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    phone_number_id: str
    provider_message_id: str
    status: DeliveryStatus
    timestamp: datetime
    recipient_id: str | None = None
    biz_opaque_callback_data: str | None = None
    error_code: int | None = None
    error_title: str | None = None
    error_message: str | None = None
    where: str = ""
    # What Meta says besides the status: pricing, conversation, failure (app.whatsapp.webhooks).
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def failure(self) -> FailureReason | None:
        if self.status is not DeliveryStatus.FAILED:
            return None
        return classify(self.error_code).failure


@dataclass(frozen=True, slots=True)
class PreferenceChange:
    """A customer stopped or resumed a category of messages (``user_preferences``)."""

    phone_number_id: str
    wa_id: str
    category: str  # "marketing_messages"
    value: str  # "stop" or "resume"
    timestamp: datetime
    where: str = ""


@dataclass(frozen=True, slots=True)
class SkippedItem:
    """An item of a delivery that cannot be used, where it was and why: kept on the event."""

    where: str  # e.g. "entry[0].changes[1].messages[4]"
    reason: str
    item_id: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"where": self.where, "id": self.item_id, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class TemplateUpdate:
    """Meta reviewed a template (``message_template_status_update``: ``event``, ``reason``) or
    rated it (``message_template_quality_update``: ``quality``)."""

    waba_id: str
    template_id: str | None
    name: str | None
    language: str | None
    event: str | None = None  # APPROVED, REJECTED, PENDING, PAUSED, DISABLED, FLAGGED, ...
    reason: str | None = None
    quality: str | None = None  # GREEN, YELLOW, RED, UNKNOWN
    where: str = ""


@dataclass(frozen=True, slots=True)
class NumberHealthUpdate:
    """A number's quality and messaging limit (``phone_number_quality_update``) or its account
    (``account_update``) changed."""

    field: str
    waba_id: str
    phone_number: str | None  # display_phone_number / phone_number, digits as Meta gives them
    event: str | None
    current_limit: str | None = None  # TIER_250, TIER_1K, ..., TIER_UNLIMITED
    quality: str | None = None  # when the payload says it outright
    ban_state: str | None = None  # account_update's ban_info.waba_ban_state
    where: str = ""


@dataclass(frozen=True, slots=True)
class WebhookBatch:
    messages: tuple[InboundMessage, ...] = ()
    statuses: tuple[StatusUpdate, ...] = ()
    skipped: tuple[SkippedItem, ...] = ()
    preferences: tuple[PreferenceChange, ...] = ()
    # Messages the business sent from the WhatsApp Business app (``smb_message_echoes``), with
    # the customer they went to as ``from_wa_id``.
    echoes: tuple[InboundMessage, ...] = ()
    templates: tuple[TemplateUpdate, ...] = ()
    number_health: tuple[NumberHealthUpdate, ...] = ()
