"""The inbound and status pipeline, shared by webhooks, the sandbox and the send job.

Everything here is safe to run twice: an inbound message is stored once per provider message
id, a status only ever moves forward, and a status for an id we do not know yet is kept until
the send that produced the id has been recorded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q, Subquery

from app.messaging import activity, attribution, callbacks, senders
from app.messaging.files import delete_files
from app.messaging.jobs import SEND_MESSAGE
from app.messaging.phones import from_wa_id
from app.messaging.reactions import apply_reaction, quoted_message_id
from app.messaging.senders import contact_for
from app.models.inbox import ActivityKind
from app.models.messaging import (
    DEVICE_TRANSITIONS,
    STATUS_MAY_REPLACE,
    Contact,
    Conversation,
    ConversationStatus,
    Device,
    DeviceStatus,
    Direction,
    Message,
    MessageStatus,
    MessageType,
    UnmatchedStatus,
    service_window_open,
)
from app.plans import metering
from app.plans.context import PlanContext
from app.platform import clock, events, metrics, telemetry
from app.platform.config import Settings
from app.platform.pubsub import Broker
from app.whatsapp.types import (
    DeliveryStatus,
    InboundMessage,
    InboundType,
    PreferenceChange,
    StatusUpdate,
)

if TYPE_CHECKING:
    from app.platform.queues import Queues
    from app.platform.runtime import Runtime

log = structlog.get_logger("parley.messaging")
SEND_RETRIES = 5
SEND_TIMEOUT = 120  # seconds; a send waits for a slot of its device within a quarter of it

STOPPED_MARKETING = 131050  # Meta: the user stopped marketing messages from this business

DELIVERY_STATUS = {
    DeliveryStatus.SENT: MessageStatus.SENT,
    DeliveryStatus.DELIVERED: MessageStatus.DELIVERED,
    DeliveryStatus.READ: MessageStatus.READ,
    DeliveryStatus.PLAYED: MessageStatus.READ,  # a voice note played was read
    DeliveryStatus.FAILED: MessageStatus.FAILED,
}
_INBOUND_TYPE = {
    "text": MessageType.TEXT,
    "image": MessageType.IMAGE,
    "video": MessageType.VIDEO,
    "audio": MessageType.AUDIO,
    "document": MessageType.DOCUMENT,
    "sticker": MessageType.STICKER,
    "location": MessageType.LOCATION,
    "interactive": MessageType.INTERACTIVE,
    "button": MessageType.INTERACTIVE,
    "reaction": MessageType.REACTION,
    "contacts": MessageType.CONTACTS,
    "order": MessageType.ORDER,
    "system": MessageType.SYSTEM,
}
NUMBER_CHANGED = "user_changed_number"  # a `system` message: the customer has a new number
USER_ID_CHANGED = "user_changed_user_id"  # a `system` message: a new business-scoped user id


async def conversation_for(
    broker: Broker, device: Device, contact: Contact
) -> tuple[Conversation, bool]:
    conversation = await Conversation.get_or_none(device_id=device.id, contact_id=contact.id)
    if conversation is not None:
        return conversation, False
    try:
        async with events.transaction():
            conversation = await Conversation.create(
                organization_id=device.organization_id, device_id=device.id, contact_id=contact.id
            )
            await events.publish(broker, events.ConversationEvent.of(conversation, "CREATED"))
    except IntegrityError:
        return await Conversation.get(device_id=device.id, contact_id=contact.id), False
    return conversation, True


class _StoredAlready(Exception):
    """A concurrent delivery stored the same provider message id first."""


async def receive_inbound(
    settings: Settings,
    broker: Broker,
    device: Device,
    inbound: InboundMessage,
    *,
    media_id: int | None = None,
) -> Message | None:
    """Store a customer's message, or apply it (an edit or a deletion of an earlier one); None
    when this provider message id was already stored or there was nothing to apply it to.
    ``media_id``: the MediaFile it carries, when Parley has it already (the sandbox)."""
    stored = await Message.filter(
        device_id=device.id, provider_message_id=inbound.provider_message_id
    ).first()
    if stored is not None:
        # A retry (or Meta's redelivery) of a delivery whose try stored the message and died
        # before its reactions: they are given now, by whichever try claims them.
        if stored.reactions_pending:
            await _react(settings, broker, stored)
        return None
    if inbound.type is InboundType.REVOKE:
        return await _apply_revoke(settings, broker, device, inbound)
    if inbound.type is InboundType.EDIT and (edited := await _apply_edit(broker, device, inbound)):
        return edited
    if inbound.type is InboundType.REACTION and (
        reacted := await apply_reaction(broker, device, inbound)
    ):
        return reacted
    contact = await senders.contact_of_sender(
        device.organization_id,
        from_wa_id(inbound.from_wa_id) if inbound.from_wa_id else None,
        inbound.from_user_id,
        inbound.profile_name,
        inbound.username,
    )
    conversation, _ = await conversation_for(broker, device, contact)
    kind = inbound.edited_type if inbound.type is InboundType.EDIT else str(inbound.type)
    payload = dict(inbound.content)
    if inbound.type is InboundType.EDIT:  # an edit of a message we never had: its new content
        payload["edited_message_id"] = inbound.original_message_id
    try:
        async with events.transaction():
            message = await _store_inbound(device, conversation, inbound, kind, payload, media_id)
            await attribution.record(message, contact.id)
            if inbound.type is InboundType.SYSTEM:
                # Said by WhatsApp, not the customer: no window, no unread count, no auto-reply.
                await _apply_system(contact, inbound)
                await Conversation.filter(id=conversation.id).update(
                    last_message_at=message.created_at
                )
            else:
                await _apply_opt_keywords(settings, contact, inbound.text)
                received_at = min(inbound.timestamp, clock.now())
                await _seen(contact, received_at)
                await Conversation.filter(id=conversation.id).update(
                    unread_count=F("unread_count") + 1, last_message_at=message.created_at
                )
                # The service window runs from the customer's latest message; never move it back.
                await Conversation.filter(
                    Q(last_inbound_at__isnull=True) | Q(last_inbound_at__lt=received_at),
                    id=conversation.id,
                ).update(last_inbound_at=received_at)
                await _reopen(conversation)
            await events.publish_many(
                broker,
                [
                    events.MessageEvent.of(message, "CREATED"),
                    events.ConversationEvent.of(conversation, "UPDATED"),
                ],
            )
    except _StoredAlready:
        return None
    if message.reactions_pending:
        await _react(settings, broker, message)
    return message


async def _react(settings: Settings, broker: Broker, message: Message) -> None:
    """Give a stored customer message its reactions (``InboundMessageStored``: auto-reply,
    routing), at most once: a try claims them, and hands them back when it is interrupted
    before they ran (a job timeout cancels it, an error), for the retry."""
    claimed = await Message.filter(id=message.id, reactions_pending=True).update(
        reactions_pending=False
    )
    if not claimed:
        return  # another try has them
    try:
        await events.happened(events.InboundMessageStored(settings, broker, message))
    except BaseException:
        await Message.filter(id=message.id).update(reactions_pending=True)
        raise


async def _store_inbound(
    device: Device,
    conversation: Conversation,
    inbound: InboundMessage,
    kind: str | None,
    payload: dict[str, Any],
    media_id: int | None,
) -> Message:
    try:
        return await Message.create(
            organization_id=device.organization_id,
            conversation_id=conversation.id,
            device_id=device.id,
            direction=Direction.INBOUND,
            type=_INBOUND_TYPE.get(kind or "", MessageType.UNSUPPORTED),
            body=inbound.text,
            payload=payload,
            status=MessageStatus.RECEIVED,
            provider_message_id=inbound.provider_message_id,
            # Said by WhatsApp, not the customer (SYSTEM): nothing reacts to it.
            reactions_pending=inbound.type is not InboundType.SYSTEM,
            edited_at=inbound.timestamp if inbound.type is InboundType.EDIT else None,
            reply_to_id=await quoted_message_id(device, payload),
            media_id=media_id,
        )
    except IntegrityError:
        raise _StoredAlready from None


async def _reopen(conversation: Conversation) -> None:
    """A new message from the customer reopens a closed or snoozed conversation."""
    reopened = await Conversation.filter(
        Q(status=ConversationStatus.CLOSED) | Q(snoozed_until__isnull=False), id=conversation.id
    ).update(status=ConversationStatus.OPEN, snoozed_until=None)
    if reopened:
        await activity.record(conversation, ActivityKind.REOPENED, reason="customer_message")


async def _seen(contact: Contact, at: Any) -> None:
    await Contact.filter(
        Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=at), id=contact.id
    ).update(last_seen_at=at)


async def _original(device: Device, inbound: InboundMessage) -> Message | None:
    return await Message.get_or_none(
        device_id=device.id, provider_message_id=inbound.original_message_id
    )


async def _apply_edit(broker: Broker, device: Device, inbound: InboundMessage) -> Message | None:
    """The customer edited a message: it shows the new content, the old kept in ``edits``."""
    message = await _original(device, inbound)
    if message is None:
        return None
    payload = dict(message.payload or {})
    history = list(payload.pop("edits", []))
    if any(entry.get("replaced_by") == inbound.provider_message_id for entry in history):
        return message  # this edit was applied already
    history.append(
        {
            "body": message.body,
            "payload": payload,
            "replaced_at": inbound.timestamp.isoformat(),
            "replaced_by": inbound.provider_message_id,
        }
    )
    message.update_from_dict(
        {
            "body": inbound.text,
            "payload": dict(inbound.content) | {"edits": history},
            "edited_at": inbound.timestamp,
        }
    )
    async with events.transaction():
        await message.save(update_fields=["body", "payload", "edited_at", "updated_at"])
        await events.publish(broker, events.MessageEvent.of(message, "UPDATED"))
    return message


async def _apply_revoke(
    settings: Settings, broker: Broker, device: Device, inbound: InboundMessage
) -> Message | None:
    """The customer deleted a message for everyone: its content goes (its file too, unless
    another message carries it), the fact stays."""
    message = await _original(device, inbound)
    if message is None:
        log.info("messaging.revoke_unmatched", device_id=device.id)
        return None
    if message.deleted_at is not None:
        return message
    media_id = message.media_id
    message.update_from_dict(
        {
            "body": None,
            "payload": {"deleted_by": inbound.provider_message_id},
            "deleted_at": inbound.timestamp,
        }
    )
    message.media_id = None
    async with events.transaction():
        await message.save(
            update_fields=["body", "payload", "deleted_at", "media_id", "updated_at"]
        )
        await events.publish(broker, events.MessageEvent.of(message, "UPDATED"))
    if media_id is not None:
        await delete_files(settings, message.organization_id, [media_id])
    return message


async def _apply_system(contact: Contact, inbound: InboundMessage) -> None:
    """A number change moves the contact, with its conversations, to the new number."""
    system = inbound.content.get("system") or {}
    new_user_id = system.get("user_id")
    if system.get("type") == USER_ID_CHANGED and isinstance(new_user_id, str) and new_user_id:
        if not await Contact.exists(organization_id=contact.organization_id, user_id=new_user_id):
            contact.user_id = new_user_id
            await contact.save(update_fields=["user_id", "updated_at"])
        return
    new_wa_id = system.get("wa_id")
    if system.get("type") != NUMBER_CHANGED or not isinstance(new_wa_id, str):
        return
    new_number = from_wa_id(new_wa_id)
    if new_number == contact.phone_number:
        return
    taken = await Contact.exists(organization_id=contact.organization_id, phone_number=new_number)
    if taken:
        # The new number wrote first and has a contact of its own: both are kept, and the
        # system message in this conversation says where the customer went.
        log.info("messaging.number_change_target_exists", contact_id=contact.id)
        return
    contact.phone_number = new_number
    await contact.save(update_fields=["phone_number", "updated_at"])


async def apply_preference(device: Device, change: PreferenceChange) -> None:
    """A customer stopped (or resumed) marketing messages in WhatsApp: campaigns follow."""
    if change.category != "marketing_messages" or change.value not in ("stop", "resume"):
        return
    contact = await contact_for(device.organization_id, from_wa_id(change.wa_id))
    if change.value == "stop":
        await Contact.filter(id=contact.id, opted_out_at__isnull=True).update(
            opted_out_at=change.timestamp, updated_at=clock.now()
        )
    else:
        await Contact.filter(id=contact.id, opted_out_at__isnull=False).update(
            opted_out_at=None, updated_at=clock.now()
        )


async def store_echo(broker: Broker, device: Device, echo: InboundMessage) -> Message | None:
    """A reply typed in the WhatsApp Business app on this number: an OUTBOUND message of the
    customer's conversation, already SENT; None when it was stored before."""
    if await Message.exists(device_id=device.id, provider_message_id=echo.provider_message_id):
        return None
    contact = await contact_for(device.organization_id, from_wa_id(echo.from_wa_id))
    conversation, _ = await conversation_for(broker, device, contact)
    reply_to_id = await quoted_message_id(device, echo.content)
    try:
        async with events.transaction():
            message = await Message.create(
                organization_id=device.organization_id,
                conversation_id=conversation.id,
                device_id=device.id,
                direction=Direction.OUTBOUND,
                type=_INBOUND_TYPE.get(str(echo.type), MessageType.UNSUPPORTED),
                body=echo.text,
                payload=dict(echo.content) | {"source": "business_app"},
                status=MessageStatus.SENT,
                sent_at=echo.timestamp,
                provider_message_id=echo.provider_message_id,
                reply_to_id=reply_to_id,
            )
            await Conversation.filter(id=conversation.id).update(last_message_at=message.created_at)
            await events.publish_many(
                broker,
                [
                    events.MessageEvent.of(message, "CREATED"),
                    events.ConversationEvent.of(conversation, "UPDATED"),
                ],
            )
    except IntegrityError:
        return None
    return message


