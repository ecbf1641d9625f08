"""Simulated QR pairing of SANDBOX devices: QR_REQUIRED with a rotating code, then CONNECTED."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from gql import gql

from app.models.accounts import Role
from tests.support.client import Api
from tests.support.messaging import (
    CREATE_DEVICE,
    Member,
    eventually,
    member,
    unique_phone,
    wait_for_subscribers,
)
from tests.support.server import RunningServer

DEVICE_EVENTS = """
subscription($id: ID!) {
  deviceEvents(deviceId: $id) { status device { status } qrCode qrCodeExpiresAt }
}
"""
CONNECT = """
mutation($input: ConnectDeviceInput!) {
  connectDevice(input: $input) {
    device { id status requiresPairing qrCode qrCodeExpiresAt }
    userErrors { field message code }
  }
}
"""
SCAN = """
mutation($input: SimulateQrScanInput!) {
  simulateQrScan(input: $input) {
    device { id status qrCode }
    userErrors { field message code }
  }
}
"""
DEVICE = "query($id: ID!) { node(id: $id) { ... on Device { status qrCode } } }"


async def _pairing_device(who: Member) -> str:
    data = await who.api.data(
        CREATE_DEVICE.replace("messagesPerSecond", "messagesPerSecond requiresPairing"),
        {
            "input": {
                "name": "Phone",
                "phoneNumber": unique_phone(),
                "provider": "SANDBOX",
                "requiresPairing": True,
            }
        },
    )
    assert data["createDevice"]["userErrors"] == []
    assert data["createDevice"]["device"]["requiresPairing"] is True
    device_id: str = data["createDevice"]["device"]["id"]
    return device_id


async def _scan(who: Member, device_id: str, code: str) -> dict[str, Any]:
    data = await who.api.data(SCAN, {"input": {"deviceId": device_id, "qrCode": code}})
    result: dict[str, Any] = data["simulateQrScan"]
    return result


async def test_a_device_that_pairs_shows_a_qr_code_on_device_events_then_connects_when_scanned(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    device_id = await _pairing_device(owner)
    seen: list[dict[str, Any]] = []

    async def listen(session: Any) -> None:
        subscription = session.subscribe(gql(DEVICE_EVENTS), variable_values={"id": device_id})
        async for event in subscription:
            seen.append(event["deviceEvents"])
            if event["deviceEvents"]["status"] == "CONNECTED":
                return

    async with owner.api.websocket() as session:
        listening = asyncio.create_task(listen(session))
        await wait_for_subscribers(server, f"org:{owner.organization_id}:devices")
        connect = await owner.api.data(CONNECT, {"input": {"deviceId": device_id}})
        shown = connect["connectDevice"]["device"]

        async def qr_seen() -> bool:
            return bool(seen)

        await eventually(qr_seen)  # the subscriber saw the code before the phone scans it
        scanned = await _scan(owner, device_id, shown["qrCode"])
        await asyncio.wait_for(listening, timeout=20)

    assert shown["status"] == "QR_REQUIRED"
    assert shown["qrCode"].startswith("2@") and shown["qrCodeExpiresAt"]
    # Each event names the status it announces, even when the device has moved on by the
    # time it is delivered (CONNECTING is followed by CONNECTED at once).
    assert [event["status"] for event in seen] == ["QR_REQUIRED", "CONNECTING", "CONNECTED"]
    assert seen[0] == {
        "status": "QR_REQUIRED",
        "device": {"status": "QR_REQUIRED"},
        "qrCode": shown["qrCode"],
        "qrCodeExpiresAt": shown["qrCodeExpiresAt"],
    }
    assert seen[-1] == {
        "status": "CONNECTED",
        "device": {"status": "CONNECTED"},
        "qrCode": None,
        "qrCodeExpiresAt": None,
    }
    assert scanned == {
        "device": {"id": device_id, "status": "CONNECTED", "qrCode": None},
        "userErrors": [],
    }


async def test_qr_codes_rotate_a_replaced_one_is_refused_and_unscanned_pairing_gives_up(
    server: RunningServer, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server.settings, "sandbox_qr_ttl_seconds", 1.0)
    monkeypatch.setattr(server.settings, "sandbox_qr_codes", 3)
    owner = await member(server, api)
    device_id = await _pairing_device(owner)
    first = (await owner.api.data(CONNECT, {"input": {"deviceId": device_id}}))["connectDevice"]
    first_code = first["device"]["qrCode"]

    async def next_code() -> str | None:
        code = (await owner.api.data(DEVICE, {"id": device_id}))["node"]["qrCode"]
        return code if code not in (None, first_code) else None

    second_code = await eventually(next_code, within=20)
    stale = await _scan(owner, device_id, first_code)

    async def gave_up() -> bool:
        node = (await owner.api.data(DEVICE, {"id": device_id}))["node"]
        return node == {"status": "DISCONNECTED", "qrCode": None}

    await eventually(gave_up, within=30)
    expired = await _scan(owner, device_id, second_code)
    again = (await owner.api.data(CONNECT, {"input": {"deviceId": device_id}}))["connectDevice"]
    paired = await _scan(owner, device_id, again["device"]["qrCode"])

    assert second_code.startswith("2@")
    [error] = stale["userErrors"]
    assert (error["field"], error["code"]) == (["input", "qrCode"], "INVALID")
    assert stale["device"]["status"] == "QR_REQUIRED"
    assert [e["code"] for e in expired["userErrors"]] == ["CONFLICT"]
    assert again["device"]["status"] == "QR_REQUIRED"
    assert again["device"]["qrCode"] not in (first_code, second_code)
    assert paired["device"]["status"] == "CONNECTED"


async def test_only_admins_see_and_scan_qr_codes_and_only_sandbox_devices_pair(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    agent = await member(server, api, role=Role.AGENT, organization_id=owner.organization_id)
    device_id = await _pairing_device(owner)
    await owner.api.data(CONNECT, {"input": {"deviceId": device_id}})

    peek = await agent.api.call(DEVICE, {"id": device_id})
    scan = await agent.api.call(SCAN, {"input": {"deviceId": device_id, "qrCode": "2@x"}})
    cloud = await owner.api.data(
        CREATE_DEVICE,
        {
            "input": {
                "name": "Cloud",
                "phoneNumber": unique_phone(),
                "provider": "CLOUD_API",
                "requiresPairing": True,
                "cloudApi": {"phoneNumberId": "1", "accessToken": "t", "appSecret": "s"},
            }
        },
    )
    plain = await owner.api.data(
        CREATE_DEVICE,
        {"input": {"name": "Plain", "phoneNumber": unique_phone(), "provider": "SANDBOX"}},
    )
    plain_id = plain["createDevice"]["device"]["id"]
    not_pairing = await _scan(owner, plain_id, "2@x")

    assert [e["extensions"]["code"] for e in peek["errors"]] == ["FORBIDDEN"]
    assert peek["data"]["node"]["status"] == "QR_REQUIRED"
    assert [e["extensions"]["code"] for e in scan["errors"]] == ["FORBIDDEN"]
    [error] = cloud["createDevice"]["userErrors"]
    assert (error["field"], error["code"]) == (["input", "requiresPairing"], "INVALID")
    assert [(e["field"], e["code"]) for e in not_pairing["userErrors"]] == [
        (["input", "deviceId"], "INVALID")
    ]
