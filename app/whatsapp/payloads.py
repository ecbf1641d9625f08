"""Cloud API request bodies built from provider-neutral messages.

Payload shapes accepted in ``OutboundMessage.payload``:

- text: ``{"body", "preview_url"?}``
- template: ``{"name", "language": "en_US", "parameters"?: [str], "header"?: {Meta header
  parameter}, "buttons"?: [{"index", "sub_type": "url|quick_reply|copy_code", "parameter"}],
  "components"?: [Meta component]}`` (``parameters`` fill the body's ``{{n}}`` variables; the
  header is e.g. ``{"type": "image", "image": {"link"}}``; ``components`` pass through as Meta's)
- image / video / audio / document / sticker: ``{"id"}`` or ``{"link"}``, plus ``caption``
  (image, video, document) and ``filename`` (document)
- location: ``{"latitude", "longitude", "name"?, "address"?}``
- reaction: ``{"message_id", "emoji"}`` (empty emoji removes the reaction)
- interactive: ``{"body", "header"?, "footer"?}`` with either ``"buttons": [{"id", "title"}]``
  or ``"button": "Menu", "sections": [{"title"?, "rows": [{"id", "title", "description"?}]}]``

Anything else raises a non-retryable ProviderError(INVALID_PARAMETER) before any network call,
so the sandbox rejects exactly what Meta would.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.whatsapp.errors import FailureReason, ProviderError
from app.whatsapp.types import MessageType, OutboundMessage

_MEDIA = {
    MessageType.IMAGE: ("caption",),
    MessageType.VIDEO: ("caption",),
    MessageType.DOCUMENT: ("caption", "filename"),
    MessageType.AUDIO: (),
    MessageType.STICKER: (),
}


def invalid(detail: str) -> ProviderError:
    return ProviderError(
        f"Invalid message: {detail}",
        failure=FailureReason.INVALID_PARAMETER,
        retryable=False,
    )


def build_send_body(message: OutboundMessage) -> dict[str, Any]:
    return _send_body(message, upload_pending=False)


def check_send_body(message: OutboundMessage, *, upload_pending: bool = False) -> None:
    """Raise what :func:`build_send_body` would, before the message is queued.

    ``upload_pending``: the message's media (its own, or a template's media header given as
    ``{"type": "image", "media_file_id": …}``) is a file the sender uploads to Meta first, so
    Meta's id for it does not exist yet. Everything but that id is checked: the kind of media,
    the caption and file name, and the rest of the message."""
    _send_body(message, upload_pending=upload_pending)


def _send_body(message: OutboundMessage, *, upload_pending: bool) -> dict[str, Any]:
    try:
        kind = MessageType(message.type)  # also accepts the plain string "text" etc.
    except ValueError:
        raise invalid(f"unknown message type {message.type!r}") from None
    body: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual"}
    to = message.to.removeprefix("+")
    if to or not message.recipient:
        if not (to.isdigit() and 7 <= len(to) <= 15):
            raise invalid("`to` must be an E.164 number")
        body["to"] = to
    else:
        # A customer known only by their business-scoped user id (Meta: `recipient`).
        body["recipient"] = message.recipient
    body |= {"type": str(kind), str(kind): _build_object(kind, message.payload, upload_pending)}
    if message.context_message_id:
        body["context"] = {"message_id": message.context_message_id}
    if message.biz_opaque_callback_data is not None:
        if len(message.biz_opaque_callback_data) > 512:
            raise invalid("biz_opaque_callback_data is longer than 512 characters")
        body["biz_opaque_callback_data"] = message.biz_opaque_callback_data
    return body


def build_mark_read_body(provider_message_id: str) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": provider_message_id,
    }


def build_typing_body(provider_message_id: str) -> dict[str, Any]:
    """Marks the customer's message read and shows them "typing…" (up to 25 s)."""
    return build_mark_read_body(provider_message_id) | {"typing_indicator": {"type": "text"}}


