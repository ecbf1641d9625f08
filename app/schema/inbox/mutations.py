"""Teams, routing and the inbox settings."""

from __future__ import annotations

from typing import Any

import strawberry

from app.models import routing as models
from app.models.accounts import Membership, Role
from app.models.messaging import Conversation as ConversationRow
from app.models.messaging import Device as DeviceRow
from app.platform.context import Info
from app.platform.ids import to_global_id
from app.resolvers.inbox import teams
from app.schema.accounts.teams import Availability, Team
from app.schema.accounts.types import MemberType
from app.schema.messaging.types import Conversation, Device
from app.schema.permissions import HasRole
from app.schema.user_errors import UserError

ADMIN = [HasRole(Role.ADMIN)]
AGENT = [HasRole(Role.AGENT)]


@strawberry.type(description="How the organization's inbox routes and searches.")
class InboxSettings:
    away_message: str | None = strawberry.field(
        description="Sent once per conversation per closed period to a customer who writes "
        "outside the business hours (`setBusinessHours`); null: none."
    )
    default_capacity: int | None = strawberry.field(
        description="Open conversations a member may hold before automatic assignment skips "
        "them, unless they have their own; null: unlimited."
    )
    search_language: str = strawberry.field(
        description="PostgreSQL text search configuration new messages are indexed in (e.g. "
        "`english`: stems words; `simple`, the default: does not). Messages keep the one they "
        "were indexed in."
    )

    @classmethod
    def from_model(cls, row: models.InboxSettings) -> InboxSettings:
        return cls(
            away_message=row.away_message,
            default_capacity=row.default_capacity,
            search_language=row.search_language,
        )


def _team(row: models.Team | None) -> Team | None:
    return Team.from_model(row) if row is not None else None


def _member(row: Membership | None) -> MemberType | None:
    return MemberType.from_model(row) if row is not None else None


@strawberry.input(description="A new team.")
class CreateTeamInput:
    name: str = strawberry.field(description="Unique in the organization.")


