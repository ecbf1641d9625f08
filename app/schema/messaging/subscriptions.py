"""Live messaging events over WebSocket."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from app.dataloaders import messaging as loaders
from app.platform import events
from app.platform.context import Info
from app.platform.ids import decode_id, to_global_id
from app.platform.pagination import decode_cursor
from app.platform.scope import in_organization, organization_id
from app.resolvers import subscriptions
from app.resolvers.messaging import lists
from app.schema.messaging.types import (
    Conversation,
    ConversationEvent,
    ConversationEventKind,
    Device,
    DeviceEvent,
    DeviceEventKind,
    DeviceStatus,
    Message,
    MessageEvent,
    MessageEventKind,
    Template,
    TemplateEvent,
    TemplateEventKind,
    TemplateStatus,
)
from app.schema.permissions import IsAuthenticated


@strawberry.type
class MessagingSubscription:
    @strawberry.subscription(
        description="Messages created and status changes: of one conversation, one device, "
        "or (no argument) the organization's whole inbox. With `after` (the `cursor` of the "
        "last event a client saw), the messages created since then are sent first (as "
        "CREATED, from the database), then the live events, with no gap and no duplicate. "
        "Per conversation, events arrive in the order they happened.",
        permission_classes=[IsAuthenticated],
    )
    async def message_events(
        self,
        info: Info,
        conversation_id: strawberry.ID | None = None,
        device_id: strawberry.ID | None = None,
        after: str | None = None,
    ) -> AsyncGenerator[MessageEvent, None]:
        conversation_pk = (
            decode_id(conversation_id, "Conversation", field="conversationId")
            if conversation_id is not None
            else None
        )
        device_pk = decode_id(device_id, "Device", field="deviceId") if device_id else None
        after_pk = decode_cursor(after, field="after") if after is not None else None
        org_id = organization_id(info)

        def accept(event: dict[str, object]) -> bool:
            return conversation_pk in (None, event["conversation_id"]) and device_pk in (
                None,
                event["device_id"],
            )

        # Subscribed first: what is published while the database is read waits in the
        # subscription's queue, and what the replay already sent is skipped after it.
        async with subscriptions.listen(info, events.MESSAGES, accept) as live:
            replayed = 0
            if after_pk is not None:
                if not await subscriptions.authorized(info, org_id):
                    return
                async for missed in lists.missed_messages(
                    org_id, after_pk, conversation_pk, device_pk
                ):
                    replayed = missed.id
                    yield MessageEvent(
                        kind=MessageEventKind.CREATED, message=Message.from_model(missed)
                    )
            async for event in live:
                if event["kind"] == MessageEventKind.CREATED.value and (
                    event["message_id"] <= replayed
                ):
                    continue
                row = await info.context.loaders.get(loaders.message_by_id).load(
                    event["message_id"]
                )
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
        async for event in subscriptions.stream(info, events.CONVERSATIONS, lambda _: True):
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
        async for event in subscriptions.stream(
            info, events.DEVICES, lambda e: e["device_id"] == device_pk
        ):
            row = await info.context.loaders.get(loaders.device_by_id).load(device_pk)
            row = in_organization([row], org_id)[0]
            if row is not None:
                status = DeviceStatus(event.get("status") or row.status.value)
                kind = DeviceEventKind(event.get("kind") or DeviceEventKind.STATUS_CHANGED.value)
                yield DeviceEvent(status=status, device=Device.from_model(row), kind=kind)

    @strawberry.subscription(
        description="Templates created, reviewed by Meta (APPROVED, REJECTED with a reason, "
        "PAUSED, DISABLED), rated (GREEN, YELLOW, RED) or deleted: of one device, or (no "
        "argument) of the whole organization.",
        permission_classes=[IsAuthenticated],
    )
    async def template_events(
        self, info: Info, device_id: strawberry.ID | None = None
    ) -> AsyncGenerator[TemplateEvent, None]:
        device_pk = decode_id(device_id, "Device", field="deviceId") if device_id else None
        org_id = organization_id(info)
        async for event in subscriptions.stream(
            info, events.TEMPLATES, lambda e: device_pk in (None, e["device_id"])
        ):
            kind = TemplateEventKind(event["kind"])
            row = None
            if kind is not TemplateEventKind.DELETED:
                row = await info.context.loaders.get(loaders.template_by_id).load(
                    event["template_id"]
                )
                row = in_organization([row], org_id)[0]
                if row is None:
                    continue  # deleted since
            yield TemplateEvent(
                kind=kind,
                status=TemplateStatus(event["status"]),
                template_id=strawberry.ID(to_global_id("Template", event["template_id"])),
                template=Template.from_model(row) if row is not None else None,
            )
