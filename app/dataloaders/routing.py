"""Batch loaders for routing conversations to people: a conversation's team, a team's
members, a member's presence and the open conversations they hold."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from app.inbox import routing
from app.models.accounts import Membership
from app.models.routing import AgentPresence, ConversationRoute, Team, TeamMember


async def _teams_of_conversations(keys: Sequence[int]) -> list[Team | None]:
    routes = await ConversationRoute.filter(
        conversation_id__in=list(set(keys)), team_id__isnull=False
    ).select_related("team")
    by_conversation = {route.conversation_id: route.team for route in routes}
    return [by_conversation.get(key) for key in keys]


async def _members_of_teams(keys: Sequence[int]) -> list[list[Membership]]:
    rows = await TeamMember.filter(team_id__in=list(set(keys))).select_related("membership")
    by_team: dict[int, list[Membership]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r.id):
        by_team[row.team_id].append(row.membership)
    return [by_team.get(key, []) for key in keys]


async def _presences(keys: Sequence[int]) -> list[AgentPresence | None]:
    rows = await AgentPresence.filter(membership_id__in=list(set(keys)))
    by_membership = {row.membership_id: row for row in rows}
    return [by_membership.get(key) for key in keys]


def team_by_conversation() -> DataLoader[int, Team | None]:
    return DataLoader(load_fn=_teams_of_conversations)


def members_by_team() -> DataLoader[int, list[Membership]]:
    return DataLoader(load_fn=_members_of_teams)


def presence_by_membership() -> DataLoader[int, AgentPresence | None]:
    return DataLoader(load_fn=_presences)


async def _open_counts(keys: Sequence[tuple[int, int]]) -> list[int]:
    by_org: dict[int, set[int]] = defaultdict(set)
    for org_id, user_id in keys:
        by_org[org_id].add(user_id)
    counts = {
        (org_id, user_id): count
        for org_id, user_ids in by_org.items()
        for user_id, count in (await routing.open_counts(org_id, sorted(user_ids))).items()
    }
    return [counts.get(key, 0) for key in keys]


def open_conversations_by_member() -> DataLoader[tuple[int, int], int]:
    """Open conversations held, by (organization id, user id)."""
    return DataLoader(load_fn=_open_counts)