async def _apply_opt_keywords(settings: Settings, contact: Contact, text: str | None) -> None:
    keyword = (text or "").strip().upper()
    if keyword in {k.upper() for k in settings.opt_out_keywords}:
        if contact.opted_out_at is None:
            contact.opted_out_at = clock.now()
            await contact.save(update_fields=["opted_out_at", "updated_at"])
    elif keyword in {k.upper() for k in settings.opt_in_keywords} and contact.opted_out_at:
        contact.opted_out_at = None
        await contact.save(update_fields=["opted_out_at", "updated_at"])


async def advance_status(
    broker: Broker,
    message: Message,
    status: MessageStatus,
    *,
    error_code: int | None = None,
    error_message: str | None = None,
) -> bool:
    """Move ``message`` forward to ``status``; False when it is already there or beyond."""
    if message.status not in STATUS_MAY_REPLACE[status]:
        # Already there or beyond as read (statuses only move forward): no transaction for a
        # status Meta repeats. A stale read is settled by the conditional update below.
        return False
    changes: dict[str, object] = {"status": status, "updated_at": clock.now()}
    if status is MessageStatus.FAILED:
        changes |= {"error_code": error_code, "error_message": error_message}
    if status is MessageStatus.SENT:
        changes["sent_at"] = clock.now()
    async with events.transaction():
        updated = await Message.filter(id=message.id, status__in=STATUS_MAY_REPLACE[status]).update(
            **changes
        )
        if not updated:
            return False
        for name, value in changes.items():
            setattr(message, name, value)
        if status is MessageStatus.FAILED and error_code == STOPPED_MARKETING:
            await _opt_out_of_marketing(message)
        await events.publish(broker, events.MessageEvent.of(message, "STATUS_CHANGED"))
    return True


