"""Cached reads (app.platform.cache) are forgotten by the writes that change them: each change takes
effect on the caller's very next request."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx

from app.models.accounts import Role, User
from app.platform.cache import device_key, viewer_key
from app.platform.ids import decode_id
from app.platform.security import issue_access_token
from tests.fakes.graph_api import inbound_webhook, signed
from tests.support.accounts import SignedUp, register_user
from tests.support.client import Api
from tests.support.messaging import CREATE_DEVICE, member, unique_phone
from tests.support.server import RunningServer

ORGANIZATION = "{ organization { id viewerRole members { edges { node { id user { id } } } } } }"
VIEWER_ROLE = "{ organization { viewerRole } }"
UPDATE_ROLE = """
mutation ($id: ID!, $role: Role!) {
  updateMemberRole(input: {memberId: $id, role: $role}) { member { role } userErrors { code } }
}
"""
REMOVE = """
mutation ($id: ID!) { removeMember(input: {memberId: $id}) { userErrors { code } } }
"""
LOGOUT = """
mutation ($token: String!) { logout(input: {refreshToken: $token}) { revokedSessions } }
"""
UPDATE_DEVICE = """
mutation ($input: UpdateDeviceInput!) { updateDevice(input: $input) { userErrors { code } } }
"""
DELETE_DEVICE = """
mutation ($input: DeleteDeviceInput!) { deleteDevice(input: $input) { userErrors { code } } }
"""


def _code(result: dict[str, Any]) -> str:
    return str(result["errors"][0]["extensions"]["code"])


async def _cached(server: RunningServer, key: str) -> bool:
    return bool(await server.runtime.redis.exists(f"cache:{key}"))


async def _member_id(owner: SignedUp, of: SignedUp) -> str:
    data = await owner.api.data(ORGANIZATION)
    [member_id] = [
        edge["node"]["id"]
        for edge in data["organization"]["members"]["edges"]
        if edge["node"]["user"]["id"] == of.user_id
    ]
    return str(member_id)


async def _warm(server: RunningServer, user: SignedUp) -> None:
    """Requests until the user's auth lookup is served from the cache (a write of the user
    just before leaves a tombstone for a few seconds, during which nothing is stored)."""
    for _ in range(200):
        await user.api.data(VIEWER_ROLE)
        if await _cached(server, viewer_key(user.user_pk)):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the auth lookup was never cached")


async def test_a_role_change_takes_effect_on_the_very_next_request(
    server: RunningServer, api: Api
) -> None:
    owner = await register_user(api)
    agent = await register_user(api, role=Role.AGENT, organization_of=owner)
    await _warm(server, agent)
    before = await agent.api.data(VIEWER_ROLE)

    changed = await owner.api.data(
        UPDATE_ROLE, {"id": await _member_id(owner, agent), "role": "ADMIN"}
    )
    after = await agent.api.data(VIEWER_ROLE)

    assert before["organization"]["viewerRole"] == "AGENT"
    assert changed["updateMemberRole"] == {"member": {"role": "ADMIN"}, "userErrors": []}
    assert after["organization"]["viewerRole"] == "ADMIN"


async def test_a_member_removed_from_the_organization_is_refused_on_the_next_request(
    server: RunningServer, api: Api
) -> None:
    owner = await register_user(api)
    agent = await register_user(api, role=Role.AGENT, organization_of=owner)
    await _warm(server, agent)

    removed = await owner.api.data(REMOVE, {"id": await _member_id(owner, agent)})
    after = await agent.api.call(VIEWER_ROLE)

    assert removed["removeMember"] == {"userErrors": []}
    assert _code(after) == "NOT_FOUND"


async def test_a_deactivated_user_is_refused_on_the_next_request(
    server: RunningServer, api: Api
) -> None:
    user = await register_user(api)
    await _warm(server, user)

    row = await User.get(id=user.user_pk)
    row.is_active = False
    await row.save(update_fields=["is_active", "updated_at"])
    after = await user.api.call(VIEWER_ROLE)

    assert _code(after) == "UNAUTHENTICATED"


async def test_a_revoked_session_is_refused_on_the_next_request(
    server: RunningServer, api: Api
) -> None:
    user = await register_user(api)
    await _warm(server, user)

    logged_out = await user.api.data(LOGOUT, {"token": user.refresh_token})
    after = await user.api.call(VIEWER_ROLE)

    assert logged_out["logout"]["revokedSessions"] == 1
    assert _code(after) == "UNAUTHENTICATED"


async def _cloud_device(owner: Any, app_secret: str) -> str:
    data = await owner.api.data(
        CREATE_DEVICE,
        {
            "input": {
                "name": "Cloud",
                "phoneNumber": unique_phone(),
                "provider": "CLOUD_API",
                "cloudApi": {
                    "phoneNumberId": str(uuid.uuid4().int % 10**12),
                    "accessToken": f"token-{uuid.uuid4().hex}",
                    "appSecret": app_secret,
                },
            }
        },
    )
    return str(data["createDevice"]["device"]["id"])


async def _deliver(server: RunningServer, device_id: str, app_secret: str) -> int:
    body, headers = signed(app_secret, inbound_webhook("123", "16505550199", text="Hi"))
    async with httpx.AsyncClient(timeout=60) as http:
        response = await http.post(
            f"{server.url}/webhooks/whatsapp/{device_id}", content=body, headers=headers
        )
    return response.status_code


async def _warm_device(server: RunningServer, device_id: str, app_secret: str) -> None:
    """Deliveries until the device is served from the cache."""
    for _ in range(200):
        assert await _deliver(server, device_id, app_secret) == 200
        if await _cached(server, device_key(decode_id(device_id, "Device"))):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the webhook's device was never cached")


async def test_a_webhook_after_the_app_secret_changed_is_checked_against_the_new_one(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    device_id = await _cloud_device(owner, "first-secret")
    await _warm_device(server, device_id, "first-secret")

    updated = await owner.api.data(
        UPDATE_DEVICE,
        {"input": {"deviceId": device_id, "cloudApi": {"appSecret": "second-secret"}}},
    )
    with_old = await _deliver(server, device_id, "first-secret")
    with_new = await _deliver(server, device_id, "second-secret")

    assert updated["updateDevice"] == {"userErrors": []}
    assert (with_old, with_new) == (403, 200)


async def test_a_webhook_for_a_deleted_device_is_not_found(server: RunningServer, api: Api) -> None:
    owner = await member(server, api)
    device_id = await _cloud_device(owner, "a-secret")
    await _warm_device(server, device_id, "a-secret")

    deleted = await owner.api.data(DELETE_DEVICE, {"input": {"deviceId": device_id}})
    after = await _deliver(server, device_id, "a-secret")

    assert deleted["deleteDevice"] == {"userErrors": []}
    assert after == 404


async def test_a_token_accepted_before_is_refused_once_it_has_expired(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    # Expired two seconds ago: still accepted within the 5-second leeway, for 2 to 3 seconds.
    token, claims = issue_access_token(
        server.settings,
        user_id=owner.user_id,
        organization_id=owner.organization_id,
        ttl_seconds=-2,
    )
    short_lived = api.as_user(token)

    before = await short_lived.call(VIEWER_ROLE)
    # The point: time passes beyond its expiry and the leeway (and a second more).
    await asyncio.sleep(max(0.0, claims.expires_at + 5 + 1 - time.time()))
    after = await short_lived.call(VIEWER_ROLE)

    assert before["data"]["organization"]["viewerRole"] == "OWNER"
    assert _code(after) == "UNAUTHENTICATED"
