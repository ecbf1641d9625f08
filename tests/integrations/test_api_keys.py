"""API keys in one server: over WebSocket, expiry, and a creator who leaves."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from gql import gql

from app.models.accounts import Membership, Role
from app.platform.ids import to_global_id
from tests.integrations.support import (
    CREATE_API_KEY,
    MESSAGE_EVENTS,
    REVOKE_API_KEY,
    create_api_key,
)
from tests.support.client import Api
from tests.support.messaging import (
    eventually,
    member,
    sandbox_device,
    simulate,
    unique_phone,
    wait_for_subscribers,
)
from tests.support.server import RunningServer

DEVICES = "{ devices(first: 10) { nodes { id } } }"


def _code(result: dict[str, Any]) -> str | None:
    return result["errors"][0]["extensions"]["code"] if result["errors"] else None


async def test_a_key_subscribes_over_websocket_until_it_is_revoked(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    device_id = await sandbox_device(owner)
    key_id, secret = await create_api_key(owner, "VIEWER")
    seen: list[Any] = []

    async def listen() -> None:
        async with api.as_user(secret).websocket() as session:
            async for event in session.subscribe(gql(MESSAGE_EVENTS)):
                seen.append(event)

    listening = asyncio.create_task(listen())
    await wait_for_subscribers(server, f"org:{owner.organization_id}:messages")
    await simulate(owner, device_id, unique_phone(), "Hello")
    await eventually(lambda: _true(len(seen) == 1))
    await owner.api.data(REVOKE_API_KEY, {"input": {"apiKeyId": key_id}})
    await simulate(owner, device_id, unique_phone(), "Again")

    ended = await asyncio.wait_for(asyncio.gather(listening, return_exceptions=True), 10)
    assert len(seen) == 1
    assert "revoked" in str(ended[0]) or ended[0] is None


async def test_an_expired_key_is_refused_and_a_key_outlives_the_member_who_made_it(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    admin = await member(server, api, Role.ADMIN, owner.organization_id)
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    expiring = await admin.api.data(
        CREATE_API_KEY, {"input": {"name": "short", "role": "VIEWER", "expiresAt": soon}}
    )
    _, lasting = await create_api_key(admin, "AGENT")

    membership = await Membership.get(user_id=admin.user_id)
    removed = await owner.api.data(
        "mutation($input: RemoveMemberInput!) { removeMember(input: $input) "
        "{ userErrors { code } } }",
        {"input": {"memberId": to_global_id("Member", membership.id)}},
    )
    await asyncio.sleep(1.1)

    assert removed["removeMember"]["userErrors"] == []
    assert _code(await admin.api.call(DEVICES)) == "UNAUTHENTICATED"
    assert _code(await api.as_user(lasting).call(DEVICES)) is None
    expired = api.as_user(expiring["createApiKey"]["secret"])
    assert _code(await expired.call(DEVICES)) == "UNAUTHENTICATED"


async def test_an_unknown_key_is_unauthenticated(server: RunningServer, api: Api) -> None:
    assert _code(await api.as_user("prl_" + "x" * 43).call(DEVICES)) == "UNAUTHENTICATED"


async def _true(value: bool) -> bool:
    return value
