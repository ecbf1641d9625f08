"""A Cloud API device of a test organization, wired to the fake Graph API."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.fakes.graph_api import FakeGraphApi, inbound_webhook, signed
from tests.support.messaging import CONNECT_DEVICE, CREATE_DEVICE, Member, eventually, unique_phone
from tests.support.server import RunningServer

APP_SECRET = "cloud-app-secret"

MESSAGE = """
query($id: ID!) {
  node(id: $id) { ... on Message { id type body status errorCode errorMessage } }
}
"""
CONVERSATIONS = """
query($deviceId: ID) {
  conversations(deviceId: $deviceId) { nodes { id serviceWindowOpen contact { phoneNumber } } }
}
"""


@dataclass
class CloudDevice:
    id: str
    phone_number_id: str
    webhook_url: str


@pytest.fixture
async def fake(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[FakeGraphApi]:
    async with FakeGraphApi(app_secret=APP_SECRET, status_delay=0.01) as graph:
        monkeypatch.setattr(server.settings, "whatsapp_graph_url", graph.base_url)
        yield graph


async def cloud_device(
    server: RunningServer,
    fake: FakeGraphApi,
    owner: Member,
    *,
    statuses: bool = True,
    per_second: int = 80,
    throughput: int | None = None,
) -> CloudDevice:
    """A CONNECTED device sending ``per_second``; the fake refuses (130429) sends over
    ``throughput`` (default: the same)."""
    phone_number_id = str(uuid.uuid4().int % 10**12)
    token = f"token-{uuid.uuid4().hex}"
    data = await owner.api.data(
        CREATE_DEVICE,
        {
            "input": {
                "name": "Cloud",
                "phoneNumber": unique_phone(),
                "provider": "CLOUD_API",
                "messagesPerSecond": per_second,
                "cloudApi": {
                    "phoneNumberId": phone_number_id,
                    "accessToken": token,
                    "appSecret": APP_SECRET,
                },
            }
        },
    )
    device_id = data["createDevice"]["device"]["id"]
    url = f"{server.url}/webhooks/whatsapp/{device_id}"
    fake.register(
        phone_number_id,
        token,
        webhook_url=url if statuses else None,
        throughput=throughput or per_second,
    )
    connected = await owner.api.data(CONNECT_DEVICE, {"input": {"deviceId": device_id}})
    assert connected["connectDevice"]["device"]["status"] == "CONNECTED"
    return CloudDevice(device_id, phone_number_id, url)


async def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    async with httpx.AsyncClient() as client:
        return (await client.post(url, content=body, headers=headers)).status_code


async def inbound(owner: Member, fake: FakeGraphApi, device: CloudDevice, wa_id: str) -> str:
    """A customer writes; returns the conversation id once the webhook is processed."""
    body, headers = signed(
        APP_SECRET, inbound_webhook(device.phone_number_id, wa_id, text="Hi there")
    )
    assert await post(device.webhook_url, body, headers) == 200
    return await conversation_of(owner, device)


async def conversation_of(owner: Member, device: CloudDevice) -> str:
    """The device's conversation once its customer message is stored (the window is open)."""

    async def conversation() -> str | None:
        data = await owner.api.data(CONVERSATIONS, {"deviceId": device.id})
        nodes = [node for node in data["conversations"]["nodes"] if node["serviceWindowOpen"]]
        return nodes[0]["id"] if nodes else None

    conversation_id: str = await eventually(conversation)
    return conversation_id


async def status_of(
    owner: Member, message_id: str, *wanted: str, within: float = 10
) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        node = (await owner.api.data(MESSAGE, {"id": message_id}))["node"]
        return node if node["status"] in wanted else None

    result: dict[str, Any] = await eventually(check, within=within)
    return result
