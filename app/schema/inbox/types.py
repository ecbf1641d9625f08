"""The inbox change log, search and teams as GraphQL types."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.dataloaders import messaging as loaders
from app.inbox import sync
from app.models.inbox_sync import InboxChange
from app.platform.context import Info
from app.platform.pagination import encode_cursor
from app.schema.messaging.types import Conversation, Message
from app.schema.pagination import Connection

InboxEventKind = sync.InboxEventKind
strawberry.enum(
    sync.InboxEventKind,
    description="What changed: a message (created, status, edited or deleted) or a "
    "conversation (created; or read, assigned, closed, AI on/off, new message, ...).",
)


@strawberry.type(
    description="One change of the organization's inbox. `conversation` and `message` are "
    "read as they are now (null when gone); a client applies them in `cursor` order."
)
class InboxEvent:
    row: strawberry.Private[InboxChange]

    @strawberry.field(
        description="Where this change sits in the organization's inbox log: "
        "`inboxEvents(after:)` and `inboxChanges(after:)` resume after it."
    )
    def cursor(self) -> str:
        return encode_cursor(self.row.seq)

    @strawberry.field(description="What changed.")
    def kind(self) -> InboxEventKind:
        return InboxEventKind(self.row.kind)

    @strawberry.field(description="When the change was recorded.")
    def at(self) -> datetime:
        return self.row.created_at

    @strawberry.field(description="The conversation changed (or the message's), as it is now.")
    async def conversation(self, info: Info) -> Conversation | None:
        if self.row.conversation_id is None:
            return None
        row = await info.context.loaders.get(loaders.conversation_by_id).load(
            self.row.conversation_id
        )
        if row is None or row.organization_id != self.row.organization_id:
            return None
        return Conversation.from_model(row)

    @strawberry.field(description="The message changed, as it is now (message changes only).")
    async def message(self, info: Info) -> Message | None:
        if self.row.message_id is None:
            return None
        row = await info.context.loaders.get(loaders.message_by_id).load(self.row.message_id)
        if row is None or row.organization_id != self.row.organization_id:
            return None
        return Message.from_model(row)


@strawberry.type(description="A page of inbox changes, oldest first.")
class InboxChangeConnection(Connection[InboxEvent]):
    head: strawberry.Private[int]

    @strawberry.field(
        description="The cursor of the organization's latest change when this page was read. "
        "Read it, then load the inbox, then subscribe with `inboxEvents(after:)` it: nothing "
        "is missed in between."
    )
    def head_cursor(self) -> str:
        return encode_cursor(self.head)
