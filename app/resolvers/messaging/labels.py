"""Labels: an organization's list, with colours, set on conversations."""

from __future__ import annotations

import re

from tortoise.exceptions import IntegrityError
from tortoise.queryset import QuerySet

from app.messaging import activity
from app.models.inbox import ActivityKind, ConversationLabel, Label
from app.models.messaging import Conversation
from app.platform import events
from app.platform.context import Info
from app.platform.ids import decode_id
from app.platform.scope import organization_id
from app.platform.user_errors import UserError, UserErrorCode, user_error
from app.resolvers.messaging.devices import not_found
from app.resolvers.messaging.inbox import find_conversation

MAX_NAME = 64
MAX_LABELS = 50  # on one conversation
DEFAULT_COLOR = "#6B7280"  # a grey
_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")


def labels(info: Info) -> QuerySet[Label]:
    return Label.filter(organization_id=organization_id(info)).order_by("name", "id")


async def create_label(
    info: Info, *, name: str, color: str | None
) -> tuple[Label | None, list[UserError]]:
    name = name.strip()
    if not 0 < len(name) <= MAX_NAME:
        return None, [
            user_error("name", f"A name is 1 to {MAX_NAME} characters.", UserErrorCode.INVALID)
        ]
    if color is not None and not _COLOR.match(color):
        return None, [
            user_error("color", "A colour is `#RRGGBB`, e.g. `#22C55E`.", UserErrorCode.INVALID)
        ]
    org_id = organization_id(info)
    if await Label.exists(organization_id=org_id, name=name):
        return None, [user_error("name", "A label with this name exists.", UserErrorCode.TAKEN)]
    try:
        label = await Label.create(
            organization_id=org_id, name=name, color=color.upper() if color else DEFAULT_COLOR
        )
    except IntegrityError:
        return None, [user_error("name", "A label with this name exists.", UserErrorCode.TAKEN)]
    return label, []


async def set_conversation_labels(
    info: Info, *, conversation_id: str, label_ids: list[str]
) -> tuple[Conversation | None, list[UserError]]:
    """Replace the conversation's labels with ``label_ids`` (an empty list clears them)."""
    conversation = await find_conversation(info, conversation_id)
    if conversation is None:
        return None, [not_found("conversationId", "conversation")]
    if len(label_ids) > MAX_LABELS:
        return None, [
            user_error("labelIds", f"At most {MAX_LABELS} labels.", UserErrorCode.INVALID)
        ]
    pks = list(dict.fromkeys(decode_id(i, "Label", field=("input", "labelIds")) for i in label_ids))
    found = await Label.filter(id__in=pks, organization_id=conversation.organization_id)
    if len(found) != len(pks):
        return None, [not_found("labelIds", "label")]
    current = set(
        await ConversationLabel.filter(conversation_id=conversation.id).values_list(
            "label_id", flat=True
        )
    )
    wanted = set(pks)
    if current == wanted:
        return conversation, []
    viewer = info.context.viewer
    names = sorted(label.name for label in found)
    async with events.transaction():
        if removed := current - wanted:
            await ConversationLabel.filter(
                conversation_id=conversation.id, label_id__in=list(removed)
            ).delete()
        if added := wanted - current:
            # A label set by a concurrent request meanwhile is left as it is.
            await ConversationLabel.bulk_create(
                [ConversationLabel(conversation_id=conversation.id, label_id=pk) for pk in added],
                ignore_conflicts=True,
            )
        await activity.record(
            conversation,
            ActivityKind.LABELLED,
            viewer.user.id if viewer is not None else None,
            labels=names,
        )
        await conversation.save(update_fields=["updated_at"])
        await events.publish(
            info.context.runtime.broker, events.ConversationEvent.of(conversation, "UPDATED")
        )
    return conversation, []
