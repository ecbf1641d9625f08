"""sendMessage and simulateInboundMessage."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from app.messaging import template_messages
from app.messaging.phones import to_e164
from app.messaging.pipeline import (
    SendRefused,
    check_sendable,
    contact_for,
    conversation_for,
    queue_outbound,
    receive_inbound,
)
from app.messaging.providers import wire_type
from app.messaging.template_messages import ButtonValue, HeaderValue, Problem, TemplateValues
from app.models.messaging import (
    Contact,
    Conversation,
    Device,
    Message,
    MessageType,
    Provider,
    Template,
    TemplateStatus,
)
from app.platform import clock
from app.platform.context import Info
from app.platform.ids import decode_id
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
from app.whatsapp.errors import ProviderError
from app.whatsapp.payloads import build_send_body
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
    content: TemplateContent, path: list[str]
) -> tuple[TemplateValues | None, list[UserError]]:
    """The values of a template input, its media file looked up (sendMessage, campaigns)."""
    header: HeaderValue | None = None
    if content.header is not None:
        media_pk = None
        if content.header.media_file_id is not None:
            media_pk = decode_id(
                content.header.media_file_id, "MediaFile", field=(*path, "header", "mediaFileId")
            )
            if not await media_file_exists(media_pk):
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


async def media_file_exists(pk: int) -> bool:
    """Whether a media file of the organization has this id. Media files (uploadMedia) come
    with the media pipeline; until it is merged no id names one."""
    return False


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
        )
        if value is not None
    ]
    if len(given) != 1:
        return None, [
            user_error(
                given[1] if len(given) > 1 else "text",
                "Give exactly one of `text`, `template`, `media`, `location`, `reaction` or "
                "`interactive`.",
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

    if template_payload is not None:
        content = Content(MessageType.TEMPLATE, template_payload, None)
    elif text is not None:
        content = Content(MessageType.TEXT, {"body": text}, text)
    assert content is not None
    if problem := await _provider_problem(conversation, content, kind_field):
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
    )
    return message, []


async def _provider_problem(
    conversation: Conversation, content: Content, kind_field: str
) -> UserError | None:
    """The providers' own check of the request body, so nothing is queued that they refuse."""
    contact = await Contact.get(id=conversation.contact_id)
    outbound = OutboundMessage(
        to=contact.phone_number, type=wire_type(content.type), payload=content.payload
    )
    try:
        build_send_body(outbound)
    except ProviderError as error:
        return user_error(kind_field, error.message, UserErrorCode.INVALID)
    return None


_TEMPLATE_PATH = ["input", "template"]


async def _template_payload(
    device: Device, template: TemplateContent
) -> tuple[dict[str, Any] | None, list[UserError]]:
    """The message's payload, the input checked against the device's stored template; an
    unknown name goes through (Meta's `hello_world`, or a template not synced yet: Meta
    answers 132001)."""
    values, errors = await template_values(template, _TEMPLATE_PATH)
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
    info: Info, *, device_id: str, sender: str, text: str, name: str | None
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
    if not text.strip() or len(text) > MAX_TEXT:
        return None, [
            user_error("text", f"Text must be 1 to {MAX_TEXT} characters.", UserErrorCode.INVALID)
        ]
    inbound = InboundMessage(
        phone_number_id=device.phone_number_id or "",
        from_wa_id=e164.removeprefix("+"),
        provider_message_id=f"wamid.SANDBOX.IN.{uuid.uuid4()}",
        timestamp=clock.now(),
        type=InboundType.TEXT,
        profile_name=name,
        text=text,
        raw={"type": "text", "text": {"body": text}},
        content={"body": text},
    )
    runtime = info.context.runtime
    message = await receive_inbound(runtime.settings, runtime.broker, device, inbound)
    return message, []