@strawberry.type(description="The result of createTeam.")
class CreateTeamPayload:
    team: Team | None = strawberry.field(description="The team.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.input(description="A team's new name.")
class RenameTeamInput:
    team_id: strawberry.ID = strawberry.field(description="The team.")
    name: str = strawberry.field(description="Unique in the organization.")


@strawberry.type(description="The result of renameTeam.")
class RenameTeamPayload:
    team: Team | None = strawberry.field(description="The team.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.input(description="A team.")
class TeamIdInput:
    team_id: strawberry.ID = strawberry.field(description="The team.")


@strawberry.type(description="The result of deleteTeam.")
class DeleteTeamPayload:
    deleted_team_id: strawberry.ID | None = strawberry.field(description="The team deleted.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.input(description="A member of a team.")
class TeamMemberInput:
    team_id: strawberry.ID = strawberry.field(description="The team.")
    member_id: strawberry.ID = strawberry.field(description="The member (`Member.id`).")


@strawberry.type(description="The result of addTeamMember.")
class AddTeamMemberPayload:
    team: Team | None = strawberry.field(description="The team.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.type(description="The result of removeTeamMember.")
class RemoveTeamMemberPayload:
    team: Team | None = strawberry.field(description="The team.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.input(description="Which team a device's new conversations go to.")
class SetDeviceTeamInput:
    device_id: strawberry.ID = strawberry.field(description="The device.")
    team_id: strawberry.ID | None = strawberry.field(
        default=None, description="The team; null: no team."
    )


@strawberry.type(description="The result of setDeviceTeam.")
class SetDeviceTeamPayload:
    device: Device | None = strawberry.field(description="The device.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.input(description="Which team handles a conversation.")
class AssignConversationToTeamInput:
    conversation_id: strawberry.ID = strawberry.field(description="The conversation.")
    team_id: strawberry.ID | None = strawberry.field(
        default=None, description="The team; null: no team."
    )


@strawberry.type(description="The result of assignConversationToTeam.")
class AssignConversationToTeamPayload:
    conversation: Conversation | None = strawberry.field(description="The conversation.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.input(description="Whether a member takes new conversations.")
class SetAvailabilityInput:
    availability: Availability = strawberry.field(description="ONLINE or AWAY.")
    member_id: strawberry.ID | None = strawberry.field(
        default=None, description="Another member (ADMIN+); default: the viewer."
    )


@strawberry.type(description="The result of setAvailability.")
class SetAvailabilityPayload:
    member: MemberType | None = strawberry.field(description="The member.")
    availability: Availability | None = strawberry.field(description="Their availability now.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.input(description="How many open conversations a member may hold.")
class SetAgentCapacityInput:
    member_id: strawberry.ID = strawberry.field(description="The member.")
    capacity: int | None = strawberry.field(
        default=None, description="0 to 10,000; null: the organization's default."
    )


@strawberry.type(description="The result of setAgentCapacity.")
class SetAgentCapacityPayload:
    member: MemberType | None = strawberry.field(description="The member.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.input(description="Inbox settings to change; fields left out stay as they are.")
class UpdateInboxSettingsInput:
    away_message: str | None = strawberry.field(
        default=strawberry.UNSET, description="The out-of-hours reply; null: none."
    )
    default_capacity: int | None = strawberry.field(
        default=strawberry.UNSET, description="0 to 10,000; null: unlimited."
    )
    search_language: str | None = strawberry.field(
        default=strawberry.UNSET, description="A PostgreSQL text search configuration."
    )


@strawberry.type(description="The result of updateInboxSettings.")
class UpdateInboxSettingsPayload:
    inbox_settings: InboxSettings | None = strawberry.field(description="The settings now.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.type
class InboxMutation:
    @strawberry.mutation(description="Create a team (ADMIN+).", permission_classes=ADMIN)
    async def create_team(self, info: Info, input: CreateTeamInput) -> CreateTeamPayload:
        row, errors = await teams.create_team(info, input.name)
        return CreateTeamPayload(team=_team(row), user_errors=errors)

    @strawberry.mutation(description="Rename a team (ADMIN+).", permission_classes=ADMIN)
    async def rename_team(self, info: Info, input: RenameTeamInput) -> RenameTeamPayload:
        row, errors = await teams.rename_team(info, input.team_id, input.name)
        return RenameTeamPayload(team=_team(row), user_errors=errors)

    @strawberry.mutation(
        description="Delete a team; its conversations keep their assignees (ADMIN+).",
        permission_classes=ADMIN,
    )
    async def delete_team(self, info: Info, input: TeamIdInput) -> DeleteTeamPayload:
        pk, errors = await teams.delete_team(info, input.team_id)
        deleted = strawberry.ID(to_global_id("Team", pk)) if pk is not None else None
        return DeleteTeamPayload(deleted_team_id=deleted, user_errors=errors)

    @strawberry.mutation(
        description="Add a member to a team; they pick up its waiting conversations (ADMIN+).",
        permission_classes=ADMIN,
    )
    async def add_team_member(self, info: Info, input: TeamMemberInput) -> AddTeamMemberPayload:
        row, errors = await teams.add_team_member(info, input.team_id, input.member_id)
        return AddTeamMemberPayload(team=_team(row), user_errors=errors)

    @strawberry.mutation(description="Take a member off a team (ADMIN+).", permission_classes=ADMIN)
    async def remove_team_member(
        self, info: Info, input: TeamMemberInput
    ) -> RemoveTeamMemberPayload:
        row, errors = await teams.remove_team_member(info, input.team_id, input.member_id)
        return RemoveTeamMemberPayload(team=_team(row), user_errors=errors)

    @strawberry.mutation(
        description="Send a device's new conversations to a team, where they are assigned "
        "round robin (ADMIN+).",
        permission_classes=ADMIN,
    )
    async def set_device_team(self, info: Info, input: SetDeviceTeamInput) -> SetDeviceTeamPayload:
        row, errors = await teams.set_device_team(info, input.device_id, input.team_id)
        return SetDeviceTeamPayload(
            device=Device.from_model(row) if isinstance(row, DeviceRow) else None,
            user_errors=errors,
        )

    @strawberry.mutation(
        description="Give a conversation to a team; an open, unassigned one is assigned to "
        "the team's next available member at once (AGENT+).",
        permission_classes=AGENT,
    )
    async def assign_conversation_to_team(
        self, info: Info, input: AssignConversationToTeamInput
    ) -> AssignConversationToTeamPayload:
        row, errors = await teams.assign_conversation_to_team(
            info, input.conversation_id, input.team_id
        )
        return AssignConversationToTeamPayload(
            conversation=Conversation.from_model(row) if isinstance(row, ConversationRow) else None,
            user_errors=errors,
        )

    @strawberry.mutation(
        description="Go ONLINE or AWAY (AGENT+; another member's: ADMIN+). AWAY hands your "
        "open team conversations to the others; ONLINE picks up what waits in your teams.",
        permission_classes=AGENT,
    )
    async def set_availability(
        self, info: Info, input: SetAvailabilityInput
    ) -> SetAvailabilityPayload:
        row, errors = await teams.set_availability(info, input.availability, input.member_id)
        return SetAvailabilityPayload(
            member=_member(row),
            availability=input.availability if row is not None else None,
            user_errors=errors,
        )

    @strawberry.mutation(
        description="Set how many open conversations a member may hold (ADMIN+).",
        permission_classes=ADMIN,
    )
    async def set_agent_capacity(
        self, info: Info, input: SetAgentCapacityInput
    ) -> SetAgentCapacityPayload:
        row, errors = await teams.set_agent_capacity(info, input.member_id, input.capacity)
        return SetAgentCapacityPayload(member=_member(row), user_errors=errors)

    @strawberry.mutation(
        description="Change the away message, the default capacity or the search language "
        "(ADMIN+).",
        permission_classes=ADMIN,
    )
    async def update_inbox_settings(
        self, info: Info, input: UpdateInboxSettingsInput
    ) -> UpdateInboxSettingsPayload:
        given: dict[str, Any] = {
            name: value
            for name, value in (
                ("awayMessage", input.away_message),
                ("defaultCapacity", input.default_capacity),
                ("searchLanguage", input.search_language),
            )
            if value is not strawberry.UNSET
        }
        row, errors = await teams.update_inbox_settings(info, given)
        return UpdateInboxSettingsPayload(
            inbox_settings=InboxSettings.from_model(row) if row is not None else None,
            user_errors=errors,
        )