async def _opt_out_of_marketing(message: Message) -> None:
    """Meta says the customer stopped marketing messages: campaigns leave them out from now."""
    conversation = await Conversation.get(id=message.conversation_id)
    await Contact.filter(id=conversation.contact_id, opted_out_at__isnull=True).update(
        opted_out_at=clock.now(), updated_at=clock.now()
    )


async def apply_status(ctx: PlanContext, device: Device, update: StatusUpdate) -> None:
    """Apply a delivery status; ``ctx`` is the process's runtime (the plan's usage moves to
    Meta's pricing category, app.plans.metering)."""
    if not telemetry.enabled():
        await _apply_status(ctx, device, update)
        return
    # In the trace of the send it reports on.
    async with telemetry.continuing_send(
        ctx.broker.redis,
        update.provider_message_id,
        "whatsapp.status",
        status=update.status.value,
    ):
        await _apply_status(ctx, device, update)


async def _apply_status(ctx: PlanContext, device: Device, update: StatusUpdate) -> None:
    await events.happened(events.DeliveryStatusReceived(ctx.settings, ctx.broker, device, update))
    await apply_to_message(ctx, device, update)


async def apply_to_message(ctx: PlanContext, device: Device, update: StatusUpdate) -> None:
    """Apply a status to its message (its reactions have run): kept unmatched while the
    message's provider id is not known yet."""
    broker = ctx.broker
    status = DELIVERY_STATUS[update.status]
    message = await Message.get_or_none(
        device_id=device.id, provider_message_id=update.provider_message_id
    ) or await callbacks.message_named_by(device, update)
    if message is None:
        await UnmatchedStatus.create(
            device_id=device.id,
            provider_message_id=update.provider_message_id,
            status=status,
            error_code=update.error_code,
            error_message=update.error_message or update.error_title,
            occurred_at=update.timestamp,
            details=dict(update.details) or None,
        )
        log.info(
            "messaging.status_unmatched",
            device_id=device.id,
            provider_message_id=update.provider_message_id,
            status=status.value,
        )
        # The send may have recorded its id meanwhile; whoever writes last reconciles.
        await reconcile(ctx, device, update.provider_message_id)
        return
    await _record_details(ctx, message, update.details)
    await advance_status(
        broker,
        message,
        status,
        error_code=update.error_code,
        error_message=update.error_message or update.error_title,
    )


