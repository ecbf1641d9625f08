"""A Cloud API number at Meta: credentials checked on connect, read receipts, its send pace."""

from __future__ import annotations

import asyncio
import itertools
import uuid

import pytest

from app.models.messaging import Message
from app.platform.ids import to_global_id
from tests.fakes.graph_api import FakeGraphApi
from tests.support.client import Api
from tests.support.cloud_api import (
    APP_SECRET,
    cloud_device,
    conversation_of,
    fake,
    inbound,
    status_of,
)
from tests.support.messaging import (
    CONNECT_DEVICE,
    CREATE_DEVICE,
    SEND,
    Member,
    eventually,
    member,
    unique_phone,
)
from tests.support.server import RunningServer

__all__ = ["fake"]  # the fixture, used by name

MARK_READ = """
mutation($input: MarkConversationReadInput!) {
  markConversationRead(input: $input) { conversation { unreadCount } userErrors { message } }
}
"""
DEVICE = "query($id: ID!) { node(id: $id) { ... on Device { id status } } }"


async def _unconnected_device(owner: Member, phone_number_id: str, token: str) -> str:
    data = await owner.api.data(
        CREATE_DEVICE,
        {
            "input": {
                "name": "Cloud",
                "phoneNumber": unique_phone(),
                "provider": "CLOUD_API",
                "cloudApi": {
                    "phoneNumberId": phone_number_id,
                    "accessToken": token,
                    "appSecret": APP_SECRET,
                },
            }
        },
    )
    device_id: str = data["createDevice"]["device"]["id"]
    return device_id


def _ids() -> tuple[str, str]:
    return str(uuid.uuid4().int % 10**12), f"token-{uuid.uuid4().hex}"


