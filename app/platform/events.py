"""Domain events: the one seam between the code that causes a change and the code that reacts.

Domain code says what happened here, with typed events, and never reaches into another
domain to make it react. Two kinds of listeners:

- **Live events** (:class:`MessageEvent`, :class:`ConversationEvent`, :class:`DeviceEvent`,
  :class:`TemplateEvent`, :class:`CampaignEvent`, :class:`AgentRunEvent`, :class:`UsageEvent`) go to a Redis channel per organization and
  topic, from whichever process caused them; every API process fans them out to its
  subscriptions (``app.resolvers.subscriptions``). They carry ids only, so each subscriber
  re-reads the rows through its own organization.
- **Recorders** write every live event down in the transaction of the change that caused
  it (:func:`transaction`), before it is published: the webhooks' outbox
  (``app.integrations.outbox``), then the inbox change log (``app.inbox.sync``: every message
  and conversation event, numbered per organization, each new entry announced by an
  :class:`InboxChanged` event). ``app.reactions`` installs them, like the reactions.
- **Reactions** (:class:`InboundMessageStored`, :class:`DeliveryStatusReceived`,
  :class:`DeliveryStatusesReceived`, :class:`UsageThresholdReached`) are awaited
  in-process where the change happens, by the handlers ``app.reactions`` installs (an AI
  auto-reply, a campaign recipient's status): their work is part of the change, as a direct
  call was, without the import from one domain into another.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from tortoise.transactions import in_transaction

if TYPE_CHECKING:
    from tortoise.backends.base.client import BaseDBAsyncClient

    from app.models.ai import AgentRun
    from app.models.messaging import Device, Message, Template
    from app.platform.config import Settings
    from app.platform.pubsub import Broker
    from app.whatsapp.types import StatusUpdate

MESSAGES = "messages"
CONVERSATIONS = "conversations"
DEVICES = "devices"
TEMPLATES = "templates"
CAMPAIGNS = "campaigns"
AGENT_RUNS = "agent_runs"
INBOX = "inbox"
USAGE = "usage"


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
    """A device's status changed, or its health (quality rating, messaging limit tier)."""

    topic: ClassVar[str] = DEVICES
    organization_id: int
    device_id: int
    status: str
    kind: str = "STATUS_CHANGED"

    @classmethod
    def of(cls, device: Device, kind: str = "STATUS_CHANGED") -> DeviceEvent:
        return cls(device.organization_id, device.id, device.status.value, kind)

    def payload(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "organization_id": self.organization_id,
            "device_id": self.device_id,
            "status": self.status,
        }


