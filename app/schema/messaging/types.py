"""Devices, contacts, conversations, messages and templates as GraphQL types."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from app.dataloaders import inbox as inbox_loaders
from app.dataloaders import media as media_loaders
from app.dataloaders import messaging as loaders
from app.dataloaders.routing import team_by_conversation
from app.models import messaging as models
from app.models.accounts import Role
from app.platform import clock
from app.platform.context import Info
from app.platform.ids import to_global_id
from app.platform.pagination import encode_cursor, page_args
from app.resolvers.messaging import lists, notes, timeline
from app.schema.accounts.teams import Team
from app.schema.accounts.types import UserType
from app.schema.media.types import MediaFile
from app.schema.messaging.enums import ContactImportStatus as ContactImportStatus
from app.schema.messaging.enums import ConversationStatus as ConversationStatus
from app.schema.messaging.enums import DeviceStatus as DeviceStatus
from app.schema.messaging.enums import Direction as Direction
from app.schema.messaging.enums import MessageStatus as MessageStatus
from app.schema.messaging.enums import MessageType as MessageType
from app.schema.messaging.enums import Provider as Provider
from app.schema.messaging.enums import QualityRating as QualityRating
from app.schema.messaging.enums import TemplateStatus as TemplateStatus
from app.schema.messaging.inbox import ConversationActivity, ConversationNote, Label, Reaction
from app.schema.node import Node
from app.schema.pagination import Connection, PageInfo, build_connection, paginate
from app.schema.permissions import HasRole
from app.whatsapp.content import content_of


@strawberry.type(description="A WhatsApp number of the organization.")
class Device(Node):
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    name: str = strawberry.field(description="A name for people, e.g. `Support`.")
    phone_number: str = strawberry.field(description="The number in E.164.")
    provider: Provider = strawberry.field(description="Who carries this device's messages.")
    status: DeviceStatus = strawberry.field(description="Connection status.")
    messages_per_second: int = strawberry.field(description="Sending throughput cap.")
    created_at: datetime = strawberry.field(description="When the device was added.")
    row: strawberry.Private[models.Device]

    @classmethod
    def from_model(cls, row: models.Device) -> Device:
        return cls(
            id=to_global_id("Device", row.id),
            name=row.name,
            phone_number=row.phone_number,
            provider=row.provider,
            status=row.status,
            messages_per_second=row.messages_per_second,
            created_at=row.created_at,
            row=row,
        )

    @strawberry.field(
        description="Cloud API: the number's id at Meta (ADMIN+).",
        permission_classes=[HasRole(Role.ADMIN)],
    )
    def phone_number_id(self) -> str | None:
        return self.row.phone_number_id

    @strawberry.field(
        description="Cloud API: the WhatsApp Business Account id (ADMIN+).",
        permission_classes=[HasRole(Role.ADMIN)],
    )
    def waba_id(self) -> str | None:
        return self.row.waba_id

    @strawberry.field(
        description="Whether an access token is stored (ADMIN+); the token is never returned.",
        permission_classes=[HasRole(Role.ADMIN)],
    )
    def has_access_token(self) -> bool:
        return bool(self.row.access_token_encrypted)

    @strawberry.field(
        description="Whether an app secret is stored (ADMIN+); the secret is never returned.",
        permission_classes=[HasRole(Role.ADMIN)],
    )
    def has_app_secret(self) -> bool:
        return bool(self.row.app_secret_encrypted)

    @strawberry.field(
        description="Cloud API: the Meta app id, whose upload API takes template header "
        "samples (ADMIN+).",
        permission_classes=[HasRole(Role.ADMIN)],
    )
    def app_id(self) -> str | None:
        return self.row.app_id

    @strawberry.field(
        description="Meta's quality rating of the number (phone_number_quality_update); null "
        "until Meta says."
    )
    def quality_rating(self) -> QualityRating | None:
        return self.row.quality_rating

    @strawberry.field(
        description="Meta's messaging limit tier of the number, e.g. `TIER_1K`: unique "
        "customers messaged outside a service window per 24 h; null until Meta says."
    )
    def messaging_limit_tier(self) -> str | None:
        return self.row.messaging_limit_tier

    @strawberry.field(
        description="The latest account_update event Meta sent about the business account, "
        "e.g. `ACCOUNT_VIOLATION`; null until one arrives."
    )
    def account_event(self) -> str | None:
        return self.row.account_event

    @strawberry.field(
        description="SANDBOX: whether connecting takes a (simulated) QR code scan, as linking "
        "a WhatsApp Web session does."
    )
    def requires_pairing(self) -> bool:
        return self.row.pairing_required

    @strawberry.field(
        description="While QR_REQUIRED: the QR code to show, as the text to render (ADMIN+). "
        "It is replaced at `qrCodeExpiresAt`; deviceEvents announces each new one.",
        permission_classes=[HasRole(Role.ADMIN)],
    )
    def qr_code(self) -> str | None:
        return _pairing_qr(self.row)[0]

    @strawberry.field(
        description="When `qrCode` stops being accepted (ADMIN+).",
        permission_classes=[HasRole(Role.ADMIN)],
    )
    def qr_code_expires_at(self) -> datetime | None:
        return _pairing_qr(self.row)[1]

    @strawberry.field(
        description="Path of this device's webhook, relative to the public URL (ADMIN+).",
        permission_classes=[HasRole(Role.ADMIN)],
    )
    def webhook_path(self) -> str:
        return f"/webhooks/whatsapp/{self.id}"

    @strawberry.field(description="Conversations on this number, oldest first.")
    async def conversations(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Conversation]:
        queryset = lists.device_conversations(self.row)
        return await paginate(
            queryset, page_args(first=first, after=after), Conversation.from_model
        )


def _pairing_qr(row: models.Device) -> tuple[str | None, datetime | None]:
    if row.status is not models.DeviceStatus.QR_REQUIRED:
        return None, None
    return row.qr_code, row.qr_expires_at


@strawberry.type(description="A customer the organization talks to.")
class Contact(Node):
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    phone_number: str | None = strawberry.field(
        description="The number in E.164; null for a customer known only by `userId` (a "
        "WhatsApp username can hide the number)."
    )
    user_id: str | None = strawberry.field(
        description="Meta's business-scoped user id (e.g. `US.13491208655302741918`), when "
        "Meta said it; replies reach a contact without a number through it."
    )
    username: str | None = strawberry.field(description="The customer's WhatsApp username.")
    name: str | None = strawberry.field(description="Name, as given or as the profile says.")
    tags: list[str] = strawberry.field(description="Labels used to pick audiences.")
    attributes: JSON = strawberry.field(description="Custom attributes (a JSON object).")
    opted_out: bool = strawberry.field(description="Replied STOP: no campaign messages.")
    created_at: datetime = strawberry.field(description="When the contact was added.")
    last_seen_at: datetime | None = strawberry.field(
        description="When the customer last wrote; null if they never did."
    )

    @classmethod
    def from_model(cls, row: models.Contact) -> Contact:
        return cls(
            id=to_global_id("Contact", row.id),
            phone_number=row.phone_number,
            user_id=row.user_id,
            username=row.username,
            name=row.name,
            tags=list(row.tags or []),
            attributes=JSON(dict(row.attributes or {})),
            opted_out=row.opted_out_at is not None,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
        )


@strawberry.type(description="The thread between one device and one contact.")
class Conversation(Node):
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    status: ConversationStatus = strawberry.field(description="Inbox status.")
    unread_count: int = strawberry.field(description="Customer messages not yet read.")
    last_message_at: datetime | None = strawberry.field(description="Time of the latest message.")
    last_inbound_at: datetime | None = strawberry.field(
        description="Time of the customer's latest message (opens the 24 h window)."
    )
    ai_enabled: bool = strawberry.field(description="Whether AI agents may answer here.")
    snoozed_until: datetime | None = strawberry.field(
        description="Snoozed (PENDING) until then: the time passing or the customer's next "
        "message reopens it."
    )
    row: strawberry.Private[models.Conversation]

    @classmethod
    def from_model(cls, row: models.Conversation) -> Conversation:
        return cls(
            id=to_global_id("Conversation", row.id),
            status=row.status,
            unread_count=row.unread_count,
            last_message_at=row.last_message_at,
            last_inbound_at=row.last_inbound_at,
            ai_enabled=row.ai_enabled,
            snoozed_until=row.snoozed_until,
            row=row,
        )

    @strawberry.field(description="The labels set on it, by name.")
    async def labels(self, info: Info) -> list[Label]:
        rows = await info.context.loaders.get(inbox_loaders.labels_by_conversation).load(
            self.row.id
        )
        return [Label.from_model(row) for row in rows]

    @strawberry.field(
        description="The team's private notes, oldest first: never sent to the customer."
    )
    async def notes(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[ConversationNote]:
        return await paginate(
            notes.notes_of(self.row),
            page_args(first=first, after=after),
            ConversationNote.from_model,
        )

    @strawberry.field(
        description="Messages, private notes and activity (assigned, labelled, closed, "
        "snoozed, reopened) merged in the order they happened, oldest first."
    )
    async def timeline(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> TimelineConnection:
        page = await timeline.timeline(self.row, first=first, after=after)
        edges = [
            TimelineEdge(cursor=item.place.cursor(), node=_timeline_node(item))
            for item in page.items
        ]
        return TimelineConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )

    @strawberry.field(
        description="True within 24 hours of the customer's latest message: free-form "
        "messages are allowed; outside it only templates."
    )
    def service_window_open(self) -> bool:
        return models.service_window_open(self.row.last_inbound_at, clock.now())

    # Sync resolvers answering at once from values the inbox has loaded ahead (see
    # `loaders.now_or_later`), awaiting their loader otherwise.
    @strawberry.field(description="The organization's number this conversation is on.")
    def device(self, info: Info) -> Device:
        loader = info.context.loaders.get(loaders.device_by_id)
        return loaders.now_or_later(loader, self.row.device_id, _device)  # type: ignore[no-any-return]

    @strawberry.field(description="The customer.")
    def contact(self, info: Info) -> Contact:
        loader = info.context.loaders.get(loaders.contact_by_id)
        return loaders.now_or_later(loader, self.row.contact_id, _contact)  # type: ignore[no-any-return]

    @strawberry.field(description="The member handling this conversation, if assigned.")
    def assignee(self, info: Info) -> UserType | None:
        if self.row.assignee_id is None:
            return None
        loader = info.context.loaders.get(loaders.user_by_id)
        return loaders.now_or_later(loader, self.row.assignee_id, _user)  # type: ignore[no-any-return]

    @strawberry.field(description="The team this conversation is given to, if any.")
    async def team(self, info: Info) -> Team | None:
        row = await info.context.loaders.get(team_by_conversation).load(self.row.id)
        return Team.from_model(row) if row is not None else None

    @strawberry.field(description="The latest message, if any.")
    async def last_message(self, info: Info) -> Message | None:
        row = await info.context.loaders.get(loaders.last_message_by_conversation).load(self.row.id)
        return Message.from_model(row) if row is not None else None

    @strawberry.field(
        description="Messages oldest first; `last: N` gives the latest N, `before` pages back."
    )
    def messages(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Message]:
        args = page_args(first=first, after=after, last=last, before=before)
        if args.limit == 0:
            return build_connection([], args, Message.from_model)
        loader = info.context.loaders.get(loaders.messages_by_conversation)
        return loaders.now_or_later(  # type: ignore[no-any-return]
            loader,
            (self.row.id, args),
            lambda rows: build_connection(rows, args, Message.from_model),
        )


@strawberry.type(description="One WhatsApp message, either way.")
class Message(Node):
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    direction: Direction = strawberry.field(description="INBOUND from the customer, or OUTBOUND.")
    type: MessageType = strawberry.field(description="What the message carries.")
    body: str | None = strawberry.field(
        description="The best text to show: the text, a caption, a reply's title, a location's "
        "name or coordinates, a card's name; null once deleted."
    )
    payload: JSON = strawberry.field(
        description="The type's content in one normalized shape per type, either way "
        "(docs/inbound.md): media, location, contact cards, a reply's id and title, a Flow's "
        "answers, an order, a referral, the quoted message; `{}` once deleted."
    )
    status: MessageStatus = strawberry.field(description="Delivery status.")
    error_code: int | None = strawberry.field(description="Provider error code when FAILED.")
    error_message: str | None = strawberry.field(description="Why it FAILED, in words.")
    client_message_id: str | None = strawberry.field(
        description="The idempotency key the sender gave."
    )
    created_at: datetime = strawberry.field(description="When Parley stored it.")
    edited_at: datetime | None = strawberry.field(
        description="When the customer last edited it; `payload.edits` keeps earlier versions."
    )
    deleted_at: datetime | None = strawberry.field(
        description="When it was deleted for everyone: its content is gone, the message stays."
    )
    row: strawberry.Private[models.Message]

    @classmethod
    def from_model(cls, row: models.Message) -> Message:
        return cls(
            id=to_global_id("Message", row.id),
            direction=row.direction,
            type=row.type,
            body=row.body if row.deleted_at is None else None,
            payload=JSON(_public_payload(row)),
            status=row.status,
            error_code=row.error_code,
            error_message=row.error_message,
            client_message_id=row.client_message_id,
            created_at=row.created_at,
            edited_at=row.edited_at,
            deleted_at=row.deleted_at,
            row=row,
        )

    @strawberry.field(
        description="OUTBOUND: what Meta's status webhooks said besides the status "
        "(docs/inbound.md): `pricing` {category, billable, pricing_model, type}, "
        "`conversation` {id, origin, expires_at}, `played_at` for a voice note, `failure` "
        "{code, title, message, details, href}; `{}` until a status says any of it."
    )
    def delivery_details(self) -> JSON:
        return JSON(dict(self.row.delivery_details or {}))

    @strawberry.field(
        description="OUTBOUND: Meta's pricing category (`marketing`, `utility`, "
        "`authentication`, `service`), from the status webhooks; null until one says."
    )
    def pricing_category(self) -> str | None:
        return self.row.pricing_category

    @strawberry.field(description="OUTBOUND: whether Meta charges for it; null until it says.")
    def billable(self) -> bool | None:
        return self.row.billable

    @strawberry.field(description="The conversation it belongs to.")
    async def conversation(self, info: Info) -> Conversation:
        row = await info.context.loaders.get(loaders.conversation_by_id).load(
            self.row.conversation_id
        )
        assert row is not None
        return Conversation.from_model(row)

    @strawberry.field(
        description="The file it carries: uploaded by a member, or the customer's file once "
        "downloaded from Meta (null until then; a `messageEvents` UPDATED says it is ready, "
        "and a download that failed for good says why in `payload.media_error`)."
    )
    def media(self, info: Info) -> MediaFile | None:
        if self.row.media_id is None:
            return None
        return loaders.now_or_later(  # type: ignore[no-any-return]
            info.context.loaders.get(media_loaders.media_file_by_id),
            self.row.media_id,
            lambda row: MediaFile.from_model(row) if row is not None else None,
        )

    @strawberry.field(description="The member who sent it (outbound messages sent by a person).")
    async def author(self, info: Info) -> UserType | None:
        if self.row.author_user_id is None:
            return None
        row = await info.context.loaders.get(loaders.user_by_id).load(self.row.author_user_id)
        return UserType.from_model(row) if row is not None else None

    @strawberry.field(
        description="The message this one quotes (a reply), when Parley has it; "
        "`payload.quoted_message_id` names it at WhatsApp either way."
    )
    async def reply_to(self, info: Info) -> Message | None:
        if self.row.reply_to_id is None:
            return None
        row = await info.context.loaders.get(loaders.message_by_id).load(self.row.reply_to_id)
        return Message.from_model(row) if row is not None else None

    @strawberry.field(
        description="Reactions on this message: at most one from the customer (INBOUND) and "
        "one from the business (OUTBOUND), oldest first."
    )
    async def reactions(self, info: Info) -> list[Reaction]:
        rows = await info.context.loaders.get(inbox_loaders.reactions_by_message).load(self.row.id)
        return [Reaction.from_model(row) for row in rows]


TimelineItem = Annotated[
    Message | ConversationNote | ConversationActivity,
    strawberry.union("TimelineItem", description="One entry of a conversation's timeline."),
]


@strawberry.type(description="One timeline entry with its cursor.")
class TimelineEdge:
    cursor: str = strawberry.field(description="Pass as `after` to read on from here.")
    node: TimelineItem = strawberry.field(description="The entry.")


@strawberry.type(description="A page of a conversation's timeline.")
class TimelineConnection:
    edges: list[TimelineEdge] = strawberry.field(description="The entries with cursors.")
    page_info: PageInfo = strawberry.field(description="Where this page sits.")

    @strawberry.field(description="The entries of this page, without cursors.")
    def nodes(self) -> list[TimelineItem]:
        return [edge.node for edge in self.edges]


def _timeline_node(item: timeline.TimelineItem) -> Any:
    if item.rank == timeline.MESSAGE:
        return Message.from_model(item.row)
    if item.rank == timeline.NOTE:
        return ConversationNote.from_model(item.row)
    return ConversationActivity.from_model(item.row)


def _device(row: models.Device | None) -> Device:
    assert row is not None
    return Device.from_model(row)


def _contact(row: models.Contact | None) -> Contact:
    assert row is not None
    return Contact.from_model(row)


def _user(row: Any) -> UserType | None:
    return UserType.from_model(row) if row is not None else None


def _public_payload(row: models.Message) -> dict[str, Any]:
    payload = dict(row.payload or {})
    if row.deleted_at is not None:
        return {}
    if row.direction is models.Direction.INBOUND and "type" in payload:
        # Stored before inbound payloads were normalized: Meta's raw message object (no
        # normalized shape has a top-level `type`).
        return content_of(payload).payload
    return payload


@strawberry.type(
    description="A message template of a device: approved at once on SANDBOX devices, "
    "reviewed by Meta on CLOUD_API ones."
)
class Template(Node):
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    name: str = strawberry.field(description="Template name at Meta.")
    language: str = strawberry.field(description="Language code, e.g. `en_US`.")
    category: str = strawberry.field(description="MARKETING, UTILITY or AUTHENTICATION.")
    components: JSON = strawberry.field(description="Meta's components, with `{{n}}` variables.")
    status: TemplateStatus = strawberry.field(description="Review status at Meta.")
    quality_rating: QualityRating | None = strawberry.field(
        description="Meta's rating of the template from customers' reactions; null until rated."
    )
    rejected_reason: str | None = strawberry.field(
        description="Why Meta REJECTED it, e.g. `INVALID_FORMAT`; null otherwise."
    )
    meta_id: str | None = strawberry.field(description="The template's id at Meta, once submitted.")
    row: strawberry.Private[models.Template]

    @classmethod
    def from_model(cls, row: models.Template) -> Template:
        return cls(
            id=to_global_id("Template", row.id),
            name=row.name,
            language=row.language,
            category=row.category,
            components=JSON(list(row.components or [])),
            status=row.status,
            quality_rating=row.quality_rating,
            rejected_reason=row.rejected_reason,
            meta_id=row.meta_id,
            row=row,
        )

    @strawberry.field(
        description="The body's `{{n}}` placeholders in order: a send gives one parameter each."
    )
    def variables(self) -> list[str]:
        return self.row.variables()

    @strawberry.field(description="The device the template belongs to.")
    async def device(self, info: Info) -> Device:
        row = await info.context.loaders.get(loaders.device_by_id).load(self.row.device_id)
        assert row is not None
        return Device.from_model(row)


@strawberry.type(description="A CSV row that was not imported, and why.")
class ContactImportError:
    row: int = strawberry.field(description="The row in the file; the header is row 1.")
    field: str | None = strawberry.field(description="The column at fault, e.g. `phone_number`.")
    message: str = strawberry.field(description="What is wrong, in a sentence.")


@strawberry.type(description="A CSV import of contacts, run by a job; poll it with `node(id:)`.")
class ContactImport(Node):
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    status: ContactImportStatus = strawberry.field(description="Where the import stands.")
    total: int = strawberry.field(description="Rows in the file (blank lines excluded).")
    created: int = strawberry.field(description="Contacts created.")
    updated: int = strawberry.field(description="Existing contacts updated.")
    failed: int = strawberry.field(description="Rows not imported (see `errors`).")
    errors: list[ContactImportError] = strawberry.field(
        description="Why rows were not imported (the first 1,000)."
    )
    error: str | None = strawberry.field(description="Why the import FAILED as a whole.")
    created_at: datetime = strawberry.field(description="When the import was requested.")
    finished_at: datetime | None = strawberry.field(description="When the job finished.")

    @classmethod
    def from_model(cls, row: models.ContactImport) -> ContactImport:
        return cls(
            id=to_global_id("ContactImport", row.id),
            status=row.status,
            total=row.total,
            created=row.created,
            updated=row.updated,
            failed=row.failed,
            errors=[
                ContactImportError(row=e["row"], field=e.get("field"), message=e["message"])
                for e in row.errors or []
            ],
            error=row.error,
            created_at=row.created_at,
            finished_at=row.finished_at,
        )


@strawberry.enum(description="What happened to a message.")
class MessageEventKind(Enum):
    CREATED = "CREATED"
    STATUS_CHANGED = "STATUS_CHANGED"
    UPDATED = "UPDATED"  # edited or deleted by the customer


@strawberry.type(
    description="A message was created, its status changed, or it was edited or deleted."
)
class MessageEvent:
    kind: MessageEventKind = strawberry.field(description="What happened.")
    message: Message = strawberry.field(description="The message as it is now.")

    @strawberry.field(description="The message's cursor: `messageEvents(after:)` resumes after it.")
    def cursor(self) -> str:
        return encode_cursor(self.message.row.id)


@strawberry.enum(description="What happened to a conversation.")
class ConversationEventKind(Enum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"


@strawberry.type(description="A conversation was created or changed (new message, read, ...).")
class ConversationEvent:
    kind: ConversationEventKind = strawberry.field(description="What happened.")
    conversation: Conversation = strawberry.field(description="The conversation as it is now.")


@strawberry.enum(description="What happened to a device.")
class DeviceEventKind(Enum):
    STATUS_CHANGED = "STATUS_CHANGED"
    HEALTH_CHANGED = "HEALTH_CHANGED"  # quality rating, messaging limit tier, account event


@strawberry.type(
    description="A device changed status or health, or showed a new QR code while pairing."
)
class DeviceEvent:
    status: DeviceStatus = strawberry.field(
        description="The status this event announces; `device` is read when the event is "
        "delivered and may already have moved on (CONNECTING, then CONNECTED at once)."
    )
    device: Device = strawberry.field(description="The device as it is now.")
    kind: DeviceEventKind = strawberry.field(
        default=DeviceEventKind.STATUS_CHANGED, description="What happened."
    )

    @strawberry.field(
        description="While pairing (QR_REQUIRED): the QR code to show now (ADMIN+).",
        permission_classes=[HasRole(Role.ADMIN)],
    )
    def qr_code(self) -> str | None:
        return _pairing_qr(self.device.row)[0]

    @strawberry.field(
        description="When `qrCode` stops being accepted (ADMIN+).",
        permission_classes=[HasRole(Role.ADMIN)],
    )
    def qr_code_expires_at(self) -> datetime | None:
        return _pairing_qr(self.device.row)[1]


@strawberry.enum(description="What happened to a template.")
class TemplateEventKind(Enum):
    CREATED = "CREATED"
    STATUS_CHANGED = "STATUS_CHANGED"  # Meta approved, rejected, paused or disabled it
    QUALITY_CHANGED = "QUALITY_CHANGED"
    DELETED = "DELETED"


@strawberry.type(description="A template was created, reviewed, rated or deleted.")
class TemplateEvent:
    kind: TemplateEventKind = strawberry.field(description="What happened.")
    status: TemplateStatus = strawberry.field(
        description="The status this event announces; `template` is read when the event is "
        "delivered and may already have moved on."
    )
    template_id: strawberry.ID = strawberry.field(description="The template's id.")
    template: Template | None = strawberry.field(
        description="The template as it is now; null once DELETED."
    )
