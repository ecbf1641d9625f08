"""A CLOUD_API device on a WhatsApp Business Account of the fake Graph API, for template,
number-health and typing tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from tests.fakes.graph_api import FakeGraphApi
from tests.support.cloud_api import APP_SECRET
from tests.support.messaging import CONNECT_DEVICE, CREATE_DEVICE, Member, unique_phone
from tests.support.server import RunningServer

CREATE_TEMPLATE = """
mutation($input: CreateTemplateInput!) {
  createTemplate(input: $input) {
    template { id name status category qualityRating rejectedReason metaId }
    userErrors { field message code }
  }
}
"""
TEMPLATE = """
query($id: ID!) {
  node(id: $id) { ... on Template { id name status qualityRating rejectedReason } }
}
"""


@dataclass
class WabaDevice:
    id: str
    phone_number: str
    phone_number_id: str
    waba_id: str
    webhook_url: str
    token: str


async def waba_device(
    server: RunningServer, fake: FakeGraphApi, owner: Member, *, per_second: int = 80
) -> WabaDevice:
    """A CONNECTED device whose number belongs to a new business account (with a Meta app)."""
    phone_number_id = str(uuid.uuid4().int % 10**12)
    waba_id, app_id = f"waba{uuid.uuid4().int % 10**9}", f"app{uuid.uuid4().int % 10**9}"
    token = f"token-{uuid.uuid4().hex}"
    phone = unique_phone()
    data = await owner.api.data(
        CREATE_DEVICE,
        {
            "input": {
                "name": "Cloud",
                "phoneNumber": phone,
                "provider": "CLOUD_API",
                "messagesPerSecond": per_second,
                "cloudApi": {
                    "phoneNumberId": phone_number_id,
                    "accessToken": token,
                    "appSecret": APP_SECRET,
                    "wabaId": waba_id,
                    "appId": app_id,
                },
            }
        },
    )
    device_id = data["createDevice"]["device"]["id"]
    url = f"{server.url}/webhooks/whatsapp/{device_id}"
    fake.register(phone_number_id, token, webhook_url=url, throughput=per_second)
    fake.templates.add_waba(waba_id, token, app_id=app_id, phone_number_ids=[phone_number_id])
    connected = await owner.api.data(CONNECT_DEVICE, {"input": {"deviceId": device_id}})
    assert connected["connectDevice"]["device"]["status"] == "CONNECTED"
    return WabaDevice(device_id, phone, phone_number_id, waba_id, url, token)