async def test_connecting_checks_the_phone_number_and_token_with_meta(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    phone_number_id, token = _ids()
    fake.register(phone_number_id, token)
    device_id = await _unconnected_device(owner, phone_number_id, token)

    connected = await owner.api.data(CONNECT_DEVICE, {"input": {"deviceId": device_id}})

    assert connected["connectDevice"] == {
        "device": {"id": device_id, "status": "CONNECTED"},
        "userErrors": [],
    }
    assert fake.lookups == [phone_number_id]


async def test_a_token_meta_refuses_disconnects_the_device_and_is_never_echoed(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    phone_number_id, token = _ids()
    fake.register(phone_number_id, "the-right-token")
    device_id = await _unconnected_device(owner, phone_number_id, token)

    result = await owner.api.call(CONNECT_DEVICE, {"input": {"deviceId": device_id}})

    payload = result["data"]["connectDevice"]
    assert payload["device"]["status"] == "DISCONNECTED"
    [error] = payload["userErrors"]
    assert (error["field"], error["code"]) == (["input", "deviceId"], "INVALID")
    assert "access token" in error["message"]
    assert token not in str(result)
    assert (await owner.api.data(DEVICE, {"id": device_id}))["node"]["status"] == "DISCONNECTED"


async def test_a_phone_number_id_the_token_cannot_use_fails_the_device(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    phone_number_id, token = _ids()
    fake.register(phone_number_id, token)
    other_number = str(uuid.uuid4().int % 10**12)
    device_id = await _unconnected_device(owner, other_number, token)

    result = await owner.api.call(CONNECT_DEVICE, {"input": {"deviceId": device_id}})

    payload = result["data"]["connectDevice"]
    assert payload["device"]["status"] == "FAILED"
    [error] = payload["userErrors"]
    assert other_number in error["message"] and "phoneNumberId" in error["message"]
    assert token not in str(result)


async def test_an_unreachable_graph_api_leaves_the_device_disconnected_until_tried_again(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    phone_number_id, token = _ids()
    fake.register(phone_number_id, token)
    device_id = await _unconnected_device(owner, phone_number_id, token)
    fake.fail_next(http_status=503, times=10)

    first = await owner.api.data(CONNECT_DEVICE, {"input": {"deviceId": device_id}})
    fake.reset()
    second = await owner.api.data(CONNECT_DEVICE, {"input": {"deviceId": device_id}})

    assert first["connectDevice"]["device"]["status"] == "DISCONNECTED"
    assert "try connecting again" in first["connectDevice"]["userErrors"][0]["message"]
    assert second["connectDevice"] == {
        "device": {"id": device_id, "status": "CONNECTED"},
        "userErrors": [],
    }


async def test_marking_a_conversation_read_marks_the_latest_inbound_message_read_at_meta(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    wamids = [f"wamid.IN{uuid.uuid4().hex}" for _ in range(2)]
    for wamid in wamids:  # one after the other: webhook jobs may run in any order
        await fake.deliver_inbound(device.phone_number_id, "16505550301", wamid=wamid)
        await eventually(lambda wamid=wamid: Message.exists(provider_message_id=wamid))
    conversation_id = await conversation_of(owner, device)

    result = await owner.api.data(MARK_READ, {"input": {"conversationId": conversation_id}})

    assert result["markConversationRead"]["conversation"]["unreadCount"] == 0

    async def read_at_meta() -> list[str]:
        return list(fake.reads)

    assert await eventually(read_at_meta) == [wamids[1]]


async def test_a_read_receipt_meta_refuses_for_the_token_disconnects_the_device(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    conversation_id = await inbound(owner, fake, device, "16505550302")
    fake.fail_next(190)

    await owner.api.data(MARK_READ, {"input": {"conversationId": conversation_id}})

    async def disconnected() -> bool:
        node = (await owner.api.data(DEVICE, {"id": device.id}))["node"]
        return bool(node["status"] == "DISCONNECTED")

    await eventually(disconnected)
    assert fake.reads == []


@pytest.mark.serial  # sends within a second, answered within 10 s: alone
async def test_ordinary_sends_keep_to_the_devices_messages_per_second(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    # Meta would refuse a fourth send within a second; the device asks for two a second.
    device = await cloud_device(server, fake, owner, per_second=2, throughput=3)
    customers = [f"1650555{n:04d}" for n in range(400, 406)]
    for wa_id in customers:
        await fake.deliver_inbound(device.phone_number_id, wa_id)
    conversations = await eventually(lambda: _conversations(owner, device.id, len(customers)))

    sends = await asyncio.gather(
        *(
            owner.api.data(SEND, {"input": {"conversationId": c, "text": f"Reply {i}"}})
            for i, c in enumerate(conversations)
        )
    )
    for send in sends:
        await status_of(owner, send["sendMessage"]["message"]["id"], "SENT", "DELIVERED", "READ")

    assert [a.error_code for a in fake.attempts] == [None] * 6  # none refused, none retried
    arrivals = [send.at for send in fake.sends]
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    # Slots half a second apart; a busy machine may wake a sender late, never early: no burst.
    assert min(gaps) > 0.15, gaps
    assert arrivals[-1] - arrivals[0] >= 2.0, gaps


async def _conversations(owner: Member, device_id: str, count: int) -> list[str]:
    query = "query($id: ID) { conversations(deviceId: $id, first: 50) { nodes { id } } }"
    nodes = (await owner.api.data(query, {"id": device_id}))["conversations"]["nodes"]
    return [node["id"] for node in nodes] if len(nodes) == count else []


CONTACTS = "query($search: String) { contacts(search: $search) { nodes { optedOut } } }"


@pytest.mark.parametrize("where", ["send", "status webhook"])
async def test_meta_saying_the_customer_stopped_marketing_opts_the_contact_out(
    server: RunningServer, api: Api, fake: FakeGraphApi, where: str
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    wa_id = f"1650555{uuid.uuid4().int % 10_000:04d}"
    conversation_id = await inbound(owner, fake, device, wa_id)
    if where == "send":
        fake.fail_next(131050, to=wa_id)
    else:
        fake.fail_status(wa_id, 131050)
    before = await owner.api.data(CONTACTS, {"search": wa_id})

    reply = await owner.api.data(SEND, {"input": {"conversationId": conversation_id, "text": "x"}})

    failed = await status_of(owner, reply["sendMessage"]["message"]["id"], "FAILED")
    after = await owner.api.data(CONTACTS, {"search": wa_id})
    assert failed["errorCode"] == 131050
    assert before["contacts"]["nodes"] == [{"optedOut": False}]
    assert after["contacts"]["nodes"] == [{"optedOut": True}]


async def test_setting_a_devices_credentials_is_audited_without_the_secrets(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    phone_number_id, token = _ids()
    device_id = await _unconnected_device(owner, phone_number_id, token)
    new_token = f"token-{uuid.uuid4().hex}"

    await owner.api.data(
        UPDATE_DEVICE, {"input": {"deviceId": device_id, "cloudApi": {"accessToken": new_token}}}
    )

    result = await owner.api.call(AUDIT_EVENTS)
    events = [e for e in result["data"]["auditEvents"]["nodes"] if e["kind"].startswith("DEVICE")]
    assert [(e["kind"], e["data"], e["actor"]["id"]) for e in events] == [
        (
            "DEVICE_CREDENTIALS_CHANGED",
            {"device_id": device_id, "credentials": ["phoneNumberId", "accessToken", "appSecret"]},
            to_global_id("User", owner.user_id),
        ),
        (
            "DEVICE_CREDENTIALS_CHANGED",
            {"device_id": device_id, "credentials": ["accessToken"]},
            to_global_id("User", owner.user_id),
        ),
    ]
    assert token not in str(result) and new_token not in str(result)
    assert APP_SECRET not in str(result)


UPDATE_DEVICE = """
mutation($input: UpdateDeviceInput!) {
  updateDevice(input: $input) { device { id } userErrors { field message } }
}
"""
AUDIT_EVENTS = "{ auditEvents(first: 50) { nodes { kind data actor { id } } } }"
