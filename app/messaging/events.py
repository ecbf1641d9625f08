"""Live events: published on a Redis channel per organization and topic, read per subscriber.

Whichever process causes an event publishes it; the payload holds ids only, so each subscriber
re-reads the rows with its own, fresh loaders and sees them through its own organization.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Protocol

from app.errors import Unauthenticated
from app.models.accounts import Membership
from app.models.messaging import Conversation, Device, Message
from app.platform.context import Info
from app.platform.pubsub import Broker
from app.platform.scope import organization_id
from app.platform.security import revoked_jti_key, revoked_session_key

MESSAGES = "messages"
CONVERSATIONS = "conversations"
DEVICES = "devices"


class MessageIds(Protocol):
    """What a message event names: a ``Message``, or a lighter row of the same ids."""

    @property
    def id(self) -> int: ...
    @property
    def organization_id(self) -> int: ...
    @property
    def conversation_id(self) -> int: ...
    @property
    def device_id(self) -> int: ...


class ConversationIds(Protocol):
    """What a conversation event names: a ``Conversation``, or a lighter row of its ids."""

    @property
    def id(self) -> int: ...
    @property
    def organization_id(self) -> int: ...
    @property
    def device_id(self) -> int: ...


def channel(org_id: int, topic: str) -> str:
    return f"org:{org_id}:{topic}"


def _message_payload(message: MessageIds, kind: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "organization_id": message.organization_id,
        "message_id": message.id,
        "conversation_id": message.conversation_id,
        "device_id": message.device_id,
    }


async def message_event(broker: Broker, message: Message, kind: str) -> None:
    await broker.publish(
        channel(message.organization_id, MESSAGES), _message_payload(message, kind)
    )


async def message_events(broker: Broker, messages: Sequence[MessageIds], kind: str) -> None:
    """The same event for many messages, published in one round trip."""
    await broker.publish_many(
        [(channel(m.organization_id, MESSAGES), _message_payload(m, kind)) for m in messages]
    )


def _conversation_payload(conversation: ConversationIds, kind: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "organization_id": conversation.organization_id,
        "conversation_id": conversation.id,
        "device_id": conversation.device_id,
    }


async def conversation_event(broker: Broker, conversation: Conversation, kind: str) -> None:
    await broker.publish(
        channel(conversation.organization_id, CONVERSATIONS),
        _conversation_payload(conversation, kind),
    )


async def conversation_events(
    broker: Broker, conversations: Sequence[ConversationIds], kind: str
) -> None:
    """The same event for many conversations, published in one round trip."""
    await broker.publish_many(
        [
            (channel(c.organization_id, CONVERSATIONS), _conversation_payload(c, kind))
            for c in conversations
        ]
    )


async def device_event(broker: Broker, device: Device) -> None:
    await broker.publish(
        channel(device.organization_id, DEVICES),
        {
            "kind": "STATUS_CHANGED",
            "organization_id": device.organization_id,
            "device_id": device.id,
            "status": device.status.value,
        },
    )


async def authorized(info: Info, org_id: int, *, membership: bool = True) -> bool:
    """Whether the subscription may go on; raises UNAUTHENTICATED when its session or token
    was revoked. In a shared group (app/live) every member is checked and only the failing
    ones end; the group goes on while one is left."""
    group = getattr(info.context, "live_group", None)
    if group is not None:
        return bool(await group.authorize(org_id, membership=membership))
    viewer = info.context.viewer
    assert viewer is not None
    revoked_keys = [revoked_jti_key(viewer.claims.jti)]
    if viewer.claims.session_id is not None:
        revoked_keys.append(revoked_session_key(viewer.claims.session_id))
    if await info.context.runtime.redis.exists(*revoked_keys):
        raise Unauthenticated("The session has been revoked.")
    return not membership or await Membership.exists(user_id=viewer.user.id, organization_id=org_id)


@contextlib.asynccontextmanager
async def listen(
    info: Info, topic: str, accept: Callable[[dict[str, Any]], bool]
) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
    """Subscribed on entry (so nothing published from then on is missed), the events of the
    viewer's organization on ``topic`` that ``accept`` lets through, as they are iterated."""
    org_id = organization_id(info)
    runtime = info.context.runtime
    async with runtime.broker.subscribe(
        channel(org_id, topic), idle_seconds=runtime.settings.subscription_auth_check_seconds
    ) as events:
        yield _authorized_events(info, org_id, events, accept)


async def _authorized_events(
    info: Info,
    org_id: int,
    events: AsyncIterator[dict[str, Any] | None],
    accept: Callable[[dict[str, Any]], bool],
) -> AsyncIterator[dict[str, Any]]:
    async for event in events:
        # A revoked session or token ends its subscriptions, even while nothing happens.
        if event is None or event.get("organization_id") != org_id or not accept(event):
            if not await authorized(info, org_id, membership=False):
                return
            continue
        # Authorized per event: a member removed mid-subscription stops receiving.
        if not await authorized(info, org_id):
            return
        info.context.loaders.clear()
        yield event


async def stream(
    info: Info, topic: str, accept: Callable[[dict[str, Any]], bool]
) -> AsyncIterator[dict[str, Any]]:
    """The events of the viewer's organization on ``topic`` that ``accept`` lets through."""
    async with listen(info, topic, accept) as events:
        async for event in events:
            yield event
