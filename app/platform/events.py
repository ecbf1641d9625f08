"""Domain events: the one seam between the code that causes a change and the code that reacts.

Domain code says what happened here, with typed events, and never reaches into another
domain to make it react. Two kinds of listeners:

- **Live events** (:class:`MessageEvent`, :class:`ConversationEvent`, :class:`DeviceEvent`,
  :class:`CampaignEvent`, :class:`AgentRunEvent`) go to a Redis channel per organization and
  topic, from whichever process caused them; every API process fans them out to its
  subscriptions (``app.resolvers.subscriptions``). They carry ids only, so each subscriber
  re-reads the rows through its own organization.
- **Recorders** write every live event down before it is published: the webhooks' outbox
  (``app.integrations.outbox``), installed by ``app.reactions`` like the reactions.
- **Reactions** (:class:`InboundMessageStored`, :class:`DeliveryStatusReceived`) are awaited
  in-process where the change happens, by the handlers ``app.reactions`` installs (an AI
  auto-reply, a campaign recipient's status): their work is part of the change, as a direct
  call was, without the import from one domain into another.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

if TYPE_CHECKING:
    from app.models.ai import AgentRun
    from app.models.messaging import Device, Message
    from app.platform.config import Settings
    from app.platform.pubsub import Broker
    from app.whatsapp.types import StatusUpdate

MESSAGES = "messages"
CONVERSATIONS = "conversations"
DEVICES = "devices"
CAMPAIGNS = "campaigns"
AGENT_RUNS = "agent_runs"


def channel(org_id: int, topic: str) -> str:
    return f"org:{org_id}:{topic}"


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


class LiveEvent(Protocol):
    topic: ClassVar[str]

    @property
    def organization_id(self) -> int: ...

    def payload(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class MessageEvent:
    """A message was created, its status changed, or it was edited or deleted (UPDATED)."""

    topic: ClassVar[str] = MESSAGES
    kind: str
    organization_id: int
    message_id: int
    conversation_id: int
    device_id: int

    @classmethod
    def of(cls, message: MessageIds, kind: str) -> MessageEvent:
        return cls(
            kind, message.organization_id, message.id, message.conversation_id, message.device_id
        )

    def payload(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "organization_id": self.organization_id,
            "message_id": self.message_id,
            "conversation_id": self.conversation_id,
            "device_id": self.device_id,
        }


@dataclass(frozen=True, slots=True)
class ConversationEvent:
    """A conversation was created or changed (read, assigned, closed, AI on/off, last message)."""

    topic: ClassVar[str] = CONVERSATIONS
    kind: str
    organization_id: int
    conversation_id: int
    device_id: int

    @classmethod
    def of(cls, conversation: ConversationIds, kind: str) -> ConversationEvent:
        return cls(kind, conversation.organization_id, conversation.id, conversation.device_id)

    def payload(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "organization_id": self.organization_id,
            "conversation_id": self.conversation_id,
            "device_id": self.device_id,
        }


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """A device's status changed."""

    topic: ClassVar[str] = DEVICES
    organization_id: int
    device_id: int
    status: str
    kind: str = "STATUS_CHANGED"

    @classmethod
    def of(cls, device: Device) -> DeviceEvent:
        return cls(device.organization_id, device.id, device.status.value)

    def payload(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "organization_id": self.organization_id,
            "device_id": self.device_id,
            "status": self.status,
        }


@dataclass(frozen=True, slots=True)
class CampaignEvent:
    """A campaign's status (at once) or counts (at most a few a second) changed."""

    topic: ClassVar[str] = CAMPAIGNS
    kind: str
    organization_id: int
    campaign_id: int

    def payload(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "organization_id": self.organization_id,
            "campaign_id": self.campaign_id,
        }


@dataclass(frozen=True, slots=True)
class AgentRunEvent:
    """An agent run moved: a status, a step, a streamed token."""

    topic: ClassVar[str] = AGENT_RUNS
    kind: str
    organization_id: int
    run_id: int
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, run: AgentRun, kind: str, **data: Any) -> AgentRunEvent:
        return cls(kind, run.organization_id, run.id, data)

    def payload(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "organization_id": self.organization_id,
            "run_id": self.run_id,
            **self.data,
        }


Recorder = Callable[[Sequence[LiveEvent]], Awaitable[None]]
_recorders: list[Recorder] = []


def record_with(recorder: Recorder) -> None:
    """Have ``recorder`` write every live event down before it is published (the webhooks'
    outbox), on the connection of the change that caused it (once, however often installed)."""
    if recorder not in _recorders:
        _recorders.append(recorder)


async def publish(broker: Broker, event: LiveEvent) -> None:
    for recorder in _recorders:
        await recorder((event,))
    await broker.publish(channel(event.organization_id, event.topic), event.payload())


async def publish_many(broker: Broker, events: Sequence[LiveEvent]) -> None:
    """Many events in one round trip (a campaign batch's statuses)."""
    for recorder in _recorders:
        await recorder(events)
    await broker.publish_many([(channel(e.organization_id, e.topic), e.payload()) for e in events])


@dataclass(frozen=True, slots=True)
class InboundMessageStored:
    """A customer's message was stored (its live events are published already)."""

    settings: Settings
    broker: Broker
    message: Message


@dataclass(frozen=True, slots=True)
class DeliveryStatusReceived:
    """Meta (or the sandbox) reported a delivery status of one of ``device``'s sends."""

    broker: Broker
    device: Device
    update: StatusUpdate


E = TypeVar("E")
Reaction = Callable[[E], Awaitable[None]]
_reactions: dict[type, list[Reaction[Any]]] = {}


def react(event_type: type[E], reaction: Reaction[E]) -> None:
    """Have ``reaction`` awaited for every ``event_type`` (once, however often installed)."""
    reactions = _reactions.setdefault(event_type, [])
    if reaction not in reactions:
        reactions.append(reaction)


async def happened(event: object) -> None:
    """Await the reactions to ``event``, in the order they were installed."""
    for reaction in _reactions.get(type(event), ()):
        await reaction(event)
