"""Subscribers with the same document, variables and scope share one execution per event;
different roles, and viewer-dependent fields, keep their own (issue 8, shared execution)."""

from __future__ import annotations

import asyncio
from typing import Any

from app.models.accounts import Role
from tests.live.support import Socket, metrics
from tests.support.messaging import (
    SEND,
    eventually,
    member,
    sandbox_device,
    simulate,
    unique_phone,
)
from tests.support.server import RunningServer

WITH_ADMIN_FIELD = """
subscription {
  messageEvents { kind message { id body conversation { device { id webhookPath } } } }
}
"""
WITH_EMAIL = "subscription { messageEvents { kind message { id body author { email } } } }"


async def _next_payload(socket: Socket, operation_id: str = "1") -> dict[str, Any]:
    message = await socket.receive()
    assert message["type"] == "next" and message["id"] == operation_id, message
    payload: dict[str, Any] = message["payload"]
    return payload


async def _subscribed(server: RunningServer, groups_before: float, more: int) -> None:
    for _ in range(200):
        if (await metrics(server))["parley_ws_subscription_groups"] >= groups_before + more:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the subscriptions did not start")


async def test_one_execution_per_event_for_many_subscribers_and_payloads_by_role(
    live_server: RunningServer,
) -> None:
    owner = await member(live_server, _api(live_server))
    device_id = await sandbox_device(owner)
    admins = [
        await member(live_server, _api(live_server), Role.ADMIN, owner.organization_id)
        for _ in range(3)
    ]
    agent = await member(live_server, _api(live_server), Role.AGENT, owner.organization_id)
    # 3 admins, one of them on 10 sockets: 12 members of one group; the agent: another group.
    admin_sockets = [await Socket.open(live_server, admins[0].token) for _ in range(10)]
    admin_sockets += [await Socket.open(live_server, a.token) for a in admins[1:]]
    agent_socket = await Socket.open(live_server, agent.token)
    before = await metrics(live_server)
    for socket in [*admin_sockets, agent_socket]:
        await socket.subscribe("1", WITH_ADMIN_FIELD)
    await _subscribed(live_server, before["parley_ws_subscription_groups"], 2)
    middle = await metrics(live_server)
    assert middle["parley_ws_subscriptions"] - before["parley_ws_subscriptions"] == 13
    assert middle["parley_ws_subscription_groups"] - before["parley_ws_subscription_groups"] == 2

    sent = await simulate(owner, device_id, unique_phone(), "Where is my parcel?")

    admin_payloads = [await _next_payload(socket) for socket in admin_sockets]
    agent_payload = await _next_payload(agent_socket)

    async def counted() -> dict[str, float] | None:
        # A frame is counted once written, which may be a moment after the client read it.
        sample = await metrics(live_server)
        delivered = sample["parley_ws_deliveries_total"] - middle["parley_ws_deliveries_total"]
        return sample if delivered >= 13 else None

    after = await eventually(counted)

    # One execution per group for the event; a frame to each of the 13 members.
    executions = after["parley_ws_subscription_executions_total"]
    executions -= middle["parley_ws_subscription_executions_total"]
    deliveries = after["parley_ws_deliveries_total"] - middle["parley_ws_deliveries_total"]
    assert (executions, deliveries) == (2, 13)
    # Every admin got the same bytes' worth: the device's phone number id is visible to them.
    assert all(p == admin_payloads[0] for p in admin_payloads)
    event = admin_payloads[0]["data"]["messageEvents"]
    assert "errors" not in admin_payloads[0]
    assert event["message"]["id"] == sent["id"]
    assert event["message"]["conversation"]["device"]["webhookPath"] == (
        f"/webhooks/whatsapp/{device_id}"
    )
    # The agent's execution is its own: the ADMIN-only field is refused (FORBIDDEN).
    assert [e["extensions"]["code"] for e in agent_payload["errors"]] == ["FORBIDDEN"]
    assert agent_payload["errors"][0]["path"][-1] == "webhookPath"

    # A member that completes leaves its group; the last one out ends it.
    for socket in admin_sockets:
        await socket.send({"id": "1", "type": "complete"})

    async def left() -> dict[str, float] | None:
        sample = await metrics(live_server)
        ended = sample["parley_ws_subscription_groups"] < middle["parley_ws_subscription_groups"]
        return sample if ended else None

    done = await eventually(left)
    assert done["parley_ws_subscription_groups"] == middle["parley_ws_subscription_groups"] - 1
    assert done["parley_ws_subscriptions"] == middle["parley_ws_subscriptions"] - 12
    for socket in [*admin_sockets, agent_socket]:
        await socket.close()


async def test_a_field_that_depends_on_the_viewer_puts_the_viewer_in_the_scope(
    live_server: RunningServer,
) -> None:
    owner = await member(live_server, _api(live_server))
    device_id = await sandbox_device(owner)
    agents = [
        await member(live_server, _api(live_server), Role.AGENT, owner.organization_id)
        for _ in range(2)
    ]
    inbound = await simulate(owner, device_id, unique_phone(), "Hi")
    before = await metrics(live_server)
    sockets = [await Socket.open(live_server, a.token) for a in agents]
    for socket in sockets:
        await socket.subscribe("1", WITH_EMAIL)
    # Same document and role, but `User.email` is visible to the user themselves only.
    await _subscribed(live_server, before["parley_ws_subscription_groups"], 2)

    await agents[0].api.data(
        SEND, {"input": {"conversationId": inbound["conversation"]["id"], "text": "On its way"}}
    )

    async def created(socket: Socket) -> dict[str, Any]:
        while True:
            event = (await _next_payload(socket))["data"]["messageEvents"]
            if event["kind"] == "CREATED":
                return dict(event["message"])

    author_view, other_view = [await created(socket) for socket in sockets]
    assert author_view["author"]["email"] is not None
    assert other_view["author"]["email"] is None
    assert author_view["id"] == other_view["id"]
    for socket in sockets:
        await socket.close()


def _api(server: RunningServer) -> Any:
    from tests.support.client import Api

    return Api(server.graphql_url)
