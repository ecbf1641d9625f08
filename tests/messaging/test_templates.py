from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.models.accounts import Role
from app.models.messaging import Template
from app.platform.ids import decode_id
from tests.fakes.graph_api import FakeGraphApi
from tests.support.client import Api
from tests.support.messaging import (
    CREATE_DEVICE,
    SEND,
    Member,
    eventually,
    member,
    sandbox_device,
    unique_phone,
)
from tests.support.server import RunningServer

CREATE_TEMPLATE = """
mutation($input: CreateTemplateInput!) {
  createTemplate(input: $input) {
    template { id name language category status variables device { id } }
    userErrors { field message code }
  }
}
"""
TEMPLATES = """
query($deviceId: ID) {
  templates(deviceId: $deviceId) { nodes { name language category status variables } }
}
"""
SYNC = """
mutation($input: SyncTemplatesInput!) {
  syncTemplates(input: $input) { device { id } userErrors { field message code } }
}
"""
MESSAGE = "query($id: ID!) { node(id: $id) { ... on Message { status type payload } } }"
ORDER_SHIPPED = [{"type": "BODY", "text": "Hi {{1}}, order {{2}} has shipped."}]


def _template(device_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "input": {
            "deviceId": device_id,
            "name": "order_shipped",
            "language": "en_US",
            "category": "UTILITY",
            "components": ORDER_SHIPPED,
        }
        | overrides
    }


async def _send_template(who: Member, device_id: str, parameters: list[str]) -> dict[str, Any]:
    template = {"name": "order_shipped", "language": "en_US", "parameters": parameters}
    data = await who.api.data(
        SEND, {"input": {"deviceId": device_id, "to": unique_phone(), "template": template}}
    )
    result: dict[str, Any] = data["sendMessage"]
    return result


async def test_a_created_template_is_listed_and_sent_with_its_parameters(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    device_id = await sandbox_device(owner)

    created = await owner.api.data(CREATE_TEMPLATE, _template(device_id))
    listed = await owner.api.data(TEMPLATES, {"deviceId": device_id})
    sent = await _send_template(owner, device_id, ["Ana", "#1042"])
    short = await _send_template(owner, device_id, ["Ana"])

    assert created["createTemplate"]["userErrors"] == []
    template = created["createTemplate"]["template"]
    assert (template["status"], template["variables"]) == ("APPROVED", ["1", "2"])
    assert listed["templates"]["nodes"] == [
        {
            "name": "order_shipped",
            "language": "en_US",
            "category": "UTILITY",
            "status": "APPROVED",
            "variables": ["1", "2"],
        }
    ]
    assert sent["userErrors"] == []

    async def read() -> dict[str, Any] | None:
        node: dict[str, Any] = (await owner.api.data(MESSAGE, {"id": sent["message"]["id"]}))[
            "node"
        ]
        return node if node["status"] == "READ" else None

    message = await eventually(read)
    assert (message["type"], message["payload"]["parameters"]) == ("TEMPLATE", ["Ana", "#1042"])
    [error] = short["userErrors"]
    assert (error["field"], error["code"]) == (["input", "template", "parameters"], "INVALID")


async def test_a_template_name_is_unique_per_device_and_language(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    device_id = await sandbox_device(owner)
    await owner.api.data(CREATE_TEMPLATE, _template(device_id))

    again = await owner.api.data(CREATE_TEMPLATE, _template(device_id))
    other_language = await owner.api.data(CREATE_TEMPLATE, _template(device_id, language="pt_BR"))
    bad = await owner.api.data(
        CREATE_TEMPLATE, _template(device_id, name="Order Shipped", components=[{"x": 1}])
    )

    assert [e["code"] for e in again["createTemplate"]["userErrors"]] == ["TAKEN"]
    assert other_language["createTemplate"]["userErrors"] == []
    assert [e["field"] for e in bad["createTemplate"]["userErrors"]] == [
        ["input", "name"],
        ["input", "components"],
    ]


async def test_an_agent_cannot_create_templates(server: RunningServer, api: Api) -> None:
    owner = await member(server, api)
    device_id = await sandbox_device(owner)
    agent = await member(server, api, role=Role.AGENT, organization_id=owner.organization_id)

    result = await agent.api.call(CREATE_TEMPLATE, _template(device_id))

    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"


@pytest.fixture
async def fake(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[FakeGraphApi]:
    async with FakeGraphApi() as graph:
        monkeypatch.setattr(server.settings, "whatsapp_graph_url", graph.base_url)
        yield graph


async def test_sync_pulls_a_cloud_api_devices_templates_from_its_business_account(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    waba_id, token = str(uuid.uuid4().int % 10**12), f"token-{uuid.uuid4().hex}"
    for index in range(120):  # more than one page of Meta's paging
        fake.add_template(waba_id, token, name=f"promo_{index:03d}", category="MARKETING")
    fake.add_template(waba_id, token, name="welcome", status="REJECTED")
    created = await owner.api.data(
        CREATE_DEVICE,
        {
            "input": {
                "name": "Cloud",
                "phoneNumber": unique_phone(),
                "provider": "CLOUD_API",
                "cloudApi": {
                    "phoneNumberId": str(uuid.uuid4().int % 10**12),
                    "accessToken": token,
                    "appSecret": "secret",
                    "wabaId": waba_id,
                },
            }
        },
    )
    device_id = created["createDevice"]["device"]["id"]
    sandbox_id = await sandbox_device(owner)

    synced = await owner.api.data(SYNC, {"input": {"deviceId": device_id}})
    refused = await owner.api.data(SYNC, {"input": {"deviceId": sandbox_id}})

    assert synced["syncTemplates"]["userErrors"] == []
    assert [e["code"] for e in refused["syncTemplates"]["userErrors"]] == ["INVALID"]
    query = """
    query($deviceId: ID, $after: String) {
      templates(deviceId: $deviceId, first: 100, after: $after) {
        nodes { name status category } pageInfo { hasNextPage endCursor }
      }
    }"""

    device_pk = decode_id(device_id, "Device")

    async def all_synced() -> bool:
        return await Template.filter(device_id=device_pk).count() == 121

    await eventually(all_synced, within=30, interval=0.2)
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        page = (await owner.api.data(query, {"deviceId": device_id, "after": after}))["templates"]
        nodes += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    templates = {t["name"]: t for t in nodes}
    assert len(templates) == 121
    assert templates["promo_000"] == {
        "name": "promo_000",
        "status": "APPROVED",
        "category": "MARKETING",
    }
    assert templates["welcome"]["status"] == "REJECTED"
