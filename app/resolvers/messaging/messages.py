"""sendMessage and simulateInboundMessage."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from app.messaging import canned_responses, template_messages
from app.messaging.phones import to_e164
from app.messaging.pipeline import (
    SendRefused,
    check_sendable,
    conversation_for,
    queue_outbound,
    receive_inbound,
)
from app.messaging.providers import wire_type
from app.messaging.reactions import attach_reaction
from app.messaging.senders import contact_for
from app.messaging.template_messages import ButtonValue, HeaderValue, Problem, TemplateValues
from app.models.inbox import CannedResponse
from app.models.media import MediaFile
from app.models.messaging import (
    Contact,
    Conversation,
    Device,
    Direction,
    Message,
    MessageType,
    Provider,
    Template,
    TemplateStatus,
)
from app.platform import clock, events
from app.platform.context import Info
from app.platform.ids import decode_id, to_global_id
from app.platform.scope import organization_id
from app.platform.user_errors import UserError, UserErrorCode, user_error
from app.resolvers.messaging.devices import bad_phone, find_device, not_found
from app.resolvers.messaging.outbound import (
    Content,
    InteractiveContent,
    LocationContent,
    MediaContent,
    ReactionContent,
    interactive_content,
    location_content,
    media_content,
    reaction_content,
)
from app.whatsapp.content import Content as InboundContent
from app.whatsapp.content import content_of
from app.whatsapp.errors import ProviderError
from app.whatsapp.payloads import check_send_body
from app.whatsapp.types import InboundMessage, InboundType, OutboundMessage

MAX_TEXT = 4096


@dataclass
class TemplateContent:
    name: str
    language: str
    parameters: list[str] = field(default_factory=list)
    header: TemplateHeader | None = None
    buttons: list[ButtonValue] = field(default_factory=list)
    one_time_code: str | None = None


@dataclass
class TemplateHeader:
    """As given: the media file is a global id until it is checked."""

    text: str | None = None
    link: str | None = None
    media_file_id: str | None = None


async def template_values(
    device: Device, content: TemplateContent, path: list[str]
) -> tuple[TemplateValues | None, list[UserError]]:
    """The values of a template input, its media file looked up among the device's
    organization's files (sendMessage, campaigns)."""
    header: HeaderValue | None = None
    if content.header is not None:
        media_pk = None
        if content.header.media_file_id is not None:
            media_pk = decode_id(
                content.header.media_file_id, "MediaFile", field=(*path, "header", "mediaFileId")
            )
            if not await MediaFile.exists(id=media_pk, organization_id=device.organization_id):
                return None, [
                    user_error(
                        [*path, "header", "mediaFileId"],
                        "No such media file.",
                        UserErrorCode.NOT_FOUND,
                    )
                ]
        header = HeaderValue(content.header.text, content.header.link, media_pk)
    values = TemplateValues(
        list(content.parameters), header, list(content.buttons), content.one_time_code
    )
    return values, []


def template_errors(problems: list[Problem], path: list[str]) -> list[UserError]:
    return [
        user_error([*path, *map(str, problem.path)], problem.message, UserErrorCode.INVALID)
        for problem in problems
    ]