def _build_object(kind: MessageType, p: Mapping[str, Any], upload_pending: bool) -> dict[str, Any]:
    if kind is MessageType.TEXT:
        preview = p.get("preview_url", False)
        if not isinstance(preview, bool):
            raise invalid("text.preview_url must be a boolean")
        return {"body": _str(p, "body", max_len=4096), "preview_url": preview}
    if kind is MessageType.TEMPLATE:
        return _template(p, upload_pending)
    if kind in _MEDIA:
        return _media(kind, p, upload_pending)
    if kind is MessageType.LOCATION:
        location: dict[str, Any] = {
            "latitude": _number(p, "latitude", 90),
            "longitude": _number(p, "longitude", 180),
        }
        return location | _optional(p, "name", "address")
    if kind is MessageType.REACTION:
        emoji = p.get("emoji")
        if not isinstance(emoji, str):
            raise invalid("reaction.emoji must be a string (empty removes the reaction)")
        return {"message_id": _str(p, "message_id"), "emoji": emoji}
    return _interactive(p)


def _template(p: Mapping[str, Any], upload_pending: bool) -> dict[str, Any]:
    language = p.get("language")
    if isinstance(language, Mapping):
        language = language.get("code")
    if not isinstance(language, str) or not language:
        raise invalid("template.language is required")
    components = p.get("components", [])
    if not isinstance(components, list) or not all(isinstance(c, Mapping) for c in components):
        raise invalid("template.components must be a list of objects")
    components = [dict(c) for c in components]
    given = {str(c.get("type")) for c in components}
    built: list[dict[str, Any]] = []
    if p.get("header") is not None:
        if "header" in given:
            raise invalid("give the template header either in `header` or in `components`")
        built.append(
            {"type": "header", "parameters": [_template_header(p["header"], upload_pending)]}
        )
    parameters = p.get("parameters")
    if parameters is not None:
        if not isinstance(parameters, list) or not all(isinstance(v, str) for v in parameters):
            raise invalid("template.parameters must be a list of strings")
        if "body" in given:
            raise invalid("give template body parameters either in `parameters` or in `components`")
        texts = [{"type": "text", "text": value} for value in parameters]
        built.append({"type": "body", "parameters": texts})
    buttons = p.get("buttons")
    if buttons is not None:
        if "button" in given:
            raise invalid("give template buttons either in `buttons` or in `components`")
        built += [_template_button(b) for b in _list(p, "buttons", 1, 10)]
    # Meta's order: the header, the body, then the buttons by index.
    components = sorted(built + components, key=lambda c: _ORDER.get(str(c.get("type")), 3))
    template: dict[str, Any] = {
        "name": _str(p, "name", max_len=512),
        "language": {"code": language},
    }
    if components:
        template["components"] = components
    return template


_HEADER_MEDIA = ("image", "video", "document")
_ORDER = {"header": 0, "body": 1, "button": 2}
_BUTTON_PARAMETER = {"url": "text", "quick_reply": "payload", "copy_code": "coupon_code"}


def _template_header(header: Any, upload_pending: bool) -> dict[str, Any]:
    kind = header.get("type") if isinstance(header, Mapping) else None
    if kind == "text":
        return {"type": "text", "text": _str(header, "text", max_len=60)}
    if kind not in _HEADER_MEDIA:
        raise invalid("template.header is a text, image, video or document parameter")
    media = header.get(kind)
    if upload_pending and media is None and header.get("media_file_id") is not None:
        # A Parley file, not yet uploaded to Meta: its kind is all there is to check.
        return {"type": kind}
    if not isinstance(media, Mapping):
        raise invalid(f"template.header needs Meta's `{kind}` object (an id or a link)")
    return {"type": kind, kind: _media(MessageType(kind), media, upload_pending=False)}


