"""The inbox's additions as GraphQL types: labels, reactions, private notes, activity and
canned responses. (``Conversation`` and ``Message`` in ``types.py`` point at them.)"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from app.dataloaders import messaging as loaders
from app.models import inbox as models
from app.platform.context import Info
from app.platform.ids import to_global_id
from app.schema.accounts.types import UserType
from app.schema.messaging.enums import Direction
from app.schema.node import Node

ActivityKind = models.ActivityKind
strawberry.enum(models.ActivityKind, description="What happened to a conversation.")


@strawberry.type(description="One of the organization's labels, set on conversations.")
class Label(Node):
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    name: str = strawberry.field(description="The label's name, unique in the organization.")
    color: str = strawberry.field(description="Its colour, `#RRGGBB`.")

    @classmethod
    def from_model(cls, row: models.Label) -> Label:
        return cls(id=to_global_id("Label", row.id), name=row.name, color=row.color)


@strawberry.type(description="An emoji on a message: the customer's or the business's.")
class Reaction:
    emoji: str = strawberry.field(description="The emoji.")
    direction: Direction = strawberry.field(
        description="INBOUND: the customer's reaction; OUTBOUND: the business's."
    )
    created_at: datetime = strawberry.field(description="When it was (last) set.")

    @classmethod
    def from_model(cls, row: models.MessageReaction) -> Reaction:
        return cls(emoji=row.emoji, direction=row.direction, created_at=row.reacted_at)


async def _user(info: Info, user_id: int | None) -> UserType | None:
    if user_id is None:
        return None
    row = await info.context.loaders.get(loaders.user_by_id).load(user_id)
    return UserType.from_model(row) if row is not None else None


@strawberry.type(
    description="A private note of the team on a conversation: members see it, the customer "
    "never does."
)
class ConversationNote(Node):
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    body: str = strawberry.field(description="The note's text.")
    created_at: datetime = strawberry.field(description="When it was written.")
    row: strawberry.Private[models.ConversationNote]

    @classmethod
    def from_model(cls, row: models.ConversationNote) -> ConversationNote:
        return cls(
            id=to_global_id("ConversationNote", row.id),
            body=row.body,
            created_at=row.created_at,
            row=row,
        )

    @strawberry.field(description="The member who wrote it (null once they left).")
    async def author(self, info: Info) -> UserType | None:
        return await _user(info, self.row.author_id)


@strawberry.type(
    description="Something that happened to a conversation: assigned, labelled, closed, "
    "snoozed, reopened."
)
class ConversationActivity:
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    kind: ActivityKind = strawberry.field(description="What happened.")
    created_at: datetime = strawberry.field(description="When.")
    data: JSON = strawberry.field(
        description="The details: `assignee_id` (ASSIGNED), `labels` (LABELLED, the names "
        "set), `until` (SNOOZED), `reason` (REOPENED: `customer_message` or `snooze_ended`)."
    )
    row: strawberry.Private[models.ConversationActivity]

    @classmethod
    def from_model(cls, row: models.ConversationActivity) -> ConversationActivity:
        data: dict[str, Any] = dict(row.data or {})
        if data.get("assignee_id") is not None:
            data["assignee_id"] = to_global_id("User", data["assignee_id"])
        return cls(
            id=to_global_id("ConversationActivity", row.id),
            kind=row.kind,
            created_at=row.created_at,
            data=JSON(data),
            row=row,
        )

    @strawberry.field(description="The member who did it; null when the system did.")
    async def actor(self, info: Info) -> UserType | None:
        return await _user(info, self.row.actor_id)

    @strawberry.field(description="ASSIGNED: the member it was assigned to.")
    async def assignee(self, info: Info) -> UserType | None:
        value = (self.row.data or {}).get("assignee_id")
        return await _user(info, value if isinstance(value, int) else None)


@strawberry.type(
    description="A saved reply: `sendMessage(cannedResponseId:)` sends its body with "
    "`{{contact.name}}`, `{{contact.phoneNumber}}`, `{{agent.name}}` and "
    "`{{contact.attributes.<key>}}` filled in."
)
class CannedResponse(Node):
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    shortcut: str = strawberry.field(description="What an agent types to find it, e.g. `hours`.")
    body: str = strawberry.field(description="The text, with its variables.")
    created_at: datetime = strawberry.field(description="When it was saved.")

    @classmethod
    def from_model(cls, row: models.CannedResponse) -> CannedResponse:
        return cls(
            id=to_global_id("CannedResponse", row.id),
            shortcut=row.shortcut,
            body=row.body,
            created_at=row.created_at,
        )
