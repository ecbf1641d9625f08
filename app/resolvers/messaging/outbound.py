"""What sendMessage carries besides text and templates: media, a location, a reaction,
interactive buttons or a list. Each is checked field by field, so a userError names the input at fault; the limits
are Meta's (CLOUD_API.md), so what passes here is what the Cloud API accepts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.models.messaging import Conversation, Message, MessageType
from app.platform.ids import decode_id
from app.platform.user_errors import UserError, UserErrorCode, user_error

MEDIA_TYPES = (
    MessageType.IMAGE,
    MessageType.DOCUMENT,
    MessageType.AUDIO,
    MessageType.VIDEO,
    MessageType.STICKER,
)
_CAPTIONED = (MessageType.IMAGE, MessageType.DOCUMENT, MessageType.VIDEO)
MAX_CAPTION = 1024
MAX_FILENAME = 240
MAX_EMOJI = 16  # one emoji, even a family or a flag joined from several code points


@dataclass
class MediaContent:
    kind: MessageType
    link: str | None = None
    media_id: str | None = None
    caption: str | None = None
    filename: str | None = None
    media_file_id: str | None = None  # the global id of an uploaded MediaFile


@dataclass
class ReactionContent:
    message_id: str  # the global id of the message reacted to
    emoji: str


@dataclass
class ReplyButton:
    id: str
    title: str


@dataclass
class ListRow:
    id: str
    title: str
    description: str | None = None


@dataclass
class ListSection:
    rows: list[ListRow]
    title: str | None = None


@dataclass
class InteractiveContent:
    body: str
    header: str | None = None
    footer: str | None = None
    buttons: list[ReplyButton] | None = None
    list_button: str | None = None
    sections: list[ListSection] | None = None


@dataclass
class LocationContent:
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None


@dataclass
class Content:
    """A message ready to store: its type, the provider payload, and the inbox's text."""

    type: MessageType
    payload: dict[str, Any]
    body: str | None


@dataclass
class _Check:
    errors: list[UserError] = field(default_factory=list)

    def text(
        self, path: list[str], value: str | None, *, limit: int, required: bool = False
    ) -> str | None:
        if value is None or not value.strip():
            if required or value is not None:
                self.errors.append(
                    user_error(path, f"`{path[-1]}` must not be empty.", UserErrorCode.REQUIRED)
                )
            return None
        if len(value) > limit:
            self.errors.append(
                user_error(
                    path, f"`{path[-1]}` is at most {limit} characters.", UserErrorCode.INVALID
                )
            )
        return value

    def fail(self, path: list[str], message: str, code: UserErrorCode) -> None:
        self.errors.append(user_error(path, message, code))


def media_content(media: MediaContent) -> tuple[Content | None, list[UserError]]:
    check, at = _Check(), ["input", "media"]
    if media.kind not in MEDIA_TYPES:
        check.fail(
            [*at, "kind"],
            "Media is an IMAGE, DOCUMENT, AUDIO, VIDEO or STICKER.",
            UserErrorCode.INVALID,
        )
    sources = [media.link, media.media_id, media.media_file_id]
    if sum(source is not None for source in sources) != 1:
        check.fail(
            at, "Give exactly one of `link`, `mediaId` or `mediaFileId`.", UserErrorCode.INVALID
        )
    payload: dict[str, Any] = {}
    if media.link is not None:
        link = check.text([*at, "link"], media.link, limit=2048, required=True)
        if link is not None and not link.startswith(("https://", "http://")):
            check.fail([*at, "link"], "`link` must be an http(s) URL.", UserErrorCode.INVALID)
        payload["link"] = media.link
    if media.media_id is not None:
        check.text([*at, "mediaId"], media.media_id, limit=128, required=True)
        payload["id"] = media.media_id
    if media.caption is not None:
        if media.kind not in _CAPTIONED:
            check.fail(
                [*at, "caption"],
                f"{media.kind.value} messages have no caption.",
                UserErrorCode.INVALID,
            )
        elif check.text([*at, "caption"], media.caption, limit=MAX_CAPTION):
            payload["caption"] = media.caption
    if media.filename is not None:
        if media.kind is not MessageType.DOCUMENT:
            check.fail([*at, "filename"], "Only a DOCUMENT has a filename.", UserErrorCode.INVALID)
        elif check.text([*at, "filename"], media.filename, limit=MAX_FILENAME):
            payload["filename"] = media.filename
    if check.errors:
        return None, check.errors
    body = payload.get("caption") or payload.get("filename")
    return Content(media.kind, payload, body), []