async def send_message(
    info: Info,
    *,
    device_id: str | None,
    to: str | None,
    conversation_id: str | None,
    text: str | None,
    template: TemplateContent | None,
    client_message_id: str | None,
    media: MediaContent | None = None,
    reaction: ReactionContent | None = None,
    interactive: InteractiveContent | None = None,
    location: LocationContent | None = None,
    reply_to_message_id: str | None = None,
    canned_response_id: str | None = None,
) -> tuple[Message | None, list[UserError]]:
    org_id = organization_id(info)
    if client_message_id is not None:
        existing = await Message.get_or_none(
            organization_id=org_id, client_message_id=client_message_id
        )
        if existing is not None:
            return existing, []  # the same request again: same message, no second send

    given = [
        name
        for name, value in (
            ("text", text),
            ("template", template),
            ("media", media),
            ("reaction", reaction),
            ("interactive", interactive),
            ("location", location),
            ("cannedResponseId", canned_response_id),
        )
        if value is not None
    ]
    if len(given) != 1:
        return None, [
            user_error(
                given[1] if len(given) > 1 else "text",
                "Give exactly one of `text`, `cannedResponseId`, `template`, `media`, "
                "`location`, `reaction` or `interactive`.",
                UserErrorCode.INVALID,
            )
        ]
    [kind_field] = given
    if text is not None and not (len(text.strip()) > 0 and len(text) <= MAX_TEXT):
        return None, [
            user_error("text", f"Text must be 1 to {MAX_TEXT} characters.", UserErrorCode.INVALID)
        ]
    content: Content | None = None
    if media is not None:
        content, errors = media_content(media)
    elif interactive is not None:
        content, errors = interactive_content(interactive)
    elif location is not None:
        content, errors = location_content(location)
    else:
        errors = []
    if errors:
        return None, errors
    media_file: MediaFile | None = None
    if media is not None and media.media_file_id is not None and content is not None:
        media_file, errors = await _media_file(org_id, media)
        if media_file is None:
            return None, errors
        named = media_file.file_name
        if named and media.kind is MessageType.DOCUMENT and "filename" not in content.payload:
            content.payload["filename"] = named
            content.body = content.body or named

    conversation, errors = await _resolve_conversation(info, device_id, to, conversation_id)
    if conversation is None:
        return None, errors
    device = await Device.get(id=conversation.device_id)
    try:
        check_sendable(device, conversation, free_form=template is None, field=kind_field)
    except SendRefused as refused:
        return None, [user_error(refused.field, str(refused), UserErrorCode.CONFLICT)]
    template_payload: dict[str, Any] | None = None
    if template is not None:
        template_payload, errors = await _template_payload(device, template)
        if template_payload is None:
            return None, errors
    if reaction is not None:
        content, errors = await reaction_content(conversation, reaction)
        if content is None:
            return None, errors
    if canned_response_id is not None:
        text, errors = await _canned_text(info, conversation, canned_response_id)
        if text is None:
            return None, errors
    reply_to, errors = await _reply_to(conversation, reply_to_message_id)
    if errors:
        return None, errors

    if template_payload is not None:
        content = Content(MessageType.TEMPLATE, template_payload, None)
    elif text is not None:
        content = Content(MessageType.TEXT, {"body": text}, text)
    assert content is not None
    problem = await _provider_problem(
        conversation, content, kind_field, uploads_file=media_file is not None
    )
    if problem:
        return None, [problem]
    viewer = info.context.viewer
    assert viewer is not None
    message = await queue_outbound(
        info.context.runtime,
        conversation,
        device,
        kind=content.type,
        body=content.body,
        payload=content.payload,
        client_message_id=client_message_id,
        author_user_id=viewer.user.id,
        reply_to_id=reply_to.id if reply_to is not None else None,
        media_id=media_file.id if media_file is not None else None,
    )
    if reaction is not None:
        await _attach_outbound_reaction(info, device, message)
    return message, []


async def _attach_outbound_reaction(info: Info, device: Device, message: Message) -> None:
    """The business's reaction shows on the message it reacts to (``Message.reactions``)."""
    target = await Message.get_or_none(
        device_id=device.id, provider_message_id=message.payload["message_id"]
    )
    if target is None:
        return
    emoji = str(message.payload.get("emoji") or "")
    async with events.transaction():
        if await attach_reaction(target, Direction.OUTBOUND, emoji, message.created_at):
            await events.publish(
                info.context.runtime.broker, events.MessageEvent.of(target, "UPDATED")
            )


async def _reply_to(
    conversation: Conversation, reply_to_message_id: str | None
) -> tuple[Message | None, list[UserError]]:
    """The message a reply quotes: one of this conversation that reached WhatsApp."""
    if reply_to_message_id is None:
        return None, []
    at = ["input", "replyToMessageId"]
    pk = decode_id(reply_to_message_id, "Message", field=tuple(at))
    quoted = await Message.get_or_none(
        id=pk, organization_id=conversation.organization_id, conversation_id=conversation.id
    )
    if quoted is None:
        return None, [
            user_error(at, "No such message in this conversation.", UserErrorCode.NOT_FOUND)
        ]
    if quoted.provider_message_id is None:
        return None, [
            user_error(
                at,
                f"That message has not reached WhatsApp ({quoted.status.value}); only a message "
                "WhatsApp has can be quoted.",
                UserErrorCode.CONFLICT,
            )
        ]
    return quoted, []


