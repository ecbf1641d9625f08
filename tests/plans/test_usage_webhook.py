"""A plan's usage warnings reach an integration: a webhook whose document subscribes to
`usageWarnings` gets the 80 % and 100 % warnings as signed deliveries."""

from __future__ import annotations

from app.platform import events
from tests.integrations.conftest import receiver
from tests.integrations.receiver import Receiver
from tests.integrations.support import create_webhook
from tests.plans.support import WARNINGS, new_device, on_plan
from tests.support.messaging import Member, eventually

__all__ = ["receiver"]  # the fixture, used by name


async def test_usage_warnings_are_delivered_to_a_webhook_that_asks_for_them(
    receiver: Receiver, owner: Member, admin: Member
) -> None:
    await on_plan(admin, owner, devices=5)
    await create_webhook(owner, receiver.url, WARNINGS, role="ADMIN")

    for _ in range(5):
        await new_device(owner)

    async def both() -> bool:
        return len(receiver.accepted) >= 2

    await eventually(both, within=20)
    received = receiver.in_order()
    assert [r.json["event"] for r in received] == [f"{events.USAGE}.LIMIT_WARNING"] * 2
    assert [r.json["data"]["usageWarnings"] for r in received] == [
        {"limit": "devices", "threshold": 80, "used": 4.0, "allowed": 5.0},
        {"limit": "devices", "threshold": 100, "used": 5.0, "allowed": 5.0},
    ]