def location_content(location: LocationContent) -> tuple[Content | None, list[UserError]]:
    check, at = _Check(), ["input", "location"]
    for key, value, bound in (
        ("latitude", location.latitude, 90),
        ("longitude", location.longitude, 180),
    ):
        if not -bound <= value <= bound:
            check.fail(
                [*at, key], f"`{key}` is between -{bound} and {bound}.", UserErrorCode.INVALID
            )
    payload: dict[str, Any] = {"latitude": location.latitude, "longitude": location.longitude}
    for key, text in (("name", location.name), ("address", location.address)):
        if text is not None and check.text([*at, key], text, limit=1000):
            payload[key] = text
    if check.errors:
        return None, check.errors
    return Content(MessageType.LOCATION, payload, location.name or location.address), []


def interactive_content(
    interactive: InteractiveContent,
) -> tuple[Content | None, list[UserError]]:
    check, at = _Check(), ["input", "interactive"]
    payload: dict[str, Any] = {
        "body": check.text([*at, "body"], interactive.body, limit=1024, required=True)
    }
    for key, value in (("header", interactive.header), ("footer", interactive.footer)):
        if value is not None and check.text([*at, key], value, limit=60):
            payload[key] = value
    if (interactive.buttons is None) == (interactive.sections is None):
        check.fail(at, "Give either `buttons` or `sections` (a list).", UserErrorCode.INVALID)
    elif interactive.buttons is not None:
        payload["buttons"] = _buttons(check, [*at, "buttons"], interactive.buttons)
        if interactive.list_button is not None:
            check.fail(
                [*at, "listButton"], "`listButton` goes with `sections`.", UserErrorCode.INVALID
            )
    elif interactive.sections is not None:
        payload["button"] = check.text(
            [*at, "listButton"], interactive.list_button, limit=20, required=True
        )
        payload["sections"] = _sections(check, [*at, "sections"], interactive.sections)
    if check.errors:
        return None, check.errors
    return Content(MessageType.INTERACTIVE, payload, interactive.body), []


def _buttons(check: _Check, at: list[str], buttons: list[ReplyButton]) -> list[dict[str, str]]:
    if not 1 <= len(buttons) <= 3:
        check.fail(at, "Give 1 to 3 reply buttons.", UserErrorCode.INVALID)
    for index, button in enumerate(buttons):
        check.text([*at, str(index), "id"], button.id, limit=256, required=True)
        check.text([*at, str(index), "title"], button.title, limit=20, required=True)
    ids = [button.id for button in buttons]
    if len(set(ids)) < len(ids):
        check.fail(at, "Each button needs its own `id`.", UserErrorCode.INVALID)
    return [{"id": button.id, "title": button.title} for button in buttons]


def _sections(check: _Check, at: list[str], sections: list[ListSection]) -> list[dict[str, Any]]:
    if not 1 <= len(sections) <= 10:
        check.fail(at, "Give 1 to 10 sections.", UserErrorCode.INVALID)
    rows = [row for section in sections for row in section.rows]
    if not 1 <= len(rows) <= 10:
        check.fail(at, "A list has 1 to 10 rows in all.", UserErrorCode.INVALID)
    if len({row.id for row in rows}) < len(rows):
        check.fail(at, "Each row needs its own `id`.", UserErrorCode.INVALID)
    built: list[dict[str, Any]] = []
    for s, section in enumerate(sections):
        where = [*at, str(s)]
        entry: dict[str, Any] = {"rows": []}
        if section.title is not None or len(sections) > 1:
            entry["title"] = check.text(
                [*where, "title"], section.title, limit=24, required=len(sections) > 1
            )
        for r, row in enumerate(section.rows):
            place = [*where, "rows", str(r)]
            item = {
                "id": check.text([*place, "id"], row.id, limit=200, required=True),
                "title": check.text([*place, "title"], row.title, limit=24, required=True),
            }
            if row.description is not None:
                item["description"] = check.text([*place, "description"], row.description, limit=72)
            entry["rows"].append(item)
        built.append(entry)
    return built


async def reaction_content(
    conversation: Conversation, reaction: ReactionContent
) -> tuple[Content | None, list[UserError]]:
    at = ["input", "reaction"]
    if len(reaction.emoji) > MAX_EMOJI or reaction.emoji.strip() != reaction.emoji:
        return None, [
            user_error(
                [*at, "emoji"],
                "`emoji` is one emoji, or empty to remove the reaction.",
                UserErrorCode.INVALID,
            )
        ]
    pk = decode_id(reaction.message_id, "Message", field=("input", "reaction", "messageId"))
    target = await Message.get_or_none(
        id=pk, organization_id=conversation.organization_id, conversation_id=conversation.id
    )
    if target is None:
        return None, [
            user_error(
                [*at, "messageId"], "No such message in this conversation.", UserErrorCode.NOT_FOUND
            )
        ]
    if target.provider_message_id is None:
        return None, [
            user_error(
                [*at, "messageId"],
                f"That message has not reached WhatsApp ({target.status.value}); only a message "
                "WhatsApp has can get a reaction.",
                UserErrorCode.CONFLICT,
            )
        ]
    payload = {"message_id": target.provider_message_id, "emoji": reaction.emoji}
    return Content(MessageType.REACTION, payload, reaction.emoji or None), []
