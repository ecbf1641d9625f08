"""A plan's usage warnings reach an integration: a webhook whose document subscribes to
`usageWarnings` gets the 80 % and 100 % warnings as signed deliveries."""

from __future__ import annotations

from app.platform import events
from tests.integrations.conftest import receiver
from tests.integrations.receiver import Receiver
from tests.integrations.support import create_webhook
from tests.plans.support import on_plan, staff
from tests.support.client import Api
from tests.support.messaging import CREATE_DEVICE, eventually, member, unique_phone
from tests.support.server import RunningServer

__all__ = ["receiver"]  # the fixture, used by name

WARNINGS = "subscription { usageWarnings { limit threshold used allowed } }"


async def test_usage_warnings_are_delivered_to_a_webhook_that_asks_for_them(
    server: RunningServer, api: Api, receiver: Receiver
) -> None:
    owner = await member(server, api)
    admin = await staff(server, api)
    await on_plan(admin, owner, devices=5)
    await create_webhook(owner, receiver.url, WARNINGS, role="ADMIN")

    for _ in range(5):
        created = await owner.api.data(
            CREATE_DEVICE,
            {"input": {"name": "Line", "phoneNumber": unique_phone(), "provider": "SANDBOX"}},
        )
        assert created["createDevice"]["userErrors"] == []

    async def both() -> bool:
        return len(receiver.accepted) >= 2

    await eventually(both, within=20)
    received = receiver.in_order()
    assert [r.json["event"] for r in received] == [f"{events.USAGE}.LIMIT_WARNING"] * 2
    assert [r.json["data"]["usageWarnings"] for r in received] == [
        {"limit": "devices", "threshold": 80, "used": 4.0, "allowed": 5.0},
        {"limit": "devices", "threshold": 100, "used": 5.0, "allowed": 5.0},
    ]