async def _canned_text(
    info: Info, conversation: Conversation, canned_response_id: str
) -> tuple[str | None, list[UserError]]:
    at = ["input", "cannedResponseId"]
    pk = decode_id(canned_response_id, "CannedResponse", field=tuple(at))
    canned = await CannedResponse.get_or_none(id=pk, organization_id=conversation.organization_id)
    if canned is None:
        return None, [user_error(at, "No such canned response.", UserErrorCode.NOT_FOUND)]
    contact = await Contact.get(id=conversation.contact_id)
    viewer = info.context.viewer
    assert viewer is not None
    rendered = canned_responses.render(canned.body, contact, viewer.user)
    if rendered.missing:
        names = ", ".join(f"{{{{{name}}}}}" for name in rendered.missing)
        return None, [
            user_error(
                at,
                f"No value for {names}: fill it in (e.g. the contact's name or attribute) or "
                "write the message yourself.",
                UserErrorCode.INVALID,
            )
        ]
    if not rendered.text.strip() or len(rendered.text) > MAX_TEXT:
        return None, [
            user_error(
                at, f"The rendered text must be 1 to {MAX_TEXT} characters.", UserErrorCode.INVALID
            )
        ]
    return rendered.text, []


async def _media_file(org_id: int, media: MediaContent) -> tuple[MediaFile | None, list[UserError]]:
    """The organization's uploaded file a media message names, of the kind it is sent as."""
    at = ["input", "media", "mediaFileId"]
    assert media.media_file_id is not None
    pk = decode_id(media.media_file_id, "MediaFile", field=tuple(at))
    media_file = await MediaFile.get_or_none(id=pk, organization_id=org_id)
    if media_file is None:
        return None, [user_error(at, "No such file.", UserErrorCode.NOT_FOUND)]
    if media_file.kind.value != media.kind.value:
        return None, [
            user_error(
                ["input", "media", "kind"],
                f"This file is {media_file.kind.value} ({media_file.mime_type}); send it with "
                f"kind {media_file.kind.value}.",
                UserErrorCode.INVALID,
            )
        ]
    return media_file, []


async def _provider_problem(
    conversation: Conversation, content: Content, kind_field: str, *, uploads_file: bool
) -> UserError | None:
    """The providers' own check of the request body, so nothing is queued that they refuse.

    A file of Parley's (the media sent, or a template's media header) gets Meta's id only in
    the send job, which uploads it first: the check leaves that id out and checks the rest."""
    contact = await Contact.get(id=conversation.contact_id)
    outbound = OutboundMessage(
        to=contact.phone_number or "",
        recipient=contact.user_id,
        type=wire_type(content.type),
        payload=content.payload,
    )
    try:
        check_send_body(outbound, upload_pending=uploads_file or _header_file(content))
    except ProviderError as error:
        return user_error(kind_field, error.message, UserErrorCode.INVALID)
    return None


def _header_file(content: Content) -> bool:
    """A template whose media header names a file of Parley's (``stored_header``)."""
    header = content.payload.get("header")
    return isinstance(header, dict) and header.get("media_file_id") is not None


_TEMPLATE_PATH = ["input", "template"]


async def _template_payload(
    device: Device, template: TemplateContent
) -> tuple[dict[str, Any] | None, list[UserError]]:
    """The message's payload, the input checked against the device's stored template; an
    unknown name goes through (Meta's `hello_world`, or a template not synced yet: Meta
    answers 132001)."""
    values, errors = await template_values(device, template, _TEMPLATE_PATH)
    if values is None:
        return None, errors
    stored = await Template.get_or_none(
        device_id=device.id, name=template.name, language=template.language
    )
    if stored is not None and (refusal := sendable_problem(device, stored)):
        return None, [user_error([*_TEMPLATE_PATH, "name"], refusal, UserErrorCode.CONFLICT)]
    problems = template_messages.check(stored, values)
    if needed := template_messages.header_format_needed(values, stored):
        problems.append(needed)
    if problems:
        return None, template_errors(problems, _TEMPLATE_PATH)
    return template_messages.payload(template.name, template.language, values, stored), []


def sendable_problem(device: Device, template: Template) -> str | None:
    """Why Meta's verdict on ``template`` forbids sending it. A CLOUD_API template still
    PENDING here goes: Meta may have approved it since (a webhook not received yet), and
    Meta answers a send of one it has not approved with an error on the message."""
    if template.status is TemplateStatus.APPROVED:
        return None
    if template.status is TemplateStatus.PENDING and device.provider is Provider.CLOUD_API:
        return None
    return f"The template is {template.status.value}; only APPROVED templates can be sent."


async def _resolve_conversation(
    info: Info, device_id: str | None, to: str | None, conversation_id: str | None
) -> tuple[Conversation | None, list[UserError]]:
    org_id = organization_id(info)
    if conversation_id is not None:
        pk = decode_id(conversation_id, "Conversation", field=("input", "conversationId"))
        conversation = await Conversation.get_or_none(id=pk, organization_id=org_id)
        if conversation is None:
            return None, [not_found("conversationId", "conversation")]
        return conversation, []
    if device_id is None or to is None:
        return None, [
            user_error(
                "conversationId",
                "Give `conversationId`, or `deviceId` and `to`.",
                UserErrorCode.REQUIRED,
            )
        ]
    device = await find_device(info, device_id)
    if device is None:
        return None, [not_found("deviceId")]
    e164 = to_e164(to)
    if e164 is None:
        return None, [bad_phone("to")]
    contact = await contact_for(org_id, e164)
    conversation, _ = await conversation_for(info.context.runtime.broker, device, contact)
    return conversation, []


