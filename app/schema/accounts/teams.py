"""Teams of members, and each member's availability for automatic assignment."""

from __future__ import annotations

import strawberry

from app.dataloaders import routing as loaders
from app.models import routing as models
from app.platform.context import Info
from app.platform.ids import to_global_id
from app.schema.accounts.types import MemberType
from app.schema.node import Node

Availability = models.Availability
strawberry.enum(
    models.Availability,
    description="Whether a member takes new conversations: ONLINE, or AWAY (none, and their "
    "open team conversations go to the others).",
)


@strawberry.type(description="A member as a team's router sees them.")
class TeamAgent:
    member: MemberType = strawberry.field(description="The member.")

    @strawberry.field(description="Whether they take new conversations.")
    async def availability(self, info: Info) -> Availability:
        presence = await info.context.loaders.get(loaders.presence_by_membership).load(
            self.member.model.id
        )
        return presence.availability if presence is not None else Availability.ONLINE

    @strawberry.field(
        description="Open conversations they may hold before they get no more (their own; "
        "null: the organization's default, or unlimited)."
    )
    async def capacity(self, info: Info) -> int | None:
        presence = await info.context.loaders.get(loaders.presence_by_membership).load(
            self.member.model.id
        )
        return presence.capacity if presence is not None else None

    @strawberry.field(description="Open (not CLOSED) conversations assigned to them.")
    async def open_conversations(self, info: Info) -> int:
        membership = self.member.model
        return await info.context.loaders.get(loaders.open_conversations_by_member).load(
            (membership.organization_id, membership.user_id)
        )


@strawberry.type(description="A team of members that conversations can be given to.")
class Team(Node):
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    name: str = strawberry.field(description="The team's name, unique in the organization.")
    row: strawberry.Private[models.Team]

    @classmethod
    def from_model(cls, row: models.Team) -> Team:
        return cls(id=to_global_id("Team", row.id), name=row.name, row=row)

    @strawberry.field(description="The team's members.")
    async def members(self, info: Info) -> list[MemberType]:
        rows = await info.context.loaders.get(loaders.members_by_team).load(self.row.id)
        return [MemberType.from_model(row) for row in rows]

    @strawberry.field(
        description="The team's members with their availability, capacity and open "
        "conversations: what automatic assignment goes by."
    )
    async def agents(self, info: Info) -> list[TeamAgent]:
        rows = await info.context.loaders.get(loaders.members_by_team).load(self.row.id)
        return [TeamAgent(member=MemberType.from_model(row)) for row in rows]
