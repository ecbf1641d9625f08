"""Inbox actions on a conversation: read, assign, close, show typing."""

from __future__ import annotations

from app.messaging.jobs import MARK_READ_AT_PROVIDER, SEND_TYPING_INDICATOR
from app.messaging.typing import latest_inbound
from app.models.accounts import Membership
from app.models.messaging import (
    Conversation,
    ConversationStatus,
    Device,
    Direction,
    Message,
    Provider,
)
from app.platform import events
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
    conversation.assignee_id = user_pk
    return await _changed(info, conversation, ["assignee_id"])


async def close(info: Info, *, conversation_id: str) -> Result:
    conversation = await find_conversation(info, conversation_id)
    if conversation is None:
        return None, [not_found("conversationId", "conversation")]
    conversation.status = ConversationStatus.CLOSED
    return await _changed(info, conversation, ["status"])