async def simulate_inbound(
    info: Info,
    *,
    device_id: str,
    sender: str,
    text: str | None,
    name: str | None,
    media_file_id: str | None = None,
) -> tuple[Message | None, list[UserError]]:
    device = await find_device(info, device_id)
    if device is None:
        return None, [not_found("deviceId")]
    if device.provider is not Provider.SANDBOX:
        return None, [
            user_error(
                "deviceId", "Only SANDBOX devices can simulate messages.", UserErrorCode.INVALID
            )
        ]
    e164 = to_e164(sender)
    if e164 is None:
        return None, [bad_phone("from")]
    if (text is None and media_file_id is None) or (
        text is not None and (not text.strip() or len(text) > MAX_TEXT)
    ):
        return None, [
            user_error("text", f"Text must be 1 to {MAX_TEXT} characters.", UserErrorCode.INVALID)
        ]
    media_file: MediaFile | None = None
    if media_file_id is not None:
        pk = decode_id(media_file_id, "MediaFile", field=("input", "mediaFileId"))
        media_file = await MediaFile.get_or_none(id=pk, organization_id=organization_id(info))
        if media_file is None:
            return None, [not_found("mediaFileId", "file")]
    raw, content = _simulated_content(text, media_file)
    inbound = InboundMessage(
        phone_number_id=device.phone_number_id or "",
        from_wa_id=e164.removeprefix("+"),
        provider_message_id=f"wamid.SANDBOX.IN.{uuid.uuid4()}",
        timestamp=clock.now(),
        type=InboundType(raw["type"]),
        profile_name=name,
        text=content.body,
        raw=raw,
        content=content.payload,
    )
    runtime = info.context.runtime
    message = await receive_inbound(
        runtime.settings,
        runtime.broker,
        device,
        inbound,
        media_id=media_file.id if media_file is not None else None,
    )
    return message, []


async def react_to_message(
    info: Info, *, message_id: str, emoji: str, client_message_id: str | None = None
) -> tuple[Message | None, list[UserError]]:
    """Send the business's reaction to a message (an empty emoji removes it) through the
    normal send path; returns the message reacted to, which shows it in ``reactions``."""
    pk = decode_id(message_id, "Message", field=("input", "messageId"))
    target = await Message.get_or_none(id=pk, organization_id=organization_id(info))
    if target is None:
        return None, [user_error("messageId", "No such message.", UserErrorCode.NOT_FOUND)]
    sent, errors = await send_message(
        info,
        device_id=None,
        to=None,
        conversation_id=to_global_id("Conversation", target.conversation_id),
        text=None,
        template=None,
        client_message_id=client_message_id,
        reaction=ReactionContent(message_id, emoji),
    )
    if sent is None:
        return None, [_as_react_error(error) for error in errors]
    await target.refresh_from_db()
    return target, []


def _as_react_error(error: UserError) -> UserError:
    """sendMessage's errors name `input.reaction.*`; reactToMessage's input has them flat."""
    path = error.field
    if path and path[:2] == ["input", "reaction"]:
        path = ["input", *path[2:]]
    elif path == ["input", "reaction"]:
        path = ["input", "emoji"]
    return UserError(field=path, message=error.message, code=error.code)


def _simulated_content(
    text: str | None, media_file: MediaFile | None
) -> tuple[dict[str, Any], InboundContent]:
    """The message object Meta would send for a sandbox customer's text or file."""
    if media_file is None:
        raw: dict[str, Any] = {"type": "text", "text": {"body": text}}
        return raw, content_of(raw)
    kind = media_file.kind.value.lower()
    media: dict[str, Any] = {
        "id": f"SANDBOX.{media_file.sha256[:32]}",
        "mime_type": media_file.mime_type,
        "sha256": media_file.sha256,
    }
    if text is not None and kind in ("image", "video", "document"):
        media["caption"] = text
    if kind == "document" and media_file.file_name:
        media["filename"] = media_file.file_name
    if kind == "audio" and media_file.mime_type == "audio/ogg":
        media["voice"] = True
    raw = {"type": kind, kind: media}
    return raw, content_of(raw)
