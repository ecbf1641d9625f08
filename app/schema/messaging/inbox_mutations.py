"""The inbox's mutations: contacts, labels, notes, snooze, canned responses, reactions."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import strawberry
from strawberry.scalars import JSON

from app.models.accounts import Role
from app.platform.context import Info
from app.platform.ids import to_global_id
from app.resolvers.messaging import canned, contacts, inbox, labels, lists, messages, notes
from app.schema.messaging.inbox import CannedResponse, ConversationNote, Label
from app.schema.messaging.inbox_queries import ContactFilterInput
from app.schema.messaging.types import Contact, Conversation, Message
from app.schema.permissions import HasRole
from app.schema.user_errors import UserError

ADMIN = [HasRole(Role.ADMIN)]
AGENT = [HasRole(Role.AGENT)]


def _contact(row: Any) -> Contact | None:
    return Contact.from_model(row) if row is not None else None


def _conversation(row: Any) -> Conversation | None:
    return Conversation.from_model(row) if row is not None else None


@strawberry.input(description="Changes to a contact; fields left out stay as they are.")
class UpdateContactInput:
    contact_id: strawberry.ID = strawberry.field(description="The contact.")
    name: str | None = strawberry.field(default=None, description="A name; empty clears it.")
    tags: list[str] | None = strawberry.field(
        default=None, description="The tags, replacing the current ones."
    )
    attributes: JSON | None = strawberry.field(
        default=None,
        description="Custom attributes merged into the current ones; a key set to null is removed.",
    )


@strawberry.type(description="The result of updateContact.")
class UpdateContactPayload:
    contact: Contact | None = strawberry.field(description="The contact as it is now.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.input(description="Tags to add to or remove from a contact.")
class ContactTagsInput:
    contact_id: strawberry.ID = strawberry.field(description="The contact.")
    tags: list[str] = strawberry.field(description="The tags (lower-cased, no commas).")


@strawberry.type(description="The result of addContactTags or removeContactTags.")
class ContactTagsPayload:
    contact: Contact | None = strawberry.field(description="The contact as it is now.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.input(description="A contact to act on.")
class ContactIdInput:
    contact_id: strawberry.ID = strawberry.field(description="The contact.")
    confirm: bool = strawberry.field(
        default=False,
        description="deleteContact: must be `true`, the caller's confirmation that the "
        "contact and all its conversations and messages are erased for good.",
    )


@strawberry.type(description="The result of deleteContact.")
class DeleteContactPayload:
    deleted_contact_id: strawberry.ID | None = strawberry.field(
        description="The erased contact's id."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing was erased.")


@strawberry.input(description="Which contacts to export.")
class ExportContactsInput:
    filter: ContactFilterInput | None = strawberry.field(
        default=None, description="The contacts to include; all when left out."
    )


@strawberry.type(description="The result of exportContacts.")
class ExportContactsPayload:
    csv: str | None = strawberry.field(
        description="The contacts as CSV (UTF-8): `phone_number`, `name`, `tags` "
        "(`;`-separated), then one column per custom attribute; importContacts reads it back."
    )
    count: int = strawberry.field(default=0, description="Contacts in the file (100,000 at most).")
    user_errors: list[UserError] = strawberry.field(description="Why nothing was exported.")


@strawberry.input(description="A new label.")
class CreateLabelInput:
    name: str = strawberry.field(description="Its name, unique in the organization.")
    color: str | None = strawberry.field(
        default=None, description="`#RRGGBB`; a grey when left out."
    )


@strawberry.type(description="The result of createLabel.")
class CreateLabelPayload:
    label: Label | None = strawberry.field(description="The new label.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing was created.")


@strawberry.input(description="The labels a conversation should have.")
class SetConversationLabelsInput:
    conversation_id: strawberry.ID = strawberry.field(description="The conversation.")
    label_ids: list[strawberry.ID] = strawberry.field(
        description="Its labels from now on; an empty list clears them."
    )


@strawberry.type(description="The result of setConversationLabels.")
class SetConversationLabelsPayload:
    conversation: Conversation | None = strawberry.field(description="The conversation.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.input(description="A private note on a conversation.")
class AddConversationNoteInput:
    conversation_id: strawberry.ID = strawberry.field(description="The conversation.")
    body: str = strawberry.field(description="The note (never sent to the customer).")


@strawberry.type(description="The result of addConversationNote.")
class AddConversationNotePayload:
    note: ConversationNote | None = strawberry.field(description="The new note.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing was added.")


@strawberry.input(description="Snooze a conversation until a time, or wake it.")
class SnoozeConversationInput:
    conversation_id: strawberry.ID = strawberry.field(description="The conversation.")
    until: datetime | None = strawberry.field(
        default=None, description="A time to come, with its offset; null wakes it now."
    )


@strawberry.type(description="The result of snoozeConversation.")
class SnoozeConversationPayload:
    conversation: Conversation | None = strawberry.field(description="The conversation.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.input(description="A new canned response.")
class CreateCannedResponseInput:
    shortcut: str = strawberry.field(description="What agents type to find it, e.g. `hours`.")
    body: str = strawberry.field(
        description="The text; may use `{{contact.name}}`, `{{contact.phoneNumber}}`, "
        "`{{agent.name}}` and `{{contact.attributes.<key>}}`."
    )


@strawberry.type(description="The result of createCannedResponse.")
class CreateCannedResponsePayload:
    canned_response: CannedResponse | None = strawberry.field(description="The new response.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing was created.")


@strawberry.input(description="The business's reaction to a message.")
class ReactToMessageInput:
    message_id: strawberry.ID = strawberry.field(
        description="The message reacted to (it must have reached WhatsApp)."
    )
    emoji: str = strawberry.field(description="One emoji; an empty string removes the reaction.")
    client_message_id: str | None = strawberry.field(
        default=None, description="Idempotency key of the reaction's send."
    )


@strawberry.type(description="The result of reactToMessage.")
class ReactToMessagePayload:
    message: Message | None = strawberry.field(
        description="The message reacted to; its `reactions` show the new one."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing was sent.")


@strawberry.type
class ConversationWorkMutation:
    @strawberry.mutation(
        description="Change a contact's name, tags or attributes (AGENT+).",
        permission_classes=AGENT,
    )
    async def update_contact(self, info: Info, input: UpdateContactInput) -> UpdateContactPayload:
        row, errors = await contacts.update_contact(
            info,
            contact_id=input.contact_id,
            name=input.name,
            tags=input.tags,
            attributes=cast("dict[str, Any] | None", input.attributes),
        )
        return UpdateContactPayload(contact=_contact(row), user_errors=errors)

    @strawberry.mutation(description="Add tags to a contact (AGENT+).", permission_classes=AGENT)
    async def add_contact_tags(self, info: Info, input: ContactTagsInput) -> ContactTagsPayload:
        row, errors = await contacts.change_tags(
            info, contact_id=input.contact_id, tags=input.tags, add=True
        )
        return ContactTagsPayload(contact=_contact(row), user_errors=errors)

    @strawberry.mutation(
        description="Remove tags from a contact (AGENT+).", permission_classes=AGENT
    )
    async def remove_contact_tags(self, info: Info, input: ContactTagsInput) -> ContactTagsPayload:
        row, errors = await contacts.change_tags(
            info, contact_id=input.contact_id, tags=input.tags, add=False
        )
        return ContactTagsPayload(contact=_contact(row), user_errors=errors)

    @strawberry.mutation(
        description="Erase a contact (the right to erasure, ADMIN+): the contact, its "
        "conversations, messages, reactions, notes and AI runs are deleted, it is blanked out "
        "of campaign recipients and import files, and the webhook deliveries that carried its "
        "number or user id are deleted. Irreversible: `confirm: true` is required. Audited with counts "
        "only.",
        permission_classes=ADMIN,
    )
    async def delete_contact(self, info: Info, input: ContactIdInput) -> DeleteContactPayload:
        pk, errors = await contacts.delete_contact(
            info, contact_id=input.contact_id, confirm=input.confirm
        )
        return DeleteContactPayload(
            deleted_contact_id=to_global_id("Contact", pk) if pk is not None else None,
            user_errors=errors,
        )

    @strawberry.mutation(
        description="The organization's contacts as CSV, for a download (ADMIN+; audited).",
        permission_classes=ADMIN,
    )
    async def export_contacts(
        self, info: Info, input: ExportContactsInput | None = None
    ) -> ExportContactsPayload:
        where = input.filter if input is not None else None
        queryset = lists.contacts(
            info, where.search if where else None, None, where.to_filter() if where else None
        )
        text, count = await contacts.export_csv(info, queryset)
        return ExportContactsPayload(csv=text, count=count, user_errors=[])

    @strawberry.mutation(
        description="Add a label to the organization's list (ADMIN+).", permission_classes=ADMIN
    )
    async def create_label(self, info: Info, input: CreateLabelInput) -> CreateLabelPayload:
        row, errors = await labels.create_label(info, name=input.name, color=input.color)
        return CreateLabelPayload(
            label=Label.from_model(row) if row is not None else None, user_errors=errors
        )

    @strawberry.mutation(
        description="Set a conversation's labels (AGENT+).", permission_classes=AGENT
    )
    async def set_conversation_labels(
        self, info: Info, input: SetConversationLabelsInput
    ) -> SetConversationLabelsPayload:
        row, errors = await labels.set_conversation_labels(
            info, conversation_id=input.conversation_id, label_ids=list(input.label_ids)
        )
        return SetConversationLabelsPayload(conversation=_conversation(row), user_errors=errors)

    @strawberry.mutation(
        description="Add a private note to a conversation; it is never sent (AGENT+).",
        permission_classes=AGENT,
    )
    async def add_conversation_note(
        self, info: Info, input: AddConversationNoteInput
    ) -> AddConversationNotePayload:
        row, errors = await notes.add_note(
            info, conversation_id=input.conversation_id, body=input.body
        )
        return AddConversationNotePayload(
            note=ConversationNote.from_model(row) if row is not None else None,
            user_errors=errors,
        )

    @strawberry.mutation(
        description="Snooze a conversation (PENDING) until a time; it reopens then or on the "
        "customer's next message. `until: null` wakes it now (AGENT+).",
        permission_classes=AGENT,
    )
    async def snooze_conversation(
        self, info: Info, input: SnoozeConversationInput
    ) -> SnoozeConversationPayload:
        row, errors = await inbox.snooze(
            info, conversation_id=input.conversation_id, until=input.until
        )
        return SnoozeConversationPayload(conversation=_conversation(row), user_errors=errors)

    @strawberry.mutation(description="Save a canned response (ADMIN+).", permission_classes=ADMIN)
    async def create_canned_response(
        self, info: Info, input: CreateCannedResponseInput
    ) -> CreateCannedResponsePayload:
        row, errors = await canned.create_canned_response(
            info, shortcut=input.shortcut, body=input.body
        )
        return CreateCannedResponsePayload(
            canned_response=CannedResponse.from_model(row) if row is not None else None,
            user_errors=errors,
        )

    @strawberry.mutation(
        description="React to a message with an emoji, or remove the reaction with an empty "
        "one; sent like any message (inside the 24 h window) (AGENT+).",
        permission_classes=AGENT,
    )
    async def react_to_message(
        self, info: Info, input: ReactToMessageInput
    ) -> ReactToMessagePayload:
        row, errors = await messages.react_to_message(
            info,
            message_id=input.message_id,
            emoji=input.emoji,
            client_message_id=input.client_message_id,
        )
        return ReactToMessagePayload(
            message=Message.from_model(row) if row is not None else None, user_errors=errors
        )
