"""Orders and ad referrals of signed deliveries are queryable for reports; the items Parley
refused are visible to staff."""

from __future__ import annotations

import time
import uuid
from typing import Any

from app.models.accounts import Role
from tests.fakes.graph_api import FakeGraphApi, signed, webhook_envelope
from tests.support.client import Api
from tests.support.cloud_api import APP_SECRET, CloudDevice, cloud_device, fake, post
from tests.support.messaging import eventually, member
from tests.support.server import RunningServer

__all__ = ["fake"]  # the fixture, used by name

ORDERS = """
{
  orders {
    nodes {
      catalogId itemCount total currency
      items { productRetailerId quantity itemPrice currency }
      contact { phoneNumber }
      message { type body }
    }
  }
}
"""
REFERRALS = """
query($sourceId: String) {
  adReferrals(sourceId: $sourceId) {
    nodes { sourceType sourceId sourceUrl headline ctwaClid contact { phoneNumber } message { body } }
  }
}
"""
WEBHOOK_EVENTS = """
{
  webhookEvents(withErrors: true) {
    nodes { status error errors { where itemId reason } device { id } }
  }
}
"""
REFERRAL = {
    "source_url": "https://fb.me/ad123",
    "source_id": "120201234",
    "source_type": "ad",
    "headline": "Spring sale",
    "body": "20% off everything",
    "media_type": "image",
    "image_url": "https://example.com/ad.jpg",
    "ctwa_clid": "ARAkLkA8rmlFeiCktEJQ",
}


def _message(sender: str, **content: Any) -> dict[str, Any]:
    return {
        "from": sender,
        "id": f"wamid.{uuid.uuid4().hex}",
        "timestamp": str(int(time.time())),
    } | content


async def _deliver(device: CloudDevice, messages: list[dict[str, Any]]) -> None:
    contacts = [{"profile": {"name": "Ana"}, "wa_id": messages[0]["from"]}]
    value = {"contacts": contacts, "messages": messages}
    body, headers = signed(APP_SECRET, webhook_envelope(device.phone_number_id, value))
    assert await post(device.webhook_url, body, headers) == 200


async def test_orders_and_ad_referrals_are_queryable_for_reports(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    viewer = await member(server, api, Role.VIEWER, owner.organization_id)
    stranger = await member(server, api)
    device = await cloud_device(server, fake, owner)
    order = {
        "catalog_id": "cat-77",
        "text": "For the shop",
        "product_items": [
            {"product_retailer_id": "sku-1", "quantity": 2, "item_price": 9.5, "currency": "USD"},
            {"product_retailer_id": "sku-2", "quantity": 1, "item_price": 20, "currency": "USD"},
        ],
    }

    await _deliver(
        device,
        [
            _message(
                "16505550801", type="text", text={"body": "Is it on sale?"}, referral=REFERRAL
            ),
            _message("16505550801", type="order", order=order),
        ],
    )

    async def both() -> dict[str, Any] | None:
        orders = (await viewer.api.data(ORDERS))["orders"]["nodes"]
        return orders[0] if orders else None

    found = await eventually(both)
    assert found == {
        "catalogId": "cat-77",
        "itemCount": 3,
        "total": 39.0,
        "currency": "USD",
        "items": [
            {"productRetailerId": "sku-1", "quantity": 2, "itemPrice": 9.5, "currency": "USD"},
            {"productRetailerId": "sku-2", "quantity": 1, "itemPrice": 20.0, "currency": "USD"},
        ],
        "contact": {"phoneNumber": "+16505550801"},
        "message": {"type": "ORDER", "body": "For the shop"},
    }
    [referral] = (await viewer.api.data(REFERRALS, {"sourceId": "120201234"}))["adReferrals"][
        "nodes"
    ]
    assert referral == {
        "sourceType": "ad",
        "sourceId": "120201234",
        "sourceUrl": "https://fb.me/ad123",
        "headline": "Spring sale",
        "ctwaClid": "ARAkLkA8rmlFeiCktEJQ",
        "contact": {"phoneNumber": "+16505550801"},
        "message": {"body": "Is it on sale?"},
    }
    assert (await viewer.api.data(REFERRALS, {"sourceId": "other"}))["adReferrals"]["nodes"] == []
    assert (await stranger.api.data(ORDERS))["orders"]["nodes"] == []
    assert (await stranger.api.data(REFERRALS, {}))["adReferrals"]["nodes"] == []


async def test_refused_webhook_items_are_visible_to_staff_with_their_reason(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    agent = await member(server, api, Role.AGENT, owner.organization_id)
    stranger = await member(server, api)
    device = await cloud_device(server, fake, owner)
    messages = [
        _message("16505550802", type="text", text={"body": "one"}),
        _message("1" * 40, type="text", text={"body": "from nobody"}),
        _message("16505550802", type="text", text={"body": "three"}),
    ]

    await _deliver(device, messages)

    async def refused() -> list[dict[str, Any]]:
        nodes: list[dict[str, Any]] = (await owner.api.data(WEBHOOK_EVENTS))["webhookEvents"][
            "nodes"
        ]
        return nodes

    [event] = await eventually(refused)
    assert event["status"] == "PARTIAL"
    assert event["device"] == {"id": device.id}
    [item] = event["errors"]
    assert (item["where"], item["itemId"]) == (
        "entry[0].changes[0].messages[1]",
        messages[1]["id"],
    )
    assert "not a WhatsApp id" in item["reason"]
    by_agent = await agent.api.call(WEBHOOK_EVENTS)
    assert by_agent["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await stranger.api.data(WEBHOOK_EVENTS))["webhookEvents"]["nodes"] == []
