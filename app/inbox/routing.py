"""Teams and routing: who gets a conversation, and the out-of-hours reply.

- A conversation belongs to a team: the team of its device (``DeviceRoute``) when its first
  customer message arrives, or the one an agent gives it.
- An open, unassigned conversation of a team goes to the next **available** member (ONLINE, at
  least AGENT) with room under their **capacity** (open = not CLOSED conversations assigned to
  them; the member's own capacity, else the organization's default, else unlimited): round
  robin, the one assigned longest ago first. The team's row is locked while one is chosen, so
  two processes never hand the last free place out twice.
- A member who goes AWAY gets no new conversations, and their open team conversations go to
  the others (or wait unassigned in the team). A member back ONLINE, or added to a team, picks
  up the waiting ones up to their capacity.
- A customer who writes while the organization is closed (its business hours) gets its away
  message, once per conversation per closed period (``ConversationRoute.away_replied_at``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import structlog
from saq.queue.redis import RedisQueue
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.functions import Count
from tortoise.transactions import in_transaction

from app.inbox import hours
from app.inbox.jobs import SEND_AWAY_REPLY
from app.messaging.pipeline import SendRefused, check_sendable, queue_outbound
from app.models.accounts import Membership, Organization, Role
from app.models.messaging import Conversation, ConversationStatus, Device, Message, MessageType
from app.models.routing import (
    AgentPresence,
    Availability,
    ConversationRoute,
    DeviceRoute,
    InboxSettings,
    TeamMember,
)
from app.platform import clock, events
from app.platform.events import InboundMessageStored
from app.platform.pubsub import Broker
from app.platform.runtime import Runtime
from app.platform.sql import Binder

log = structlog.get_logger("parley.routing")

WORKING_ROLES = (Role.AGENT, Role.ADMIN, Role.OWNER)


async def on_inbound_message(event: InboundMessageStored) -> None:
    message = event.message
    try:
        await _route_inbound(event.broker, message)
    except Exception:
        # The customer's message is stored whatever happens here.
        log.exception("routing.inbound_not_routed", message_id=message.id)


async def _route_inbound(broker: Broker, message: Message) -> None:
    team_id = await _team_of(message.conversation_id, message.device_id)
    if team_id is not None:
        await assign_next(broker, message.conversation_id, team_id)
    await _schedule_away_reply(broker, message)


async def _team_of(conversation_id: int, device_id: int) -> int | None:
    route = await ConversationRoute.get_or_none(conversation_id=conversation_id)
    if route is not None:
        return route.team_id
    device_route = await DeviceRoute.get_or_none(device_id=device_id)
    if device_route is None:
        return None
    try:
        await ConversationRoute.create(
            conversation_id=conversation_id, team_id=device_route.team_id
        )
    except IntegrityError:  # a concurrent message of the same conversation routed it
        route = await ConversationRoute.get(conversation_id=conversation_id)
        return route.team_id
    return device_route.team_id


async def set_team(broker: Broker, conversation: Conversation, team_id: int | None) -> None:
    """Give ``conversation`` to ``team_id`` (or to no team); an open, unassigned one is then
    assigned within the team at once."""
    async with events.transaction():
        updated = await ConversationRoute.filter(conversation_id=conversation.id).update(
            team_id=team_id
        )
        if not updated:
            try:
                async with in_transaction():  # a savepoint: a concurrent route may win
                    await ConversationRoute.create(conversation_id=conversation.id, team_id=team_id)
            except IntegrityError:
                await ConversationRoute.filter(conversation_id=conversation.id).update(
                    team_id=team_id
                )
        await events.publish(broker, events.ConversationEvent.of(conversation, "UPDATED"))
    if team_id is not None:
        await assign_next(broker, conversation.id, team_id)


async def assign_next(broker: Broker, conversation_id: int, team_id: int) -> int | None:
    """Assign the conversation, when it is open and unassigned, to the team's next available
    member with room; their user id, or None when it waits."""
    async with events.transaction() as connection:
        await _lock_team(connection, team_id)
        conversation = await Conversation.filter(id=conversation_id).using_db(connection).first()
        if (
            conversation is None
            or conversation.assignee_id is not None
            or conversation.status is ConversationStatus.CLOSED
        ):
            return None
        chosen = await _next_member(connection, conversation.organization_id, team_id)
        if chosen is None:
            return None
        await (
            Conversation.filter(id=conversation_id, assignee_id=None)
            .using_db(connection)
            .update(assignee_id=chosen.user_id, updated_at=clock.now())
        )
        await _assigned_now(connection, chosen.id)
        conversation.assignee_id = chosen.user_id
        await events.publish(broker, events.ConversationEvent.of(conversation, "UPDATED"))
    return chosen.user_id


async def _lock_team(connection: BaseDBAsyncClient, team_id: int) -> None:
    # A no-op write takes the row lock (PostgreSQL) or the write lock (SQLite) until commit.
    bind = Binder(connection)
    await connection.execute_query(
        f"UPDATE teams SET updated_at = updated_at WHERE id = {bind(team_id)}", bind.params
    )


async def _next_member(
    connection: BaseDBAsyncClient, org_id: int, team_id: int
) -> Membership | None:
    ids = (
        await TeamMember.filter(team_id=team_id)
        .using_db(connection)
        .values_list("membership_id", flat=True)
    )
    members = await Membership.filter(
        id__in=list(ids), organization_id=org_id, role__in=list(WORKING_ROLES)
    ).using_db(connection)
    presences = {
        p.membership_id: p
        for p in await AgentPresence.filter(membership_id__in=[m.id for m in members]).using_db(
            connection
        )
    }
    online = [
        m
        for m in members
        if m.id not in presences or presences[m.id].availability is Availability.ONLINE
    ]
    if not online:
        return None
    held = await open_counts(org_id, [m.user_id for m in online], connection)
    settings = await InboxSettings.get_or_none(organization_id=org_id)
    default = settings.default_capacity if settings is not None else None

    def room(member: Membership) -> bool:
        presence = presences.get(member.id)
        capacity = presence.capacity if presence and presence.capacity is not None else default
        return capacity is None or held.get(member.user_id, 0) < capacity

    def turn(member: Membership) -> tuple[datetime, int]:
        presence = presences.get(member.id)
        last = presence.last_assigned_at if presence else None
        return (last or hours.NEVER, member.id)

    free = [m for m in online if room(m)]
    return min(free, key=turn) if free else None


async def open_counts(
    org_id: int, user_ids: Sequence[int], connection: BaseDBAsyncClient | None = None
) -> dict[int, int]:
    """How many open (not CLOSED) conversations each of ``user_ids`` holds."""
    if not user_ids:
        return {}
    query = (
        Conversation.filter(organization_id=org_id, assignee_id__in=list(user_ids))
        .exclude(status=ConversationStatus.CLOSED)
        .annotate(held=Count("id"))
        .group_by("assignee_id")
    )
    if connection is not None:
        query = query.using_db(connection)
    rows = await query.values_list("assignee_id", "held")
    return {int(user_id): int(count) for user_id, count in rows}


async def _assigned_now(connection: BaseDBAsyncClient, membership_id: int) -> None:
    now = clock.now()
    updated = (
        await AgentPresence.filter(membership_id=membership_id)
        .using_db(connection)
        .update(last_assigned_at=now)
    )
    if not updated:
        await AgentPresence.create(
            membership_id=membership_id, last_assigned_at=now, using_db=connection
        )


async def set_availability(
    broker: Broker, membership: Membership, availability: Availability
) -> AgentPresence:
    """Record the member's availability; AWAY hands their open team conversations to the
    others, ONLINE picks up what waits in their teams."""
    presence, _ = await AgentPresence.get_or_create(membership_id=membership.id)
    presence.availability = availability
    await presence.save(update_fields=["availability"])
    if availability is Availability.AWAY:
        await _hand_back(broker, membership)
    else:
        for row in await TeamMember.filter(membership_id=membership.id).values("team_id"):
            await assign_waiting(broker, membership.organization_id, row["team_id"])
    return presence


async def _hand_back(broker: Broker, membership: Membership) -> None:
    held = await (
        Conversation.filter(
            organization_id=membership.organization_id, assignee_id=membership.user_id
        )
        .exclude(status=ConversationStatus.CLOSED)
        .values("id")
    )
    routes = await ConversationRoute.filter(
        conversation_id__in=[row["id"] for row in held], team_id__isnull=False
    )
    for route in routes:
        async with events.transaction():
            released = await Conversation.filter(
                id=route.conversation_id, assignee_id=membership.user_id
            ).update(assignee_id=None, updated_at=clock.now())
            if not released or route.team_id is None:
                continue
            if await assign_next(broker, route.conversation_id, route.team_id) is None:
                conversation = await Conversation.get(id=route.conversation_id)
                await events.publish(broker, events.ConversationEvent.of(conversation, "UPDATED"))


async def freed(broker: Broker, org_id: int, user_id: int) -> None:
    """A member's conversation was closed: their teams' waiting conversations may take the
    place."""
    membership = await Membership.get_or_none(organization_id=org_id, user_id=user_id)
    if membership is None:
        return
    for row in await TeamMember.filter(membership_id=membership.id).values("team_id"):
        await assign_waiting(broker, org_id, row["team_id"])


async def assign_waiting(broker: Broker, org_id: int, team_id: int) -> int:
    """Assign the team's open, unassigned conversations, oldest first, while a member has
    room; how many were assigned."""
    routed = await ConversationRoute.filter(team_id=team_id).values("conversation_id")
    waiting = await (
        Conversation.filter(
            organization_id=org_id,
            assignee_id=None,
            id__in=[row["conversation_id"] for row in routed],
        )
        .exclude(status=ConversationStatus.CLOSED)
        .order_by("id")
        .values("id")
    )
    assigned = 0
    for row in waiting:
        if await assign_next(broker, row["id"], team_id) is None:
            break
        assigned += 1
    return assigned


# Out of hours ------------------------------------------------------------------------------


async def _schedule_away_reply(broker: Broker, message: Message) -> None:
    settings = await InboxSettings.get_or_none(organization_id=message.organization_id)
    if settings is None or not settings.away_message:
        return
    organization = await Organization.get(id=message.organization_id)
    since = hours.closed_since(organization.business_hours or {}, clock.now())
    if not hours.configured(organization.business_hours or {}) or since is None:
        return
    await RedisQueue(broker.redis, name=SEND_AWAY_REPLY.queue).enqueue(
        SEND_AWAY_REPLY.name,
        key=f"away:{message.conversation_id}:{int(since.timestamp())}",
        conversation_id=message.conversation_id,
        retries=3,
        timeout=60,
    )


async def send_away_reply(runtime: Runtime, conversation_id: int) -> Message | None:
    """The organization's away message to the conversation, unless it got it already in this
    closed period (or the organization opened meanwhile)."""
    conversation = await Conversation.get_or_none(id=conversation_id)
    if conversation is None:
        return None
    settings = await InboxSettings.get_or_none(organization_id=conversation.organization_id)
    organization = await Organization.get(id=conversation.organization_id)
    since = hours.closed_since(organization.business_hours or {}, clock.now())
    if settings is None or not settings.away_message or since is None:
        return None
    await ConversationRoute.get_or_create(conversation_id=conversation_id)
    claimed = await ConversationRoute.filter(
        Q(away_replied_at__isnull=True) | Q(away_replied_at__lt=since),
        conversation_id=conversation_id,
    ).update(away_replied_at=clock.now())
    if not claimed:
        return None
    device = await Device.get(id=conversation.device_id)
    try:
        check_sendable(device, conversation, free_form=True)
    except SendRefused as refused:
        log.info("routing.away_reply_refused", conversation_id=conversation_id, reason=str(refused))
        return None
    return await queue_outbound(
        runtime,
        conversation,
        device,
        kind=MessageType.TEXT,
        body=settings.away_message,
        payload={"body": settings.away_message},
        client_message_id=f"away:{conversation_id}:{int(since.timestamp())}",
    )
