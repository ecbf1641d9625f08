"""Each process remembers which webhooks an organization has, until a change is announced."""

from __future__ import annotations

from app.integrations.active_webhooks import CHANNEL, ActiveWebhooks
from app.models.integrations import Webhook
from app.platform.ids import decode_id
from tests.integrations.receiver import Receiver
from tests.integrations.support import create_webhook
from tests.support.client import Api
from tests.support.messaging import eventually, member
from tests.support.server import RunningServer


async def test_a_process_remembers_an_organizations_webhooks_until_a_change_is_announced(
    server: RunningServer, api: Api, receiver: Receiver
) -> None:
    owner = await member(server, api)
    org = owner.organization_id
    # As another process's cache: only Redis can tell it of a change made here.
    elsewhere = ActiveWebhooks(server.runtime.broker)
    elsewhere.start()
    try:
        await eventually(_true(lambda: elsewhere.listening))
        assert await elsewhere.of([org]) == []

        webhook_id, _ = await create_webhook(owner, receiver.url)
        seen = await eventually(lambda: elsewhere.of([org]))
        # A write that announces nothing is not seen: the answer comes from memory.
        pk = decode_id(webhook_id, "Webhook")
        await Webhook.filter(id=pk).update(active=False)
        remembered = await elsewhere.of([org])
        await server.runtime.broker.publish(CHANNEL, {"organization_id": org})
        await eventually(lambda: _none(elsewhere.of([org])))
    finally:
        await elsewhere.stop()

    assert [w.id for w in seen] == [pk]
    assert [w.id for w in remembered] == [pk]


def _true(check: object) -> object:
    async def checked() -> bool:
        return bool(check())  # type: ignore[operator]

    return checked


async def _none(pending: object) -> bool:
    return not await pending  # type: ignore[misc]
