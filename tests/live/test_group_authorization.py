"""Members of one group are authorized one by one: a revoked session ends only its own
subscription (UNAUTHENTICATED), a removed member gets `complete`, the others go on."""

from __future__ import annotations

import asyncio

from app.models.accounts import Membership, Role
from tests.live.support import Socket, metrics
from tests.support.accounts import register_user
from tests.support.client import Api
from tests.support.messaging import sandbox_device, simulate, unique_phone
from tests.support.server import RunningServer

EVENTS = "subscription { messageEvents { kind message { id } } }"
LOGOUT = "mutation { logout(input: {}) { revokedSessions userErrors { code } } }"


async def test_a_revoked_or_removed_member_leaves_its_group_and_the_others_go_on(
    live_server: RunningServer,
) -> None:
    api = Api(live_server.graphql_url)
    owner = await register_user(api)
    device_id = await sandbox_device(owner)  # type: ignore[arg-type]
    admins = [await register_user(api, role=Role.ADMIN, organization_of=owner) for _ in range(3)]
    before = await metrics(live_server)
    sockets = [
        await Socket.open(live_server, a.access_token, organization_id=owner.organization_id)
        for a in admins
    ]
    for socket in sockets:
        await socket.subscribe("1", EVENTS)
    for _ in range(200):
        now = await metrics(live_server)
        if now["parley_ws_subscriptions"] >= before["parley_ws_subscriptions"] + 3:
            break
        await asyncio.sleep(0.02)
    assert now["parley_ws_subscription_groups"] - before["parley_ws_subscription_groups"] == 1

    await admins[0].api.data(LOGOUT)
    ended = await sockets[0].receive()
    assert ended["type"] == "error" and ended["id"] == "1"
    assert ended["payload"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    await Membership.filter(
        user_id=admins[1].user_pk, organization_id=owner.organization_pk
    ).delete()
    sent = await simulate(owner, device_id, unique_phone(), "Still there?")  # type: ignore[arg-type]

    completed = await sockets[1].receive()
    assert completed == {"id": "1", "type": "complete"}
    delivered = await sockets[2].receive()
    assert delivered["type"] == "next"
    assert delivered["payload"]["data"]["messageEvents"]["message"]["id"] == sent["id"]
    after = await metrics(live_server)
    assert after["parley_ws_subscriptions"] - before["parley_ws_subscriptions"] == 1
    for socket in sockets:
        await socket.close()
