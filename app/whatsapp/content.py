"""What an inbound message carries, in one normalized shape per type, and its preview text.

``content_of(raw)`` turns a message object of a Cloud API webhook into ``Content``: the
payload Parley stores and shows as ``Message.payload`` (docs/inbound.md lists every shape),
and ``body``, the best human-readable text for an inbox (a caption, a location's name or its
coordinates, a card's name, a button's title), so that no real message has an empty preview.
Shapes follow the outbound ones where both exist (text, media, location, reaction), so a
client reads a message the same way whichever way it went.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Content", "content_of"]

MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
_MEDIA_KEYS = ("id", "mime_type", "sha256", "caption", "filename", "url", "voice", "animated")
_MEDIA_NAMES = {
    "image": "Photo",
    "video": "Video",
    "audio": "Audio",
    "document": "Document",
    "sticker": "Sticker",
}
_CARD_KEYS = ("name", "phones", "emails", "addresses", "org", "urls", "birthday")
_ORDER_ITEM_KEYS = ("product_retailer_id", "quantity", "item_price", "currency")
_REFERRAL_KEYS = (
    "source_type",
    "source_id",
    "source_url",
    "headline",
    "body",
    "media_type",
    "image_url",
    "video_url",
    "thumbnail_url",
    "ctwa_clid",
)


@dataclass(frozen=True, slots=True)
class Content:
    payload: dict[str, Any]
    body: str | None


def content_of(raw: Mapping[str, Any]) -> Content:
    """The normalized content of the message object ``raw`` (its ``type`` decides the shape)."""
    kind = _str(raw, "type") or ""
    obj = _obj(raw, kind)
    if kind == "text":
        content = Content({"body": _str(obj, "body")}, _str(obj, "body"))
    elif kind in MEDIA_TYPES:
        content = _media(kind, obj)
    elif kind == "location":
        content = _location(obj)
    elif kind == "contacts":
        content = _contacts(raw.get("contacts"))
    elif kind == "interactive":
        content = _interactive(obj)
    elif kind == "button":
        title = _str(obj, "text")
        reply = {"type": "quick_reply", "id": _str(obj, "payload") or title, "title": title}
        content = Content({"reply": reply}, title)
    elif kind == "reaction":
        emoji = _str(obj, "emoji") or ""
        content = Content({"message_id": _str(obj, "message_id"), "emoji": emoji}, emoji or None)
    elif kind == "order":
        content = _order(obj)
    elif kind == "system":
        content = _system(obj)
    else:
        content = _unsupported(kind, raw)
    return Content(_compact(content.payload | _common(raw)), content.body)


def _media(kind: str, obj: Mapping[str, Any]) -> Content:
    payload = {key: obj.get(key) for key in _MEDIA_KEYS}
    name = "Voice message" if obj.get("voice") is True else _MEDIA_NAMES[kind]
    return Content(payload, _str(obj, "caption") or _str(obj, "filename") or name)


def _location(obj: Mapping[str, Any]) -> Content:
    lat, lon = _number(obj, "latitude"), _number(obj, "longitude")
    payload = {
        "latitude": lat,
        "longitude": lon,
        "name": _str(obj, "name"),
        "address": _str(obj, "address"),
        "url": _str(obj, "url"),
    }
    coordinates = f"{lat:.6f}, {lon:.6f}" if lat is not None and lon is not None else None
    return Content(payload, _str(obj, "name") or _str(obj, "address") or coordinates)


def _contacts(cards: Any) -> Content:
    kept = [
        {key: card[key] for key in _CARD_KEYS if card.get(key) is not None}
        for card in (cards if isinstance(cards, list) else [])
        if isinstance(card, Mapping)
    ]
    names = [_card_name(card) for card in kept]
    shown = ", ".join(name for name in names if name)
    return Content({"contacts": kept}, shown or ("Contact card" if kept else None))


def _card_name(card: Mapping[str, Any]) -> str | None:
    name = _obj(card, "name")
    formatted = _str(name, "formatted_name")
    if formatted:
        return formatted
    parts = [_str(name, key) for key in ("first_name", "last_name")]
    joined = " ".join(part for part in parts if part)
    if joined:
        return joined
    phones = card.get("phones")
    first = phones[0] if isinstance(phones, list) and phones else None
    return _str(first, "phone") if isinstance(first, Mapping) else None


def _interactive(obj: Mapping[str, Any]) -> Content:
    kind = _str(obj, "type") or ""
    picked = _obj(obj, kind)
    if kind in ("button_reply", "list_reply"):
        reply = {
            "type": kind,
            "id": _str(picked, "id"),
            "title": _str(picked, "title"),
            "description": _str(picked, "description"),
        }
        return Content({"reply": reply}, _str(picked, "title"))
    if kind == "nfm_reply":
        response = _json_object(picked.get("response_json"))
        token = response.get("flow_token") if isinstance(response, dict) else None
        flow = {
            "name": _str(picked, "name"),
            "body": _str(picked, "body"),
            "response": response,
            "flow_token": token if isinstance(token, str) else None,
        }
        return Content({"flow_reply": flow}, _str(picked, "body") or "Form submitted")
    return Content({"interactive_type": kind or None}, None)


def _order(obj: Mapping[str, Any]) -> Content:
    items = [
        {key: item.get(key) for key in _ORDER_ITEM_KEYS}
        for item in _list(obj, "product_items")
        if isinstance(item, Mapping)
    ]
    payload = {"catalog_id": _str(obj, "catalog_id"), "text": _str(obj, "text"), "items": items}
    count = sum(q for i in items if isinstance(q := i.get("quantity"), int))
    body = _str(obj, "text") or f"Order: {count} item{'s' if count != 1 else ''}"
    return Content(payload, body)


def _system(obj: Mapping[str, Any]) -> Content:
    system = {
        "type": _str(obj, "type"),
        "body": _str(obj, "body"),
        "wa_id": _str(obj, "wa_id"),
        "user_id": _str(obj, "user_id"),
    }
    return Content({"system": _compact(system)}, _str(obj, "body"))


def _unsupported(kind: str, raw: Mapping[str, Any]) -> Content:
    errors = [
        _compact(
            {
                "code": error.get("code"),
                "title": _str(error, "title"),
                "details": _str(_obj(error, "error_data"), "details"),
            }
        )
        for error in _list(raw, "errors")
        if isinstance(error, Mapping)
    ]
    payload = {
        "unsupported_type": _str(_obj(raw, "unsupported"), "type") or (kind or None),
        "errors": errors,
    }
    return Content(payload, "Unsupported message")


def _common(raw: Mapping[str, Any]) -> dict[str, Any]:
    """What any message may carry: the message it quotes, forwarding, an ad's referral."""
    context = _obj(raw, "context")
    common: dict[str, Any] = {
        "quoted_message_id": _str(context, "id"),
        "forwarded": True if context.get("forwarded") is True else None,
        "frequently_forwarded": True if context.get("frequently_forwarded") is True else None,
    }
    if referral := _obj(raw, "referral"):
        common["referral"] = _compact({key: referral.get(key) for key in _REFERRAL_KEYS})
    return common


def _compact(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def _json_object(value: Any) -> Any:
    if not isinstance(value, str):
        return value if isinstance(value, dict) else None
    try:
        return json.loads(value)
    except ValueError:
        return None


def _number(parent: Mapping[str, Any], key: str) -> float | None:
    value = parent.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _list(parent: Mapping[str, Any], key: str) -> list[Any]:
    value = parent.get(key)
    return value if isinstance(value, list) else []


def _obj(parent: Mapping[str, Any], key: Any) -> Mapping[str, Any]:
    value = parent.get(key)
    return value if isinstance(value, Mapping) else {}


def _str(parent: Mapping[str, Any], key: str) -> str | None:
    value = parent.get(key)
    return value if isinstance(value, str) and value else None
