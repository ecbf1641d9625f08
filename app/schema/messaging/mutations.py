"""Messaging mutations: one `input`, a payload with `userErrors`."""

from __future__ import annotations

from enum import Enum
from typing import Any, cast

import strawberry
from strawberry.file_uploads import Upload
from strawberry.scalars import JSON

from app.messaging.template_messages import ButtonValue
from app.models.accounts import Role
from app.models.messaging import MessageType as MessageTypeModel
from app.models.messaging import Provider as ProviderModel
from app.platform.context import Info
from app.platform.ids import to_global_id
from app.resolvers.messaging import contacts, devices, inbox, messages, outbound, templates
from app.schema.media.types import MediaKind
from app.schema.messaging.types import (
    Contact,
    ContactImport,
    Conversation,
    Device,
    Message,
    Provider,
    Template,
)
from app.schema.permissions import HasRole
from app.schema.user_errors import UserError


@strawberry.input(description="Meta Cloud API credentials of a number.")
class CloudApiCredentialsInput:
    phone_number_id: str | None = strawberry.field(
        default=None, description="The number's id at Meta."
    )
    access_token: str | None = strawberry.field(
        default=None, description="A system-user access token (stored encrypted)."
    )
    app_secret: str | None = strawberry.field(
        default=None, description="The app secret that signs webhooks (stored encrypted)."
    )
    verify_token: str | None = strawberry.field(
        default=None, description="The webhook verify token; generated when not given."
    )
    waba_id: str | None = strawberry.field(
        default=None,
        description="The WhatsApp Business Account id, whose templates syncTemplates pulls.",
    )
    app_id: str | None = strawberry.field(
        default=None,
        description="The Meta app id: createTemplate uploads media header samples through "
        "its resumable upload API.",
    )

    def to_credentials(self) -> devices.CloudApiCredentials:
        return devices.CloudApiCredentials(
            self.phone_number_id,
            self.access_token,
            self.app_secret,
            self.verify_token,
            self.waba_id,
            self.app_id,
        )


@strawberry.input(description="A new WhatsApp number.")
class CreateDeviceInput:
    name: str = strawberry.field(description="A name for people.")
    phone_number: str = strawberry.field(description="The number in E.164.")
    provider: Provider = strawberry.field(description="SANDBOX or CLOUD_API.")
    cloud_api: CloudApiCredentialsInput | None = strawberry.field(
        default=None, description="Required for CLOUD_API."
    )
    messages_per_second: int | None = strawberry.field(
        default=None, description="Throughput cap; default 80."
    )
    requires_pairing: bool = strawberry.field(
        default=False,
        description="SANDBOX only: connectDevice shows a QR code (QR_REQUIRED) and the device "
        "connects when simulateQrScan scans it.",
    )


@strawberry.type(description="The result of createDevice.")
class CreateDevicePayload:
    device: Device | None = strawberry.field(description="The new device.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing was created.")


@strawberry.input(description="Changes to a device; fields left out stay as they are.")
class UpdateDeviceInput:
    device_id: strawberry.ID = strawberry.field(description="The device.")
    name: str | None = strawberry.field(default=None, description="A new name.")
    messages_per_second: int | None = strawberry.field(
        default=None, description="A new throughput cap."
    )
    cloud_api: CloudApiCredentialsInput | None = strawberry.field(
        default=None, description="Credentials to replace (only those given)."
    )


