"""Batch loaders for the inbox's additions: a conversation's labels and team, a message's
reactions, a team's members and their presence."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from app.inbox import routing
from app.models.accounts import Membership
from app.models.inbox import ConversationLabel, Label, MessageReaction
from app.models.routing import AgentPresence, ConversationRoute, Team, TeamMember


async def _load_labels(keys: Sequence[int]) -> list[list[Label]]:
    links = await ConversationLabel.filter(conversation_id__in=list(set(keys))).values_list(
        "conversation_id", "label_id"
    )
    labels = {
        label.id: label
        for label in await Label.filter(id__in=list({label_id for _, label_id in links}))
    }
    by_conversation: dict[int, list[Label]] = defaultdict(list)
    for conversation_id, label_id in links:
        if label_id in labels:
            by_conversation[conversation_id].append(labels[label_id])
    return [sorted(by_conversation[key], key=lambda label: label.name) for key in keys]


def labels_by_conversation() -> DataLoader[int, list[Label]]:
    return DataLoader(load_fn=_load_labels)


async def _load_reactions(keys: Sequence[int]) -> list[list[MessageReaction]]:
    rows = (
        await MessageReaction.filter(message_id__in=list(set(keys)))
        .exclude(emoji="")
        .order_by("reacted_at", "id")
    )
    by_message: dict[int, list[MessageReaction]] = defaultdict(list)
    for row in rows:
        by_message[row.message_id].append(row)
    return [by_message[key] for key in keys]


def reactions_by_message() -> DataLoader[int, list[MessageReaction]]:
    return DataLoader(load_fn=_load_reactions)


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
