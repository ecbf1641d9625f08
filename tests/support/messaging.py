"""Tiny factories for messaging tests: members of fresh organizations, devices, contacts."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

from app.models.accounts import Membership, Organization, Role, User
from app.platform.security import issue_access_token
from tests.support.client import Api
from tests.support.server import RunningServer


@dataclass
class Member:
    api: Api
    user_id: int
    organization_id: int
    token: str


async def member(
    server: RunningServer, api: Api, role: Role = Role.OWNER, organization_id: int | None = None
) -> Member:
    """A user with ``role`` in a new organization (or in ``organization_id``), signed in."""
    if organization_id is None:
        organization_id = (await Organization.create(name=f"Org {uuid.uuid4().hex[:8]}")).id
    user = await User.create(email=f"{uuid.uuid4().hex}@example.com", name="Member")
    await Membership.create(user_id=user.id, organization_id=organization_id, role=role)
    token, _ = issue_access_token(server.settings, user_id=user.id, organization_id=organization_id)
    return Member(api.as_user(token), user.id, organization_id, token)


def unique_phone() -> str:
    """A valid US number nobody else in the test session uses."""
    return f"+1650555{uuid.uuid4().int % 10_000:04d}"


CREATE_DEVICE = """
mutation($input: CreateDeviceInput!) {
  createDevice(input: $input) {
    device { id name phoneNumber provider status messagesPerSecond }
    userErrors { field message code }
  }
}
"""
CONNECT_DEVICE = """
mutation($input: ConnectDeviceInput!) {
  connectDevice(input: $input) { device { id status } userErrors { field message code } }
}
"""
SIMULATE = """
mutation($input: SimulateInboundMessageInput!) {
  simulateInboundMessage(input: $input) {
    message { id body direction status conversation { id unreadCount serviceWindowOpen } }
    userErrors { field message code }
  }
}
"""
SEND = """
mutation($input: SendMessageInput!) {
  sendMessage(input: $input) {
    message { id body direction status errorCode errorMessage clientMessageId }
    userErrors { field message code }
  }
}
"""


async def sandbox_device(who: Member, name: str = "Support") -> str:
    data = await who.api.data(
        CREATE_DEVICE,
        {"input": {"name": name, "phoneNumber": unique_phone(), "provider": "SANDBOX"}},
    )
    assert data["createDevice"]["userErrors"] == []
    device_id: str = data["createDevice"]["device"]["id"]
    connected = await who.api.data(CONNECT_DEVICE, {"input": {"deviceId": device_id}})
    assert connected["connectDevice"]["device"]["status"] == "CONNECTED"
    return device_id


async def simulate(who: Member, device_id: str, sender: str, text: str) -> dict[str, Any]:
    data = await who.api.data(
        SIMULATE, {"input": {"deviceId": device_id, "from": sender, "text": text}}
    )
    assert data["simulateInboundMessage"]["userErrors"] == []
    message: dict[str, Any] = data["simulateInboundMessage"]["message"]
    return message


async def wait_for_subscribers(server: RunningServer, channel: str, within: float = 5) -> None:
    """Until this process's broker listens on ``channel`` (a subscription has started)."""
    broker = server.runtime.broker
    deadline = asyncio.get_running_loop().time() + within
    while channel not in broker._subscribers:
        assert asyncio.get_running_loop().time() < deadline, f"nobody subscribed to {channel}"
        await asyncio.sleep(0.01)


async def eventually(check: Any, within: float = 10, interval: float = 0.05) -> Any:
    """Poll the async ``check`` until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await check()
        if result:
            return result
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(interval)