async def _record_details(
    ctx: PlanContext, message: Message, details: Mapping[str, Any] | None
) -> None:
    """Keep what a status said besides the status (``Message.deliveryDetails``)."""
    if not details:
        return
    merged = dict(message.delivery_details or {}) | dict(details)
    if merged == message.delivery_details:
        return
    message.delivery_details = merged
    fields = ["delivery_details", "updated_at"]
    # Pricing also goes to columns, which cost reports group by (campaign stats by category).
    pricing = merged.get("pricing")
    category = pricing.get("category") if isinstance(pricing, Mapping) else None
    billable = pricing.get("billable") if isinstance(pricing, Mapping) else None
    if isinstance(category, str) and category.lower() != message.pricing_category:
        # The plan's usage first: should the process die before the column is saved, Meta's
        # next status (or its redelivery of this one) moves it, once.
        if message.direction is Direction.OUTBOUND:
            await metering.priced(ctx, message.organization_id, message.id, category)
        message.pricing_category = category.lower()[:32]
        fields.append("pricing_category")
    if isinstance(billable, bool) and billable != message.billable:
        message.billable = billable
        fields.append("billable")
    await message.save(update_fields=fields)


async def reconcile(ctx: PlanContext, device: Device, provider_message_id: str) -> None:
    """Apply statuses that arrived before their message's provider id was recorded."""
    broker = ctx.broker
    message = await Message.get_or_none(
        device_id=device.id, provider_message_id=provider_message_id
    )
    if message is None:
        return
    pending = await UnmatchedStatus.filter(
        device_id=device.id, provider_message_id=provider_message_id
    ).order_by("id")
    for item in sorted(pending, key=lambda s: _RANK[s.status]):
        await _record_details(ctx, message, item.details)
        await advance_status(
            broker,
            message,
            item.status,
            error_code=item.error_code,
            error_message=item.error_message,
        )
    if pending:
        await UnmatchedStatus.filter(id__in=[item.id for item in pending]).delete()