@dataclass(frozen=True, slots=True)
class TemplateEvent:
    """Meta reviewed a template (STATUS_CHANGED) or rated it (QUALITY_CHANGED); or it was
    created or deleted."""

    topic: ClassVar[str] = TEMPLATES
    kind: str
    organization_id: int
    template_id: int
    device_id: int
    status: str  # the status this event announces; the row may have moved on when it is read

    @classmethod
    def of(cls, template: Template, kind: str) -> TemplateEvent:
        return cls(
            kind, template.organization_id, template.id, template.device_id, template.status.value
        )

    def payload(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "organization_id": self.organization_id,
            "template_id": self.template_id,
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


@dataclass(frozen=True, slots=True)
class InboxChanged:
    """An organization's inbox change log holds changes up to ``seq``, committed: a wake-up
    for ``inboxEvents`` subscribers, which read the log from their own cursor."""

    topic: ClassVar[str] = INBOX
    organization_id: int
    seq: int
    kind: str = "CHANGED"

    def payload(self) -> dict[str, Any]:
        return {"kind": self.kind, "organization_id": self.organization_id, "seq": self.seq}


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """The organization's usage of a plan limit reached ``threshold`` percent of it."""

    topic: ClassVar[str] = USAGE
    organization_id: int
    limit: str
    threshold: int
    used: int
    allowed: int
    kind: str = "LIMIT_WARNING"

    def payload(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "organization_id": self.organization_id,
            "limit": self.limit,
            "threshold": self.threshold,
            "used": self.used,
            "allowed": self.allowed,
        }


@dataclass(slots=True)
class Written:
    """What the recorders add to a transaction's events: announcements of their own entries
    (published with the events) and work to do once it committed (a job to queue)."""

    announcements: list[LiveEvent] = field(default_factory=list)
    after_commit: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


# Writes live events down in the transaction of the change that caused them.
Recorder = Callable[[Sequence[LiveEvent], Written], Awaitable[None]]
_recorders: list[Recorder] = []


def record_with(recorder: Recorder) -> None:
    """Have ``recorder`` write every live event down in its change's transaction, after the
    recorders installed before it (once, however often installed)."""
    if recorder not in _recorders:
        _recorders.append(recorder)


@dataclass(slots=True)
class _Staged:
    broker: Broker | None = None
    events: list[LiveEvent] = field(default_factory=list)


_staged: ContextVar[_Staged | None] = ContextVar("parley_staged_events", default=None)


@asynccontextmanager
async def transaction() -> AsyncIterator[BaseDBAsyncClient]:
    """A database transaction whose live events are written down in it and published once
    it committed.

    Inside it, :func:`publish` stages an event; when the block ends the recorders write the
    staged events down on the transaction's connection (the webhooks' outbox, the inbox
    change log), the transaction commits, and only then do the events go to Redis. So the
    rows and their events commit together or not at all: nothing is lost between the commit
    and the publish (a publish that fails leaves the outbox rows to its sweep), and nothing
    is sent for a change that rolled back. A transaction inside another is a savepoint whose
    events join the outer one's (dropped with it when the block fails).
    """
    outer = _staged.get()
    staged = _Staged()
    token = _staged.set(staged)
    written = Written()
    try:
        async with in_transaction() as connection:
            if outer is None and connection.capabilities.dialect == "sqlite":
                await _take_sqlite_write_lock(connection)
            yield connection
            if outer is None and staged.events:
                for recorder in _recorders:
                    await recorder(staged.events, written)
    finally:
        _staged.reset(token)
    if outer is not None:
        outer.broker = outer.broker or staged.broker
        outer.events.extend(staged.events)
        return
    if staged.broker is not None:
        await _send(staged.broker, [*staged.events, *written.announcements])
    for work in written.after_commit:
        await work()


async def _take_sqlite_write_lock(connection: BaseDBAsyncClient) -> None:
    """``BEGIN IMMEDIATE`` instead of Tortoise's deferred ``BEGIN``: a change reads before it
    writes, and a deferred transaction whose first write comes after another process wrote
    fails at once with "database is locked" (WAL cannot upgrade its snapshot) instead of
    waiting for the lock. (Only a worker process beside the API on one SQLite file meets it.)"""
    await connection.execute_query("COMMIT")
    await connection.execute_query("BEGIN IMMEDIATE")


async def publish(broker: Broker, event: LiveEvent) -> None:
    await publish_many(broker, [event])


async def publish_many(broker: Broker, events: Sequence[LiveEvent]) -> None:
    """Publish ``events`` when the current :func:`transaction` commits; outside one, write
    them down in a transaction of their own and publish them at once (for events that
    announce no change of rows, such as an agent's streamed token)."""
    staged = _staged.get()
    if staged is None:
        async with transaction():
            await publish_many(broker, events)
        return
    staged.broker = broker
    staged.events.extend(events)


async def _send(broker: Broker, events: Sequence[LiveEvent]) -> None:
    if len(events) == 1:
        await broker.publish(
            channel(events[0].organization_id, events[0].topic), events[0].payload()
        )
    elif events:
        await broker.publish_many(
            [(channel(e.organization_id, e.topic), e.payload()) for e in events]
        )


@dataclass(frozen=True, slots=True)
class InboundMessageStored:
    """A customer's message was stored (its live events are published already)."""

    settings: Settings
    broker: Broker
    message: Message


@dataclass(frozen=True, slots=True)
class DeliveryStatusReceived:
    """Meta (or the sandbox) reported a delivery status of one of ``device``'s sends."""

    settings: Settings
    broker: Broker
    device: Device
    update: StatusUpdate


@dataclass(frozen=True, slots=True)
class DeliveryStatusesReceived:
    """Meta reported a batch of delivery statuses of ``device``'s sends, none a failure
    (app.messaging.status_batches; each failure is a :class:`DeliveryStatusReceived`)."""

    settings: Settings
    broker: Broker
    device: Device
    updates: Sequence[StatusUpdate]


@dataclass(frozen=True, slots=True)
class UsageThresholdReached:
    """A plan limit's usage reached 80 % or 100 % for the first time this period (its
    :class:`UsageEvent` is published already)."""

    settings: Settings
    broker: Broker
    event: UsageEvent


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