@strawberry.type(description="The result of updateDevice.")
class UpdateDevicePayload:
    device: Device | None = strawberry.field(description="The device as it is now.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.input(description="The device to delete, with its conversations and messages.")
class DeleteDeviceInput:
    device_id: strawberry.ID = strawberry.field(description="The device.")


@strawberry.type(description="The result of deleteDevice.")
class DeleteDevicePayload:
    deleted_device_id: strawberry.ID | None = strawberry.field(description="The deleted device.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing was deleted.")


@strawberry.input(description="The device to connect.")
class ConnectDeviceInput:
    device_id: strawberry.ID = strawberry.field(description="The device.")


@strawberry.type(description="The result of connectDevice.")
class ConnectDevicePayload:
    device: Device | None = strawberry.field(description="The device as it is now.")
    user_errors: list[UserError] = strawberry.field(description="Why it did not connect.")


@strawberry.input(description="The phone scanning a pairing SANDBOX device's QR code.")
class SimulateQrScanInput:
    device_id: strawberry.ID = strawberry.field(description="A SANDBOX device in QR_REQUIRED.")
    qr_code: str = strawberry.field(description="The code scanned: the device's `qrCode` now.")


@strawberry.type(description="The result of simulateQrScan.")
class SimulateQrScanPayload:
    device: Device | None = strawberry.field(description="The device as it is now.")
    user_errors: list[UserError] = strawberry.field(
        description="Why it did not pair (a replaced or expired code names `qrCode`)."
    )


@strawberry.input(description="A new contact.")
class CreateContactInput:
    phone_number: str = strawberry.field(description="The number in E.164.")
    name: str | None = strawberry.field(default=None, description="Display name.")
    tags: list[str] | None = strawberry.field(default=None, description="Labels.")
    attributes: JSON | None = strawberry.field(
        default=None, description="Custom attributes (a JSON object)."
    )


@strawberry.type(description="The result of createContact.")
class CreateContactPayload:
    contact: Contact | None = strawberry.field(description="The new contact.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing was created.")


@strawberry.input(
    description="Contacts as CSV, text (`csv`) or an uploaded file (`file`): columns "
    "`phone_number` (required), `name`, `tags` (`;`-separated); any other column becomes a "
    "custom attribute."
)
class ImportContactsInput:
    csv: str | None = strawberry.field(
        default=None, description="The CSV as text, its first line naming the columns."
    )
    file: Upload | None = strawberry.field(
        default=None,
        description="The CSV as an uploaded file (UTF-8; GraphQL multipart request), instead "
        "of `csv`.",
    )


@strawberry.type(description="The result of importContacts: the queued import.")
class ImportContactsPayload:
    contact_import: ContactImport | None = strawberry.field(
        description="The import; poll it with `node(id:)` until COMPLETED."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing was queued.")


@strawberry.input(description="A message template of one device.")
class CreateTemplateInput:
    device_id: strawberry.ID = strawberry.field(description="The device it belongs to.")
    name: str = strawberry.field(description="Lower-case letters, digits and `_`.")
    language: str = strawberry.field(description="Language code, e.g. `en_US`.")
    category: str = strawberry.field(description="MARKETING, UTILITY or AUTHENTICATION.")
    components: JSON = strawberry.field(
        description='Meta\'s components, e.g. `[{"type": "BODY", "text": "Hi {{1}}", '
        '"example": {"body_text": [["Ana"]]}}]`: HEADER (TEXT, IMAGE, VIDEO, DOCUMENT), BODY, '
        "FOOTER, BUTTONS (QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE, OTP)."
    )
    header_sample: Upload | None = strawberry.field(
        default=None,
        description="CLOUD_API: the example file of an IMAGE (jpeg/png), VIDEO (mp4) or "
        "DOCUMENT (pdf) header, uploaded to Meta as the header's `header_handle`.",
    )


@strawberry.type(description="The result of createTemplate.")
class CreateTemplatePayload:
    template: Template | None = strawberry.field(description="The new template.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing was created.")


@strawberry.input(description="The template to act on.")
class TemplateIdInput:
    template_id: strawberry.ID = strawberry.field(description="The template.")


@strawberry.type(description="The result of deleteTemplate.")
class DeleteTemplatePayload:
    deleted_template_id: strawberry.ID | None = strawberry.field(
        description="The id of the deleted template."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing was deleted.")


@strawberry.input(description="The conversation to act on.")
class ConversationIdInput:
    conversation_id: strawberry.ID = strawberry.field(description="The conversation.")


@strawberry.type(description="The result of sendTypingIndicator.")
class SendTypingIndicatorPayload:
    conversation: Conversation | None = strawberry.field(description="The conversation.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing was shown.")


@strawberry.input(description="The CLOUD_API device whose templates to pull from Meta.")
class SyncTemplatesInput:
    device_id: strawberry.ID = strawberry.field(description="The device.")


@strawberry.type(description="The result of syncTemplates: the sync job is queued.")
class SyncTemplatesPayload:
    device: Device | None = strawberry.field(description="The device being synced.")
    user_errors: list[UserError] = strawberry.field(description="Why no sync was queued.")


@strawberry.input(
    description="The template's header parameter: `text` for a TEXT header with a variable, or "
    "the media of an IMAGE, VIDEO or DOCUMENT header by `link` or `mediaFileId`."
)
class TemplateHeaderInput:
    text: str | None = strawberry.field(default=None, description="The header's variable.")
    media_file_id: strawberry.ID | None = strawberry.field(
        default=None, description="A file uploaded with uploadMedia."
    )
    link: str | None = strawberry.field(
        default=None, description="An http(s) URL Meta downloads the media from."
    )

    def to_content(self) -> messages.TemplateHeader:
        media = str(self.media_file_id) if self.media_file_id is not None else None
        return messages.TemplateHeader(self.text, self.link, media)


@strawberry.enum(description="The kind of template button a parameter fills.")
class TemplateButtonSubType(Enum):
    URL = "URL"  # the variable suffix of a URL button (also an OTP button's code)
    QUICK_REPLY = "QUICK_REPLY"  # the payload a tap sends back
    COPY_CODE = "COPY_CODE"  # the coupon code a tap copies


@strawberry.input(description="A parameter of one of the template's buttons.")
class TemplateButtonInput:
    index: int = strawberry.field(description="The button's position in the template, from 0.")
    sub_type: TemplateButtonSubType = strawberry.field(description="URL, QUICK_REPLY or COPY_CODE.")
    parameter: str = strawberry.field(
        description="The URL suffix, the quick reply's payload, or the code to copy."
    )

    def to_value(self) -> ButtonValue:
        return ButtonValue(self.index, self.sub_type.value, self.parameter)


@strawberry.input(description="A template message: body parameters, header and buttons.")
class TemplateMessageInput:
    name: str = strawberry.field(description="Template name at Meta.")
    language: str = strawberry.field(description="Language code, e.g. `en_US`.")
    parameters: list[str] | None = strawberry.field(
        default=None, description="Values of the body's `{{1}}`, `{{2}}`, ... in order."
    )
    header: TemplateHeaderInput | None = strawberry.field(
        default=None, description="The header's parameter, when the template's header has one."
    )
    buttons: list[TemplateButtonInput] | None = strawberry.field(
        default=None, description="Parameters of the template's buttons, by index."
    )
    one_time_code: str | None = strawberry.field(
        default=None,
        description="AUTHENTICATION templates: the code, sent as the body's parameter and as "
        "the OTP button's (give no `parameters` then).",
    )

    def to_content(self) -> messages.TemplateContent:
        return messages.TemplateContent(
            self.name,
            self.language,
            list(self.parameters or []),
            self.header.to_content() if self.header is not None else None,
            [button.to_value() for button in self.buttons or []],
            self.one_time_code,
        )


@strawberry.input(
    description="A media message: exactly one of `mediaFileId` (a file stored with "
    "`uploadMedia`; Parley uploads it to Meta), a public `link` Meta downloads, or the "
    "`mediaId` of a file uploaded to Meta."
)
class MediaMessageInput:
    kind: MediaKind = strawberry.field(description="IMAGE, DOCUMENT, AUDIO, VIDEO or STICKER.")
    link: str | None = strawberry.field(default=None, description="An http(s) URL of the file.")
    media_id: str | None = strawberry.field(
        default=None, description="The id Meta gave an uploaded file."
    )
    caption: str | None = strawberry.field(
        default=None, description="Text under an IMAGE, VIDEO or DOCUMENT (1,024 characters)."
    )
    filename: str | None = strawberry.field(
        default=None,
        description="The name a DOCUMENT shows, e.g. `invoice.pdf` (default: the uploaded "
        "file's name).",
    )
    media_file_id: strawberry.ID | None = strawberry.field(
        default=None, description="A file stored with `uploadMedia`, of this `kind`."
    )

    def to_content(self) -> outbound.MediaContent:
        return outbound.MediaContent(
            MessageTypeModel(self.kind.value),
            self.link,
            self.media_id,
            self.caption,
            self.filename,
            self.media_file_id,
        )


@strawberry.input(description="A pin on the map.")
class LocationMessageInput:
    latitude: float = strawberry.field(description="Degrees, -90 to 90.")
    longitude: float = strawberry.field(description="Degrees, -180 to 180.")
    name: str | None = strawberry.field(default=None, description="The place's name.")
    address: str | None = strawberry.field(default=None, description="The place's address.")

    def to_content(self) -> outbound.LocationContent:
        return outbound.LocationContent(self.latitude, self.longitude, self.name, self.address)


@strawberry.input(description="An emoji reaction to a message of the conversation.")
class ReactionMessageInput:
    message_id: strawberry.ID = strawberry.field(
        description="The message reacted to (it must have reached WhatsApp)."
    )
    emoji: str = strawberry.field(description="One emoji; an empty string removes the reaction.")


@strawberry.input(description="A reply button (up to 3 per message).")
class ReplyButtonInput:
    id: str = strawberry.field(description="Sent back when tapped (256 characters).")
    title: str = strawberry.field(description="The button's label (20 characters).")


@strawberry.input(description="A row of an interactive list.")
class ListRowInput:
    id: str = strawberry.field(description="Sent back when chosen (200 characters).")
    title: str = strawberry.field(description="The row's label (24 characters).")
    description: str | None = strawberry.field(
        default=None, description="A line under the title (72 characters)."
    )


@strawberry.input(description="A section of an interactive list.")
class ListSectionInput:
    title: str | None = strawberry.field(
        default=None, description="Required when there is more than one section (24 characters)."
    )
    rows: list[ListRowInput] = strawberry.field(description="Rows; 10 at most in the whole list.")


@strawberry.input(
    description="An interactive message: `body` with either reply `buttons`, or a list "
    "(`listButton` opens `sections`)."
)
class InteractiveMessageInput:
    body: str = strawberry.field(description="The message text (1,024 characters).")
    header: str | None = strawberry.field(default=None, description="A text header (60).")
    footer: str | None = strawberry.field(default=None, description="A text footer (60).")
    buttons: list[ReplyButtonInput] | None = strawberry.field(
        default=None, description="1 to 3 reply buttons."
    )
    list_button: str | None = strawberry.field(
        default=None, description="The label of the button that opens the list (20)."
    )
    sections: list[ListSectionInput] | None = strawberry.field(
        default=None, description="The list's sections."
    )

    def to_content(self) -> outbound.InteractiveContent:
        return outbound.InteractiveContent(
            body=self.body,
            header=self.header,
            footer=self.footer,
            buttons=[outbound.ReplyButton(b.id, b.title) for b in self.buttons]
            if self.buttons is not None
            else None,
            list_button=self.list_button,
            sections=[
                outbound.ListSection(
                    [outbound.ListRow(r.id, r.title, r.description) for r in s.rows], s.title
                )
                for s in self.sections
            ]
            if self.sections is not None
            else None,
        )


@strawberry.input(
    description="A message to send: to `conversationId`, or to `to` on `deviceId`; exactly one "
    "of `text`, `media`, `location`, `reaction`, `interactive` (inside the 24 h window) or "
    "`template`."
)
class SendMessageInput:
    device_id: strawberry.ID | None = strawberry.field(
        default=None, description="The sending device (with `to`)."
    )
    to: str | None = strawberry.field(default=None, description="Recipient in E.164.")
    conversation_id: strawberry.ID | None = strawberry.field(
        default=None, description="Reply in this conversation."
    )
    text: str | None = strawberry.field(default=None, description="Free-form text.")
    template: TemplateMessageInput | None = strawberry.field(
        default=None, description="A template message."
    )
    media: MediaMessageInput | None = strawberry.field(
        default=None, description="An image, document, audio, video or sticker."
    )
    location: LocationMessageInput | None = strawberry.field(
        default=None, description="A location."
    )
    reaction: ReactionMessageInput | None = strawberry.field(
        default=None, description="An emoji reaction to a message."
    )
    interactive: InteractiveMessageInput | None = strawberry.field(
        default=None, description="Reply buttons or a list."
    )
    client_message_id: str | None = strawberry.field(
        default=None,
        description="Idempotency key: the same key returns the same message, sent once.",
    )
    reply_to_message_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Quote this message of the conversation (Meta's `context`); it must have "
        "reached WhatsApp.",
    )
    canned_response_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Send this canned response as text, its variables filled in on the "
        "server (instead of `text`); a variable without a value is a userError.",
    )


@strawberry.type(description="The result of sendMessage: the message, QUEUED.")
class SendMessagePayload:
    message: Message | None = strawberry.field(description="The queued message.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing was sent.")


@strawberry.input(description="The conversation whose messages were read.")
class MarkConversationReadInput:
    conversation_id: strawberry.ID = strawberry.field(description="The conversation.")


@strawberry.type(description="The result of markConversationRead.")
class MarkConversationReadPayload:
    conversation: Conversation | None = strawberry.field(description="The conversation.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.input(description="Who should handle a conversation.")
class AssignConversationInput:
    conversation_id: strawberry.ID = strawberry.field(description="The conversation.")
    assignee_id: strawberry.ID | None = strawberry.field(
        default=None, description="A member's user id; null unassigns."
    )


@strawberry.type(description="The result of assignConversation.")
class AssignConversationPayload:
    conversation: Conversation | None = strawberry.field(description="The conversation.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.input(description="The conversation to close.")
class CloseConversationInput:
    conversation_id: strawberry.ID = strawberry.field(description="The conversation.")


@strawberry.type(description="The result of closeConversation.")
class CloseConversationPayload:
    conversation: Conversation | None = strawberry.field(description="The conversation.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.input(description="A customer message to inject on a SANDBOX device.")
class SimulateInboundMessageInput:
    device_id: strawberry.ID = strawberry.field(description="A SANDBOX device.")
    from_: str = strawberry.field(name="from", description="The customer's number in E.164.")
    text: str | None = strawberry.field(
        default=None, description="What the customer wrote (with a file: its caption)."
    )
    name: str | None = strawberry.field(default=None, description="The customer's profile name.")
    media_file_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="A file stored with `uploadMedia` that the customer sends (an image, "
        "voice note, video, document or sticker).",
    )


@strawberry.type(description="The result of simulateInboundMessage.")
class SimulateInboundMessagePayload:
    message: Message | None = strawberry.field(description="The stored inbound message.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing was injected.")


def _device(row: Any) -> Device | None:
    return Device.from_model(row) if row is not None else None


def _conversation(row: Any) -> Conversation | None:
    return Conversation.from_model(row) if row is not None else None


def _message(row: Any) -> Message | None:
    return Message.from_model(row) if row is not None else None


ADMIN = [HasRole(Role.ADMIN)]
AGENT = [HasRole(Role.AGENT)]


@strawberry.type
class MessagingMutation:
    @strawberry.mutation(description="Add a WhatsApp number (ADMIN+).", permission_classes=ADMIN)
    async def create_device(self, info: Info, input: CreateDeviceInput) -> CreateDevicePayload:
        row, errors = await devices.create_device(
            info,
            name=input.name,
            phone_number=input.phone_number,
            provider=ProviderModel(input.provider.value),
            cloud_api=input.cloud_api.to_credentials() if input.cloud_api else None,
            messages_per_second=input.messages_per_second,
            requires_pairing=input.requires_pairing,
        )
        return CreateDevicePayload(device=_device(row), user_errors=errors)

    @strawberry.mutation(description="Change a device (ADMIN+).", permission_classes=ADMIN)
    async def update_device(self, info: Info, input: UpdateDeviceInput) -> UpdateDevicePayload:
        row, errors = await devices.update_device(
            info,
            device_id=input.device_id,
            name=input.name,
            messages_per_second=input.messages_per_second,
            cloud_api=input.cloud_api.to_credentials() if input.cloud_api else None,
        )
        return UpdateDevicePayload(device=_device(row), user_errors=errors)

    @strawberry.mutation(description="Delete a device (ADMIN+).", permission_classes=ADMIN)
    async def delete_device(self, info: Info, input: DeleteDeviceInput) -> DeleteDevicePayload:
        pk, errors = await devices.delete_device(info, device_id=input.device_id)
        return DeleteDevicePayload(
            deleted_device_id=to_global_id("Device", pk) if pk is not None else None,
            user_errors=errors,
        )

    @strawberry.mutation(
        description="Connect a device (ADMIN+): a SANDBOX device connects at once, or shows a QR "
        "code when it requires pairing; a CLOUD_API device's credentials are checked with Meta.",
        permission_classes=ADMIN,
    )
    async def connect_device(self, info: Info, input: ConnectDeviceInput) -> ConnectDevicePayload:
        row, errors = await devices.connect_device(info, device_id=input.device_id)
        return ConnectDevicePayload(device=_device(row), user_errors=errors)

    @strawberry.mutation(
        description="Play the phone scanning the QR code of a SANDBOX device that requires "
        "pairing: a current code connects it (CONNECTING, then CONNECTED) (ADMIN+).",
        permission_classes=ADMIN,
    )
    async def simulate_qr_scan(
        self, info: Info, input: SimulateQrScanInput
    ) -> SimulateQrScanPayload:
        row, errors = await devices.simulate_qr_scan(
            info, device_id=input.device_id, qr_code=input.qr_code
        )
        return SimulateQrScanPayload(device=_device(row), user_errors=errors)

    @strawberry.mutation(description="Add a contact (AGENT+).", permission_classes=AGENT)
    async def create_contact(self, info: Info, input: CreateContactInput) -> CreateContactPayload:
        row, errors = await contacts.create_contact(
            info,
            phone_number=input.phone_number,
            name=input.name,
            tags=input.tags,
            attributes=cast("dict[str, Any] | None", input.attributes),
        )
        return CreateContactPayload(
            contact=Contact.from_model(row) if row is not None else None, user_errors=errors
        )

    @strawberry.mutation(
        description="Add a message template to a device (ADMIN+).", permission_classes=ADMIN
    )
    async def create_template(
        self, info: Info, input: CreateTemplateInput
    ) -> CreateTemplatePayload:
        row, errors = await templates.create_template(
            info,
            device_id=input.device_id,
            name=input.name,
            language=input.language,
            category=input.category,
            components=input.components,
            header_sample=await templates.sample_from(input.header_sample),
        )
        return CreateTemplatePayload(
            template=Template.from_model(row) if row is not None else None, user_errors=errors
        )

    @strawberry.mutation(
        description="Delete a template; a CLOUD_API device's is deleted at Meta too (ADMIN+).",
        permission_classes=ADMIN,
    )
    async def delete_template(self, info: Info, input: TemplateIdInput) -> DeleteTemplatePayload:
        deleted, errors = await templates.delete_template(info, template_id=input.template_id)
        return DeleteTemplatePayload(
            deleted_template_id=strawberry.ID(deleted) if deleted is not None else None,
            user_errors=errors,
        )

    @strawberry.mutation(
        description='Show the customer "typing…" under their latest message, which is '
        "marked read; it lasts up to 25 seconds or until the next message (AGENT+).",
        permission_classes=AGENT,
    )
    async def send_typing_indicator(
        self, info: Info, input: ConversationIdInput
    ) -> SendTypingIndicatorPayload:
        row, errors = await inbox.send_typing_indicator(info, conversation_id=input.conversation_id)
        return SendTypingIndicatorPayload(conversation=_conversation(row), user_errors=errors)

    @strawberry.mutation(
        description="Pull a CLOUD_API device's templates from its WhatsApp Business Account, "
        "in a job (ADMIN+).",
        permission_classes=ADMIN,
    )
    async def sync_templates(self, info: Info, input: SyncTemplatesInput) -> SyncTemplatesPayload:
        row, errors = await templates.start_sync(info, device_id=input.device_id)
        return SyncTemplatesPayload(device=_device(row), user_errors=errors)

    @strawberry.mutation(
        description="Import contacts from CSV in a job; numbers already known update their "
        "contact (AGENT+).",
        permission_classes=AGENT,
    )
    async def import_contacts(
        self, info: Info, input: ImportContactsInput
    ) -> ImportContactsPayload:
        csv_text, errors = await contacts.csv_from(
            input.csv, input.file, max_bytes=info.context.runtime.settings.max_body_bytes
        )
        if csv_text is None:
            return ImportContactsPayload(contact_import=None, user_errors=errors)
        row, errors = await contacts.start_import(info, csv_text=csv_text)
        return ImportContactsPayload(
            contact_import=ContactImport.from_model(row) if row is not None else None,
            user_errors=errors,
        )

    @strawberry.mutation(
        description="Queue a message and return at once; statuses follow on messageEvents "
        "(AGENT+).",
        permission_classes=AGENT,
    )
    async def send_message(self, info: Info, input: SendMessageInput) -> SendMessagePayload:
        template = input.template
        row, errors = await messages.send_message(
            info,
            device_id=input.device_id,
            to=input.to,
            conversation_id=input.conversation_id,
            text=input.text,
            template=template.to_content() if template is not None else None,
            media=input.media.to_content() if input.media is not None else None,
            reaction=outbound.ReactionContent(input.reaction.message_id, input.reaction.emoji)
            if input.reaction is not None
            else None,
            interactive=input.interactive.to_content() if input.interactive is not None else None,
            location=input.location.to_content() if input.location is not None else None,
            client_message_id=input.client_message_id,
            reply_to_message_id=input.reply_to_message_id,
            canned_response_id=input.canned_response_id,
        )
        return SendMessagePayload(message=_message(row), user_errors=errors)

    @strawberry.mutation(
        description="Set a conversation's unread count to zero (AGENT+).",
        permission_classes=AGENT,
    )
    async def mark_conversation_read(
        self, info: Info, input: MarkConversationReadInput
    ) -> MarkConversationReadPayload:
        row, errors = await inbox.mark_read(info, conversation_id=input.conversation_id)
        return MarkConversationReadPayload(conversation=_conversation(row), user_errors=errors)

    @strawberry.mutation(
        description="Assign a conversation to a member, or unassign it (AGENT+).",
        permission_classes=AGENT,
    )
    async def assign_conversation(
        self, info: Info, input: AssignConversationInput
    ) -> AssignConversationPayload:
        row, errors = await inbox.assign(
            info, conversation_id=input.conversation_id, assignee_id=input.assignee_id
        )
        return AssignConversationPayload(conversation=_conversation(row), user_errors=errors)

    @strawberry.mutation(
        description="Close a conversation; the customer's next message reopens it (AGENT+).",
        permission_classes=AGENT,
    )
    async def close_conversation(
        self, info: Info, input: CloseConversationInput
    ) -> CloseConversationPayload:
        row, errors = await inbox.close(info, conversation_id=input.conversation_id)
        return CloseConversationPayload(conversation=_conversation(row), user_errors=errors)

    @strawberry.mutation(
        description="Inject a customer message on a SANDBOX device, through the same "
        "pipeline as a webhook (AGENT+).",
        permission_classes=AGENT,
    )
    async def simulate_inbound_message(
        self, info: Info, input: SimulateInboundMessageInput
    ) -> SimulateInboundMessagePayload:
        row, errors = await messages.simulate_inbound(
            info,
            device_id=input.device_id,
            sender=input.from_,
            text=input.text,
            name=input.name,
            media_file_id=input.media_file_id,
        )
        return SimulateInboundMessagePayload(message=_message(row), user_errors=errors)
