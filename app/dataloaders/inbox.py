"""Batch loaders for what the inbox adds to conversations and messages: a conversation's
labels, a message's reactions. Routing (teams, members, presence) is in
``app.dataloaders.routing``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from app.models.inbox import ConversationLabel, Label, MessageReaction


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
