"""Inbox actions on a conversation: read, assign, close, snooze, show typing."""

from __future__ import annotations

from datetime import datetime

from app.inbox import routing
from app.messaging import activity
from app.messaging.jobs import (
    MARK_READ_AT_PROVIDER,
    SEND_TYPING_INDICATOR,
    UNSNOOZE_CONVERSATION,
)
from app.messaging.typing import latest_inbound
from app.models.accounts import Membership
from app.models.inbox import ActivityKind
from app.models.messaging import (
    Conversation,
    ConversationStatus,
    Device,
    Direction,
    Message,
    Provider,
)
from app.platform import clock, events
from app.platform.context import Info
from app.platform.ids import decode_id
from app.platform.scope import organization_id
from app.platform.user_errors import UserError, UserErrorCode, user_error
from app.resolvers.messaging.devices import not_found

Result = tuple[Conversation | None, list[UserError]]


async def find_conversation(info: Info, conversation_id: str) -> Conversation | None:
    pk = decode_id(conversation_id, "Conversation", field=("input", "conversationId"))
    return await Conversation.get_or_none(id=pk, organization_id=organization_id(info))


async def _changed(info: Info, conversation: Conversation, fields: list[str]) -> Result:
    async with events.transaction():
        await conversation.save(update_fields=[*fields, "updated_at"])
        await events.publish(
            info.context.runtime.broker, events.ConversationEvent.of(conversation, "UPDATED")
        )
    return conversation, []


async def mark_read(info: Info, *, conversation_id: str) -> Result:
    conversation = await find_conversation(info, conversation_id)
    if conversation is None:
        return None, [not_found("conversationId", "conversation")]
    conversation.unread_count = 0
    await _mark_read_at_provider(info, conversation)
    return await _changed(info, conversation, ["unread_count"])


async def _mark_read_at_provider(info: Info, conversation: Conversation) -> None:
    """Meta shows the customer blue ticks up to the latest inbound message; a job tells it."""
    device = await Device.get(id=conversation.device_id)
    if device.provider is not Provider.CLOUD_API:
        return
    latest = (
        await Message.filter(
            conversation_id=conversation.id,
            direction=Direction.INBOUND,
            provider_message_id__isnull=False,
        )
        .order_by("-id")
        .first()
    )
    if latest is None:
        return
    await info.context.runtime.queues.enqueue(
        MARK_READ_AT_PROVIDER,
        key=f"mark-read:{latest.id}",
        message_id=latest.id,
        retries=5,
        retry_delay=1.0,
        retry_backoff=True,
        timeout=60,
    )


async def send_typing_indicator(info: Info, *, conversation_id: str) -> Result:
    """Show the customer "typing…" (and mark their latest message read), by a job."""
    conversation = await find_conversation(info, conversation_id)
    if conversation is None:
        return None, [not_found("conversationId", "conversation")]
    if await latest_inbound(conversation.id) is None:
        return None, [
            user_error(
                "conversationId",
                "The customer has written nothing yet: typing shows under their message.",
                UserErrorCode.CONFLICT,
            )
        ]
    await info.context.runtime.queues.enqueue(
        SEND_TYPING_INDICATOR, conversation_id=conversation.id, timeout=30
    )
    return conversation, []


async def assign(info: Info, *, conversation_id: str, assignee_id: str | None) -> Result:
    conversation = await find_conversation(info, conversation_id)
    if conversation is None:
        return None, [not_found("conversationId", "conversation")]
    user_pk = None
    if assignee_id is not None:
        user_pk = decode_id(assignee_id, "User", field=("input", "assigneeId"))
        if not await Membership.exists(
            user_id=user_pk, organization_id=conversation.organization_id
        ):
            return None, [
                user_error(
                    "assigneeId", "No such member in this organization.", UserErrorCode.NOT_FOUND
                )
            ]
    changed = conversation.assignee_id != user_pk
    conversation.assignee_id = user_pk
    if changed:
        kind = ActivityKind.ASSIGNED if user_pk is not None else ActivityKind.UNASSIGNED
        await activity.record(conversation, kind, _actor(info), assignee_id=user_pk)
    return await _changed(info, conversation, ["assignee_id"])


def _actor(info: Info) -> int | None:
    viewer = info.context.viewer
    return viewer.user.id if viewer is not None else None


async def close(info: Info, *, conversation_id: str) -> Result:
    conversation = await find_conversation(info, conversation_id)
    if conversation is None:
        return None, [not_found("conversationId", "conversation")]
    if conversation.status is not ConversationStatus.CLOSED:
        await activity.record(conversation, ActivityKind.CLOSED, _actor(info))
    conversation.status = ConversationStatus.CLOSED
    conversation.snoozed_until = None
    result = await _changed(info, conversation, ["status", "snoozed_until"])
    if conversation.assignee_id is not None:  # a place under their capacity is free
        await routing.freed(
            info.context.runtime.broker, conversation.organization_id, conversation.assignee_id
        )
    return result


async def snooze(info: Info, *, conversation_id: str, until: datetime | None) -> Result:
    """Put a conversation aside (PENDING) until ``until``; None wakes it now. The time
    passing (a job scheduled for it) or the customer's next message reopens it."""
    conversation = await find_conversation(info, conversation_id)
    if conversation is None:
        return None, [not_found("conversationId", "conversation")]
    if until is None:
        if conversation.snoozed_until is None:
            return conversation, []
        conversation.snoozed_until = None
        conversation.status = ConversationStatus.OPEN
        await activity.record(conversation, ActivityKind.UNSNOOZED, _actor(info))
        return await _changed(info, conversation, ["status", "snoozed_until"])
    if until.tzinfo is None:
        return None, [
            user_error("until", "Give the time with its offset, e.g. `Z`.", UserErrorCode.INVALID)
        ]
    if until <= clock.now():
        return None, [user_error("until", "Snooze until a time to come.", UserErrorCode.INVALID)]
    conversation.snoozed_until = until
    conversation.status = ConversationStatus.PENDING
    await activity.record(conversation, ActivityKind.SNOOZED, _actor(info), until=until.isoformat())
    await info.context.runtime.queues.enqueue(
        UNSNOOZE_CONVERSATION,
        key=f"unsnooze:{conversation.id}:{int(until.timestamp())}",
        scheduled=int(until.timestamp()) + 1,
        conversation_id=conversation.id,
        timeout=60,
    )
    return await _changed(info, conversation, ["status", "snoozed_until"])