async def reconcile_stranded(ctx: PlanContext, since: datetime, before: datetime) -> int:
    """Apply the statuses kept unmatched (received between ``since`` and ``before``) whose
    message has learned its provider id since; returns for how many messages. Whoever records
    an id reconciles right after, but a process that dies between the two leaves them."""
    pending = UnmatchedStatus.filter(created_at__gte=since, created_at__lt=before)
    known = await Message.filter(
        provider_message_id__in=Subquery(pending.values("provider_message_id"))
    ).values_list("device_id", "provider_message_id")
    waiting = set(
        await pending.filter(provider_message_id__in=[wamid for _, wamid in known]).values_list(
            "device_id", "provider_message_id"
        )
    )
    devices = {d.id: d for d in await Device.filter(id__in={d for d, _ in waiting})}
    reconciled = 0
    for device_id, wamid in sorted(set(known) & waiting):
        await reconcile(ctx, devices[device_id], wamid)
        reconciled += 1
    return reconciled


_RANK = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENT: 1,
    MessageStatus.DELIVERED: 2,
    MessageStatus.READ: 3,
    MessageStatus.FAILED: 3,
    MessageStatus.RECEIVED: 0,
}


async def set_device_status(broker: Broker, device: Device, status: DeviceStatus) -> bool:
    """Move ``device`` along its status machine; False when the transition is not allowed."""
    if device.status == status:
        return True
    if status not in DEVICE_TRANSITIONS[DeviceStatus(device.status)]:
        return False
    device.status = status
    async with events.transaction():
        await device.save(update_fields=["status", "updated_at"])
        await events.publish(broker, events.DeviceEvent.of(device))
    metrics.DEVICE_STATUS_CHANGES.labels(status.value).inc()
    return True


