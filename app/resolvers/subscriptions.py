"""Subscriptions' side of the live events: the viewer's organization's events on a topic, each
authorized for the subscriber before it is handed on (``app.platform.events`` publishes them).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from app.models.accounts import Membership
from app.platform.context import Info
from app.platform.errors import Unauthenticated
from app.platform.events import channel
from app.platform.scope import organization_id
from app.platform.security import revoked_jti_key, revoked_session_key


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
    replay = info.context.replay
    if replay is not None:
        # A webhook's document over its outbox event: the same authorization, no channel.
        yield _authorized_events(info, org_id, _replayed(replay, topic), accept)
        return
    async with runtime.broker.subscribe(
        channel(org_id, topic), idle_seconds=runtime.settings.subscription_auth_check_seconds
    ) as events:
        yield _authorized_events(info, org_id, events, accept)


async def _replayed(
    replay: list[dict[str, Any]], topic: str
) -> AsyncIterator[dict[str, Any] | None]:
    for event in replay:
        if event.get("topic", topic) == topic:
            yield event


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
