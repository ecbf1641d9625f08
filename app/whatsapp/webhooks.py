"""Inbound webhooks from Meta: subscription challenge, signature check, and parsing."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import structlog

from app.whatsapp.content import content_of
from app.whatsapp.errors import MalformedWebhook
from app.whatsapp.types import (
    DeliveryStatus,
    InboundMedia,
    InboundMessage,
    InboundType,
    InteractiveReply,
    Location,
    NumberHealthUpdate,
    PreferenceChange,
    Reaction,
    SkippedItem,
    StatusUpdate,
    TemplateUpdate,
    WebhookBatch,
)

__all__ = [
    "MalformedWebhook",
    "SignatureResult",
    "parse_webhook",
    "parse_webhook_body",
    "verify_challenge",
    "verify_signature",
]

SIGNATURE_HEADER = "X-Hub-Signature-256"
# The fields Parley applies (docs/inbound.md says why the others are left alone).
_MESSAGE_FIELDS = ("messages", "user_preferences", "smb_message_echoes")
_TEMPLATE_FIELDS = ("message_template_status_update", "message_template_quality_update")
_NUMBER_FIELDS = ("phone_number_quality_update", "account_update")
MAX_ID = 255  # the longest provider message id Parley stores (messages.provider_message_id)
MAX_USER_ID = 160  # the longest business-scoped user id Parley stores (contacts.user_id)
# A country code, a dot, then letters and digits (a parent id adds `ENT.`): `US.1349120865`.
_USER_ID = re.compile(r"^[A-Z]{2}\.[A-Za-z0-9.]+$")

log = structlog.get_logger("parley.whatsapp")

_MEDIA_TYPES = {
    InboundType.IMAGE,
    InboundType.VIDEO,
    InboundType.AUDIO,
    InboundType.DOCUMENT,
    InboundType.STICKER,
}


class SignatureResult(StrEnum):
    MISSING = "MISSING"  # answer 401
    INVALID = "INVALID"  # answer 403
    VALID = "VALID"


def verify_signature(app_secret: str, raw_body: bytes, header: str | None) -> SignatureResult:
    if not header:
        return SignatureResult.MISSING
    scheme, _, provided = header.strip().partition("=")
    # An empty secret would let anyone sign; fail closed rather than accept.
    if not app_secret or scheme.lower() != "sha256" or not provided:
        return SignatureResult.INVALID
    expected = hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest()
    if hmac.compare_digest(expected.encode(), provided.strip().lower().encode()):
        return SignatureResult.VALID
    return SignatureResult.INVALID


def verify_challenge(params: Mapping[str, str], verify_token: str) -> str | None:
    """The ``hub.challenge`` to echo back with 200, or None to answer 403."""
    token = params.get("hub.verify_token") or ""
    challenge = params.get("hub.challenge")
    if params.get("hub.mode") != "subscribe" or not challenge or not verify_token:
        return None
    if not hmac.compare_digest(token.encode(), verify_token.encode()):
        return None
    return challenge


def parse_webhook_body(raw_body: bytes) -> WebhookBatch:
    try:
        payload = json.loads(raw_body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedWebhook("webhook body is not JSON") from exc
    return parse_webhook(payload)


def parse_webhook(payload: Any) -> WebhookBatch:
    """Messages and statuses of a webhook delivery.

    The envelope must be well formed (else MalformedWebhook); inside it, unknown fields and
    message types are tolerated, and a single unusable item is skipped, with where it was and
    why in ``skipped``, so that it cannot hold back the rest of the batch.
    """
    if not isinstance(payload, Mapping) or payload.get("object") != "whatsapp_business_account":
        raise MalformedWebhook("not a whatsapp_business_account webhook")
    entries = payload.get("entry")
    if not isinstance(entries, list):
        raise MalformedWebhook("`entry` must be a list")
    batch = _Batch()
    for e, entry in enumerate(entries):
        changes = entry.get("changes") if isinstance(entry, Mapping) else None
        if not isinstance(changes, list):
            raise MalformedWebhook("each entry needs a `changes` list")
        for c, change in enumerate(changes):
            if not isinstance(change, Mapping):
                raise MalformedWebhook("each change must be an object")
            kind = change.get("field")
            if kind not in (*_MESSAGE_FIELDS, *_TEMPLATE_FIELDS, *_NUMBER_FIELDS):
                continue  # other fields are left alone (docs/inbound.md)
            value = change.get("value")
            at = f"entry[{e}].changes[{c}]"
            if kind in _MESSAGE_FIELDS:
                if not isinstance(value, Mapping):
                    raise MalformedWebhook("a messages change needs a `value` object")
                _parse_value(value, batch, at)
                continue
            # Account-level changes are one item each: a bad one is skipped, not fatal.
            waba_id = entry.get("id")
            try:
                if not isinstance(value, Mapping):
                    raise _Skip(f"a {kind} change needs a `value` object")
                if kind in _TEMPLATE_FIELDS:
                    batch.templates.append(_template_update(str(waba_id or ""), value, at))
                else:
                    batch.number_health.append(
                        _number_health(str(kind), str(waba_id or ""), value, at)
                    )
            except _Skip as exc:
                batch.skip(at, value, str(exc))
    return WebhookBatch(
        tuple(batch.messages),
        tuple(batch.statuses),
        tuple(batch.skipped),
        tuple(batch.preferences),
        tuple(batch.echoes),
        tuple(batch.templates),
        tuple(batch.number_health),
    )


class _Skip(Exception):
    pass


@dataclass
class _Batch:
    messages: list[InboundMessage] = field(default_factory=list)
    statuses: list[StatusUpdate] = field(default_factory=list)
    skipped: list[SkippedItem] = field(default_factory=list)
    preferences: list[PreferenceChange] = field(default_factory=list)
    echoes: list[InboundMessage] = field(default_factory=list)
    templates: list[TemplateUpdate] = field(default_factory=list)
    number_health: list[NumberHealthUpdate] = field(default_factory=list)

    def skip(self, where: str, raw: Any, reason: str) -> None:
        item_id = raw.get("id") if isinstance(raw, Mapping) else None
        self.skipped.append(
            SkippedItem(where, reason, item_id if isinstance(item_id, str) else None)
        )
        log.warning("whatsapp.webhook.item_skipped", where=where, reason=reason)


def _parse_value(value: Mapping[str, Any], batch: _Batch, at: str) -> None:
    metadata = _obj(value, "metadata")
    phone_number_id = metadata.get("phone_number_id")
    if isinstance(phone_number_id, int) and not isinstance(phone_number_id, bool):
        phone_number_id = str(phone_number_id)
    if not isinstance(phone_number_id, str) or not phone_number_id:
        raise MalformedWebhook("`metadata.phone_number_id` is required")
    names: dict[Any, str | None] = {}
    usernames: dict[Any, str | None] = {}
    for contact in _list(value, "contacts"):
        if isinstance(contact, Mapping):
            profile = _obj(contact, "profile")
            for key in (contact.get("wa_id"), contact.get("user_id")):
                if isinstance(key, str) and key:
                    names[key] = _str(profile, "name")
                    usernames[key] = _str(profile, "username")
    for i, raw in enumerate(_list(value, "messages")):
        where = f"{at}.messages[{i}]"
        try:
            batch.messages.append(_message(phone_number_id, raw, names, where, usernames))
        except _Skip as exc:
            batch.skip(where, raw, str(exc))
    for i, raw in enumerate(_list(value, "statuses")):
        where = f"{at}.statuses[{i}]"
        try:
            batch.statuses.append(_status(phone_number_id, raw, where))
        except _Skip as exc:
            batch.skip(where, raw, str(exc))
    for i, raw in enumerate(_list(value, "user_preferences")):
        where = f"{at}.user_preferences[{i}]"
        try:
            batch.preferences.append(_preference(phone_number_id, raw, where))
        except _Skip as exc:
            batch.skip(where, raw, str(exc))
    for i, raw in enumerate(_list(value, "message_echoes")):
        where = f"{at}.message_echoes[{i}]"
        try:
            if not isinstance(raw, Mapping):
                raise _Skip("echo is not an object")
            # The customer is `to`; the message object is otherwise an inbound one's.
            echo = dict(raw) | {"from": raw.get("to")}
            batch.echoes.append(_message(phone_number_id, echo, {}, where))
        except _Skip as exc:
            batch.skip(where, raw, str(exc))


def _message(
    phone_number_id: str,
    raw: Any,
    names: Mapping[Any, str | None],
    where: str,
    usernames: Mapping[Any, str | None] | None = None,
) -> InboundMessage:
    if not isinstance(raw, Mapping):
        raise _Skip("message is not an object")
    user_id = _user_id(raw, "from_user_id")
    # A customer who hides their number behind a username has no `from`, only a user id.
    sender = _wa_id(raw, "from") if user_id is None or _str(raw, "from") else ""
    usernames = usernames or {}
    raw_type = _str(raw, "type") or ""
    try:
        kind = InboundType(raw_type)
    except ValueError:
        kind = InboundType.UNSUPPORTED
    body = _obj(raw, raw_type)
    text: str | None = None
    media = reply = reaction = location = None
    if kind is InboundType.TEXT:
        text = _str(body, "body")
    elif kind in _MEDIA_TYPES and (media_id := _str(body, "id")):
        text = _str(body, "caption")
        media = InboundMedia(
            media_id,
            _str(body, "mime_type"),
            _str(body, "sha256"),
            text,
            _str(body, "filename"),
        )
    elif kind is InboundType.INTERACTIVE:
        picked = (
            _obj(body, body.get("type"))
            if body.get("type") in ("button_reply", "list_reply")
            else {}
        )
        if (reply_id := _str(picked, "id")) and (title := _str(picked, "title")):
            reply = InteractiveReply(reply_id, title, _str(picked, "description"))
            text = title
    elif kind is InboundType.BUTTON and (title := _str(body, "text")):
        reply = InteractiveReply(_str(body, "payload") or title, title)
        text = title
    elif kind is InboundType.REACTION and (reacted_to := _str(body, "message_id")):
        reaction = Reaction(reacted_to, _str(body, "emoji") or "")
        text = reaction.emoji or None
    elif kind is InboundType.LOCATION:
        lat, lon = body.get("latitude"), body.get("longitude")
        if isinstance(lat, int | float) and isinstance(lon, int | float):
            location = Location(float(lat), float(lon), _str(body, "name"), _str(body, "address"))
            text = location.name
    original_message_id = edited_type = None
    if kind in (InboundType.EDIT, InboundType.REVOKE):
        original_message_id = _required(body, "original_message_id")
    if kind is InboundType.EDIT:
        edited = _obj(body, "message")
        edited_type = _str(edited, "type")
        content = content_of(edited)
    else:
        content = content_of(raw)
    return InboundMessage(
        phone_number_id=phone_number_id,
        from_wa_id=sender,
        provider_message_id=_required(raw, "id"),
        timestamp=_timestamp(raw),
        type=kind,
        profile_name=names.get(sender) or names.get(user_id),
        from_user_id=user_id,
        username=usernames.get(sender) or usernames.get(user_id),
        text=content.body,
        context_message_id=_str(_obj(raw, "context"), "id"),
        media=media,
        reply=reply,
        reaction=reaction,
        location=location,
        raw=dict(raw),
        where=where,
        content=content.payload,
        original_message_id=original_message_id,
        edited_type=edited_type,
    )


def _template_update(waba_id: str, value: Mapping[str, Any], where: str) -> TemplateUpdate:
    raw_id = value.get("message_template_id")
    template_id = str(raw_id) if isinstance(raw_id, int | str) and raw_id != "" else None
    name = _str(value, "message_template_name")
    if template_id is None and name is None:
        raise _Skip("`message_template_id` or `message_template_name` is required")
    event, quality = _str(value, "event"), _str(value, "new_quality_score")
    if event is None and quality is None:
        raise _Skip("`event` or `new_quality_score` is required")
    reason = _str(value, "reason")
    return TemplateUpdate(
        waba_id=waba_id,
        template_id=template_id,
        name=name,
        language=_str(value, "message_template_language"),
        event=event.upper() if event else None,
        reason=None if reason in (None, "NONE") else reason,
        quality=quality.upper() if quality else None,
        where=where,
    )


def _number_health(
    kind: str, waba_id: str, value: Mapping[str, Any], where: str
) -> NumberHealthUpdate:
    event = _str(value, "event")
    if event is None:
        raise _Skip("`event` is required")
    quality = _str(value, "new_quality_score") or _str(value, "quality_rating")
    return NumberHealthUpdate(
        field=kind,
        waba_id=waba_id,
        phone_number=_str(value, "display_phone_number") or _str(value, "phone_number"),
        event=event.upper(),
        current_limit=_str(value, "current_limit"),
        quality=quality.upper() if quality else None,
        ban_state=_str(_obj(value, "ban_info"), "waba_ban_state"),
        where=where,
    )


def _preference(phone_number_id: str, raw: Any, where: str) -> PreferenceChange:
    if not isinstance(raw, Mapping):
        raise _Skip("preference is not an object")
    return PreferenceChange(
        phone_number_id=phone_number_id,
        wa_id=_wa_id(raw, "wa_id"),
        category=_required(raw, "category"),
        value=_required(raw, "value"),
        timestamp=_timestamp(raw),
        where=where,
    )


def _status(phone_number_id: str, raw: Any, where: str) -> StatusUpdate:
    if not isinstance(raw, Mapping):
        raise _Skip("status is not an object")
    try:
        status = DeliveryStatus(_str(raw, "status") or "")
    except ValueError:
        raise _Skip(f"status {raw.get('status')!r} is not tracked") from None
    errors = _list(raw, "errors")
    error = errors[0] if errors and isinstance(errors[0], Mapping) else {}
    code = error.get("code")
    return StatusUpdate(
        phone_number_id=phone_number_id,
        provider_message_id=_required(raw, "id"),
        status=status,
        timestamp=_timestamp(raw),
        recipient_id=_str(raw, "recipient_id"),
        biz_opaque_callback_data=_str(raw, "biz_opaque_callback_data"),
        error_code=code if isinstance(code, int) and not isinstance(code, bool) else None,
        error_title=_str(error, "title"),
        # `details` says what actually went wrong; `message` often just repeats the title.
        error_message=_str(_obj(error, "error_data"), "details") or _str(error, "message"),
        where=where,
        details=_status_details(raw, status, error),
    )


def _status_details(
    raw: Mapping[str, Any], status: DeliveryStatus, error: Mapping[str, Any]
) -> dict[str, Any]:
    """``Message.deliveryDetails``: pricing, the conversation it opened, when a voice note was
    played, and a failure in full (docs/inbound.md)."""
    details: dict[str, Any] = {}
    if pricing := _obj(raw, "pricing"):
        details["pricing"] = _compact(
            {
                "category": _str(pricing, "category"),
                "billable": pricing.get("billable")
                if isinstance(pricing.get("billable"), bool)
                else None,
                "pricing_model": _str(pricing, "pricing_model"),
                "type": _str(pricing, "type"),
            }
        )
    if conversation := _obj(raw, "conversation"):
        expires = conversation.get("expiration_timestamp")
        details["conversation"] = _compact(
            {
                "id": _str(conversation, "id"),
                "origin": _str(_obj(conversation, "origin"), "type"),
                "expires_at": _iso(expires),
            }
        )
    if status is DeliveryStatus.PLAYED:
        details["played_at"] = _iso(raw.get("timestamp"))
    if error:
        code = error.get("code")
        details["failure"] = _compact(
            {
                "code": code if isinstance(code, int) and not isinstance(code, bool) else None,
                "title": _str(error, "title"),
                "message": _str(error, "message"),
                "details": _str(_obj(error, "error_data"), "details"),
                "href": _str(error, "href"),
            }
        )
    return details


def _iso(value: Any) -> str | None:
    try:
        return datetime.fromtimestamp(int(value), tz=UTC).isoformat()
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _compact(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def _timestamp(raw: Mapping[str, Any]) -> datetime:
    value: Any = raw.get("timestamp")
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise _Skip(f"bad timestamp {value!r}") from None


def _obj(parent: Mapping[str, Any], key: Any) -> Mapping[str, Any]:
    value = parent.get(key)
    return value if isinstance(value, Mapping) else {}


def _list(parent: Mapping[str, Any], key: str) -> list[Any]:
    value = parent.get(key)
    return value if isinstance(value, list) else []


def _str(parent: Mapping[str, Any], key: str) -> str | None:
    value = parent.get(key)
    return value if isinstance(value, str) and value else None


def _required(raw: Mapping[str, Any], key: str) -> str:
    value = _str(raw, key)
    if value is None:
        raise _Skip(f"`{key}` is missing")
    if len(value) > MAX_ID:
        raise _Skip(f"`{key}` is longer than {MAX_ID} characters")
    return value


def _user_id(raw: Mapping[str, Any], key: str) -> str | None:
    """A business-scoped user id (`US.13491208655302741918`), or None when there is none."""
    value = _str(raw, key)
    if value is None:
        return None
    if len(value) > MAX_USER_ID or not _USER_ID.match(value):
        shown = value if len(value) <= 20 else value[:20] + "…"
        raise _Skip(f"`{key}` {shown!r} is not a business-scoped user id")
    return value


def _wa_id(raw: Mapping[str, Any], key: str) -> str:
    """A WhatsApp id: the customer's number without the plus, at most 15 digits (E.164)."""
    value = _required(raw, key)
    if not (value.isascii() and value.isdigit() and len(value) <= 15):
        shown = value if len(value) <= 20 else value[:20] + "…"
        raise _Skip(f"`{key}` {shown!r} is not a WhatsApp id (a number of at most 15 digits)")
    return value