class SendRefused(Exception):
    """Why a message cannot go out now; ``field`` is the sendMessage input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def check_sendable(
    device: Device, conversation: Conversation, *, free_form: bool, field: str = "text"
) -> None:
    """The checks every outbound message passes, whoever sends it (sendMessage, AI replies):
    a connected device and, for anything but a template, the 24-hour window."""
    if device.status is not DeviceStatus.CONNECTED:
        raise SendRefused(
            "deviceId", f"The device is {device.status.value}; connect it before sending."
        )
    if free_form and not service_window_open(conversation.last_inbound_at, clock.now()):
        raise SendRefused(
            field,
            "The 24-hour customer service window is closed: a template is needed to "
            "message this contact.",
        )


async def queue_outbound(
    runtime: Runtime,
    conversation: Conversation,
    device: Device,
    *,
    kind: MessageType,
    body: str | None,
    payload: dict[str, Any],
    client_message_id: str | None,
    author_user_id: int | None = None,
    reply_to_id: int | None = None,
    media_id: int | None = None,
) -> Message:
    """Store a checked outbound message, announce it and queue its send job; a second call
    with the same ``client_message_id`` returns the first message. ``media_id``: the
    MediaFile it carries (sent by its Meta media id, app.messaging.media)."""
    try:
        async with events.transaction():
            message = await Message.create(
                organization_id=conversation.organization_id,
                conversation_id=conversation.id,
                device_id=device.id,
                direction=Direction.OUTBOUND,
                type=kind,
                body=body,
                payload=payload,
                status=MessageStatus.QUEUED,
                client_message_id=client_message_id,
                author_user_id=author_user_id,
                reply_to_id=reply_to_id,
                media_id=media_id,
            )
            await Conversation.filter(id=conversation.id).update(last_message_at=message.created_at)
            await events.publish_many(
                runtime.broker,
                [
                    events.MessageEvent.of(message, "CREATED"),
                    events.ConversationEvent.of(conversation, "UPDATED"),
                ],
            )
    except IntegrityError:
        # A concurrent request with the same clientMessageId created it first.
        return await Message.get(
            organization_id=conversation.organization_id, client_message_id=client_message_id
        )
    await enqueue_send(runtime.queues, message.id)
    return message


async def enqueue_send(
    queues: Queues, message_id: int, *, rerun: int = 0, unanswered: int = 0, at: float = 0.0
) -> None:
    """Queue the send job of a message: at once, or as its ``rerun``-th rerun at ``at`` (epoch
    seconds) when it waits for the device's capacity or for the webhooks of a send whose
    answer was lost (``unanswered`` sends so far)."""
    await queues.enqueue(
        SEND_MESSAGE,
        key=f"send:{message_id}" + (f":rerun:{rerun}" if rerun else ""),
        scheduled=math.ceil(at),
        message_id=message_id,
        rerun=rerun,
        unanswered=unanswered,
        retries=SEND_RETRIES,
        retry_delay=1.0,
        retry_backoff=True,
        timeout=SEND_TIMEOUT,
    )