def _template_button(button: Mapping[str, Any]) -> dict[str, Any]:
    sub_type = button.get("sub_type")
    index = button.get("index")
    if sub_type not in _BUTTON_PARAMETER:
        raise invalid("a template button's sub_type is url, quick_reply or copy_code")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < 10:
        raise invalid("a template button's index is a number from 0 to 9")
    value_type = _BUTTON_PARAMETER[str(sub_type)]
    limit = 15 if sub_type == "copy_code" else 2000
    return {
        "type": "button",
        "sub_type": sub_type,
        "index": str(index),
        "parameters": [{"type": value_type, value_type: _str(button, "parameter", limit)}],
    }


def _media(kind: MessageType, p: Mapping[str, Any], upload_pending: bool) -> dict[str, Any]:
    has_id, has_link = p.get("id") is not None, p.get("link") is not None
    media: dict[str, Any]
    if upload_pending and not has_id and not has_link:
        # The sender uploads the file and puts Meta's id in: the rest is checked now.
        media = {}
    elif has_id == has_link:
        raise invalid(f"{kind} needs exactly one of `id` or `link`")
    elif has_link:
        link = _str(p, "link")
        if not link.startswith(("https://", "http://")):
            raise invalid(f"{kind}.link must be an http(s) URL")
        media = {"link": link}
    else:
        media = {"id": _str(p, "id")}
    return media | _optional(p, *_MEDIA[kind])


def _interactive(p: Mapping[str, Any]) -> dict[str, Any]:
    interactive: dict[str, Any] = {"body": {"text": _str(p, "body", max_len=1024)}}
    if "buttons" in p:
        buttons = _list(p, "buttons", 1, 3)
        interactive["type"] = "button"
        interactive["action"] = {
            "buttons": [
                {
                    "type": "reply",
                    "reply": {"id": _str(b, "id", 256), "title": _str(b, "title", 20)},
                }
                for b in buttons
            ]
        }
    elif "sections" in p:
        sections = _list(p, "sections", 1, 10)
        if sum(len(_list(s, "rows", 1, 10)) for s in sections) > 10:
            raise invalid("an interactive list has at most 10 rows")
        interactive["type"] = "list"
        interactive["action"] = {
            "button": _str(p, "button", max_len=20),
            "sections": [
                _optional(s, "title")
                | {
                    "rows": [
                        {"id": _str(r, "id", 200), "title": _str(r, "title", 24)}
                        | _optional(r, "description")
                        for r in _list(s, "rows", 1, 10)
                    ]
                }
                for s in sections
            ],
        }
    else:
        raise invalid("interactive needs `buttons` or `sections`")
    if p.get("header") is not None:
        interactive["header"] = {"type": "text", "text": _str(p, "header", max_len=60)}
    if p.get("footer") is not None:
        interactive["footer"] = {"text": _str(p, "footer", max_len=60)}
    return interactive


def _str(p: Mapping[str, Any], key: str, max_len: int | None = None) -> str:
    value = p.get(key)
    if not isinstance(value, str) or not value:
        raise invalid(f"`{key}` is required and must be a non-empty string")
    if max_len is not None and len(value) > max_len:
        raise invalid(f"`{key}` is longer than {max_len} characters")
    return value


def _optional(p: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {key: _str(p, key) for key in keys if p.get(key) is not None}


def _number(p: Mapping[str, Any], key: str, bound: float) -> float:
    value = p.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or abs(value) > bound:
        raise invalid(f"`{key}` must be a number within ±{bound}")
    return float(value)


def _list(p: Mapping[str, Any], key: str, least: int, most: int) -> list[Mapping[str, Any]]:
    value = p.get(key)
    if not isinstance(value, list) or not least <= len(value) <= most:
        raise invalid(f"`{key}` must be a list of {least} to {most} items")
    if not all(isinstance(item, Mapping) for item in value):
        raise invalid(f"`{key}` items must be objects")
    return value
