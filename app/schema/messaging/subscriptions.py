"""Live messaging events over WebSocket."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from app.context import Info
from app.dataloaders import messaging as loaders
from app.permissions import IsAuthenticated
from app.resolvers.messaging import events
from app.resolvers.messaging.scope import in_organization, organization_id
from app.schema.messaging.types import (
    Conversation,
    ConversationEvent,
    ConversationEventKind,
    Device,
    DeviceEvent,
    Message,
    MessageEvent,
    MessageEventKind,
)
from app.schema.node import decode_id


@strawberry.type
class MessagingSubscription:
    @strawberry.subscription(
        description="Messages created and status changes: of one conversation, one device, "
        "or (no argument) the organization's whole inbox.",
        permission_classes=[IsAuthenticated],
    )
    async def message_events(
        self,
        info: Info,
        conversation_id: strawberry.ID | None = None,
        device_id: strawberry.ID | None = None,
    ) -> AsyncGenerator[MessageEvent, None]:
        conversation_pk = (
            decode_id(conversation_id, "Conversation", field="conversationId")
            if conversation_id is not None
            else None
        )
        device_pk = decode_id(device_id, "Device", field="deviceId") if device_id else None
        org_id = organization_id(info)

        def accept(event: dict[str, object]) -> bool:
            return conversation_pk in (None, event["conversation_id"]) and device_pk in (
                None,
                event["device_id"],
            )

        async for event in events.stream(info, events.MESSAGES, accept):
            row = await info.context.loaders.get(loaders.message_by_id).load(event["message_id"])
            row = in_organization([row], org_id)[0]
            if row is not None:
                yield MessageEvent(
                    kind=MessageEventKind(event["kind"]), message=Message.from_model(row)
                )

    @strawberry.subscription(
        description="Conversations created or changed in the organization's inbox.",
        permission_classes=[IsAuthenticated],
    )
    async def conversation_events(self, info: Info) -> AsyncGenerator[ConversationEvent, None]:
        org_id = organization_id(info)
        async for event in events.stream(info, events.CONVERSATIONS, lambda _: True):
            row = await info.context.loaders.get(loaders.conversation_by_id).load(
                event["conversation_id"]
            )
            row = in_organization([row], org_id)[0]
            if row is not None:
                yield ConversationEvent(
                    kind=ConversationEventKind(event["kind"]),
                    conversation=Conversation.from_model(row),
                )

    @strawberry.subscription(
        description="Status changes of a device.", permission_classes=[IsAuthenticated]
    )
    async def device_events(
        self, info: Info, device_id: strawberry.ID
    ) -> AsyncGenerator[DeviceEvent, None]:
        device_pk = decode_id(device_id, "Device", field="deviceId")
        org_id = organization_id(info)
        async for _ in events.stream(info, events.DEVICES, lambda e: e["device_id"] == device_pk):
            row = await info.context.loaders.get(loaders.device_by_id).load(device_pk)
            row = in_organization([row], org_id)[0]
            if row is not None:
                yield DeviceEvent(device=Device.from_model(row))
