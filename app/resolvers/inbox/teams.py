"""Teams, routing and the inbox settings: check the input, scope it, call the router."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tortoise.exceptions import IntegrityError

from app.inbox import routing, search
from app.models.accounts import Membership, Role
from app.models.messaging import Conversation, Device
from app.models.routing import (
    AgentPresence,
    Availability,
    DeviceRoute,
    InboxSettings,
    Team,
    TeamMember,
)
from app.platform.context import Info
from app.platform.ids import decode_id
from app.platform.scope import organization_id
from app.platform.user_errors import UserError, UserErrorCode, user_error

MAX_AWAY_MESSAGE = 4096
MAX_CAPACITY = 10_000

Errors = list[UserError]


def _not_found(field: str, what: str) -> UserError:
    return user_error(field, f"No such {what}.", UserErrorCode.NOT_FOUND)


async def _team(info: Info, team_id: str) -> Team | None:
    pk = decode_id(team_id, "Team", field=("input", "teamId"))
    return await Team.get_or_none(id=pk, organization_id=organization_id(info))


async def _membership(info: Info, member_id: str) -> Membership | None:
    pk = decode_id(member_id, "Member", field=("input", "memberId"))
    return await Membership.get_or_none(id=pk, organization_id=organization_id(info))


def _name_problem(name: str) -> UserError | None:
    if not 1 <= len(name) <= 100:
        return user_error("name", "A team's name has 1 to 100 characters.", UserErrorCode.INVALID)
    return None


async def teams(info: Info) -> list[Team]:
    return await Team.filter(organization_id=organization_id(info)).order_by("name", "id")


async def teams_by_id(info: Info, pks: Sequence[int]) -> dict[int, Team]:
    rows = await Team.filter(id__in=list(pks), organization_id=organization_id(info))
    return {row.id: row for row in rows}


async def create_team(info: Info, name: str) -> tuple[Team | None, Errors]:
    name = name.strip()
    if problem := _name_problem(name):
        return None, [problem]
    try:
        return await Team.create(organization_id=organization_id(info), name=name), []
    except IntegrityError:
        return None, [user_error("name", "A team has this name already.", UserErrorCode.TAKEN)]


async def rename_team(info: Info, team_id: str, name: str) -> tuple[Team | None, Errors]:
    team = await _team(info, team_id)
    if team is None:
        return None, [_not_found("teamId", "team")]
    name = name.strip()
    if problem := _name_problem(name):
        return None, [problem]
    team.name = name
    try:
        await team.save(update_fields=["name", "updated_at"])
    except IntegrityError:
        return None, [user_error("name", "A team has this name already.", UserErrorCode.TAKEN)]
    return team, []


async def delete_team(info: Info, team_id: str) -> tuple[int | None, Errors]:
    team = await _team(info, team_id)
    if team is None:
        return None, [_not_found("teamId", "team")]
    await team.delete()
    return team.id, []


async def add_team_member(info: Info, team_id: str, member_id: str) -> tuple[Team | None, Errors]:
    team = await _team(info, team_id)
    if team is None:
        return None, [_not_found("teamId", "team")]
    membership = await _membership(info, member_id)
    if membership is None:
        return None, [_not_found("memberId", "member")]
    await TeamMember.get_or_create(team_id=team.id, membership_id=membership.id)
    await routing.assign_waiting(info.context.runtime.broker, team.organization_id, team.id)
    return team, []


async def remove_team_member(
    info: Info, team_id: str, member_id: str
) -> tuple[Team | None, Errors]:
    team = await _team(info, team_id)
    if team is None:
        return None, [_not_found("teamId", "team")]
    membership = await _membership(info, member_id)
    if membership is None:
        return None, [_not_found("memberId", "member")]
    await TeamMember.filter(team_id=team.id, membership_id=membership.id).delete()
    return team, []


async def set_device_team(
    info: Info, device_id: str, team_id: str | None
) -> tuple[Device | None, Errors]:
    pk = decode_id(device_id, "Device", field=("input", "deviceId"))
    device = await Device.get_or_none(id=pk, organization_id=organization_id(info))
    if device is None:
        return None, [_not_found("deviceId", "device")]
    if team_id is None:
        await DeviceRoute.filter(device_id=device.id).delete()
        return device, []
    team = await _team(info, team_id)
    if team is None:
        return None, [_not_found("teamId", "team")]
    if not await DeviceRoute.filter(device_id=device.id).update(team_id=team.id):
        await DeviceRoute.create(device_id=device.id, team_id=team.id)
    return device, []


async def assign_conversation_to_team(
    info: Info, conversation_id: str, team_id: str | None
) -> tuple[Conversation | None, Errors]:
    pk = decode_id(conversation_id, "Conversation", field=("input", "conversationId"))
    conversation = await Conversation.get_or_none(id=pk, organization_id=organization_id(info))
    if conversation is None:
        return None, [_not_found("conversationId", "conversation")]
    team = None
    if team_id is not None:
        team = await _team(info, team_id)
        if team is None:
            return None, [_not_found("teamId", "team")]
    await routing.set_team(
        info.context.runtime.broker, conversation, team.id if team is not None else None
    )
    await conversation.refresh_from_db()
    return conversation, []


async def set_availability(
    info: Info, availability: Availability, member_id: str | None
) -> tuple[Membership | None, Errors]:
    """The viewer's own availability; an ADMIN+ may set another member's."""
    viewer = info.context.viewer
    assert viewer is not None
    if member_id is None:
        membership = await Membership.get_or_none(
            user_id=viewer.user.id, organization_id=organization_id(info)
        )
    else:
        membership = await _membership(info, member_id)
        others = membership is not None and membership.user_id != viewer.user.id
        if others and (viewer.role is None or not viewer.role.at_least(Role.ADMIN)):
            return None, [
                user_error(
                    "memberId",
                    "Only an ADMIN sets another member's availability.",
                    UserErrorCode.FORBIDDEN,
                )
            ]
    if membership is None:
        return None, [_not_found("memberId", "member")]
    await routing.set_availability(info.context.runtime.broker, membership, availability)
    return membership, []


async def set_agent_capacity(
    info: Info, member_id: str, capacity: int | None
) -> tuple[Membership | None, Errors]:
    membership = await _membership(info, member_id)
    if membership is None:
        return None, [_not_found("memberId", "member")]
    if capacity is not None and not 0 <= capacity <= MAX_CAPACITY:
        return None, [
            user_error("capacity", f"Between 0 and {MAX_CAPACITY}.", UserErrorCode.INVALID)
        ]
    presence, _ = await AgentPresence.get_or_create(membership_id=membership.id)
    presence.capacity = capacity
    await presence.save(update_fields=["capacity"])
    return membership, []


async def inbox_settings(info: Info) -> InboxSettings:
    org_id = organization_id(info)
    row = await InboxSettings.get_or_none(organization_id=org_id)
    return row if row is not None else InboxSettings(organization_id=org_id)


async def update_inbox_settings(
    info: Info, changes: dict[str, Any]
) -> tuple[InboxSettings | None, Errors]:
    """Change the settings named in ``changes`` (``awayMessage``, ``defaultCapacity``,
    ``searchLanguage``); a None value clears the first two."""
    away_message = changes.get("awayMessage")
    default_capacity = changes.get("defaultCapacity")
    search_language = changes.get("searchLanguage")
    errors = []
    if away_message is not None and len(away_message.strip()) > MAX_AWAY_MESSAGE:
        errors.append(
            user_error(
                "awayMessage", f"At most {MAX_AWAY_MESSAGE} characters.", UserErrorCode.INVALID
            )
        )
    if default_capacity is not None and not 0 <= default_capacity <= MAX_CAPACITY:
        errors.append(
            user_error("defaultCapacity", f"Between 0 and {MAX_CAPACITY}.", UserErrorCode.INVALID)
        )
    if "searchLanguage" in changes and search_language not in search.LANGUAGES:
        errors.append(
            user_error(
                "searchLanguage",
                f"One of {', '.join(sorted(search.LANGUAGES))}.",
                UserErrorCode.INVALID,
            )
        )
    if errors:
        return None, errors
    settings, _ = await InboxSettings.get_or_create(organization_id=organization_id(info))
    values: dict[str, Any] = {}
    if "awayMessage" in changes:
        values["away_message"] = (away_message or "").strip() or None
    if "defaultCapacity" in changes:
        values["default_capacity"] = default_capacity
    if search_language is not None:  # checked above: one of the languages
        values["search_language"] = search_language
    settings.update_from_dict(values)
    await settings.save()
    return settings, []
