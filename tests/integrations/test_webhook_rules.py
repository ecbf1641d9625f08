"""What a webhook may be: its document, its URL, its secret, its order, its organization."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from app.integrations.signing import verify
from tests.integrations.conftest import MovableClock
from tests.integrations.receiver import Receiver, running_receiver
from tests.integrations.support import CREATE_WEBHOOK, MESSAGE_EVENTS, create_webhook
from tests.support.client import Api
from tests.support.messaging import eventually, member, sandbox_device, simulate, unique_phone
from tests.support.server import RunningServer, make_settings, run_server

ROTATE = """
mutation($input: WebhookIdInput!) {
  rotateWebhookSecret(input: $input) { secret userErrors { field message code } }
}
"""


async def _refused(who: object, field: str, **input: str) -> str:
    data = await who.api.data(  # type: ignore[attr-defined]
        CREATE_WEBHOOK,
        {"input": {"name": "x", "url": "http://127.0.0.1:9/x", "query": MESSAGE_EVENTS, **input}},
    )
    payload = data["createWebhook"]
    assert payload["webhook"] is None and payload["secret"] is None
    [error] = payload["userErrors"]
    assert error["field"] == ["input", field]
    return str(error["message"])


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("query { __typename }", "one subscription operation"),
        ("subscription { messageEvents { nope } }", "not valid"),
        ('subscription { messageEvents(after: "x") { kind } }', "`after`"),
        ("subscription($c: ID) { messageEvents(conversationId: $c) { kind } }", "no variables"),
        ('subscription { campaignProgress(campaignId: "x") { id } }', "not campaignProgress"),
        ("subscription {", "does not parse"),
    ],
)
async def test_a_webhook_document_must_be_one_event_subscription_without_variables(
    server: RunningServer, api: Api, query: str, says: str
) -> None:
    owner = await member(server, api)

    assert says in await _refused(owner, "query", query=query)


async def test_in_production_a_webhook_must_be_https_to_a_public_address(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path, webhooks_allow_private_urls=False)
    async with run_server(settings) as strict:
        owner = await member(strict, Api(strict.graphql_url))

        assert "https" in await _refused(owner, "url", url="http://example.com/hook")
        for inside in (
            "https://127.0.0.1/hook",
            "https://localhost/hook",
            "https://10.1.2.3/hook",
            "https://169.254.169.254/latest",
            "https://[::1]/hook",
        ):
            assert "private or local" in await _refused(owner, "url", url=inside)
        assert "credentials" in await _refused(owner, "url", url="https://a:b@example.com/")


async def test_after_a_rotation_both_secrets_sign_until_the_grace_period_ends(
    server: RunningServer, api: Api, receiver: Receiver, moved_clock: MovableClock
) -> None:
    owner = await member(server, api)
    device_id = await sandbox_device(owner)
    webhook_id, old = await create_webhook(owner, receiver.url)

    rotated = await owner.api.data(ROTATE, {"input": {"webhookId": webhook_id}})
    new = rotated["rotateWebhookSecret"]["secret"]
    await simulate(owner, device_id, unique_phone(), "one")
    await eventually(lambda: _accepted(receiver, 1))
    moved_clock.move(hours=25)
    await simulate(owner, device_id, unique_phone(), "two")
    await eventually(lambda: _accepted(receiver, 2))

    first, second = receiver.in_order()
    assert new != old and first.signature.count("v1=") == 2
    assert verify(old, first.signature, first.body, now=time.time())
    assert verify(new, first.signature, first.body, now=time.time())
    assert second.signature.count("v1=") == 1
    assert verify(new, second.signature, second.body, now=time.time())
    assert not verify(old, second.signature, second.body, now=time.time())


async def test_a_webhook_of_one_conversation_gets_its_events_in_order_even_through_failures(
    server: RunningServer, api: Api, receiver: Receiver, moved_clock: MovableClock
) -> None:
    owner = await member(server, api)
    device_id = await sandbox_device(owner)
    customer = unique_phone()
    first = await simulate(owner, device_id, customer, "first")
    conversation_id = first["conversation"]["id"]
    query = (
        f'subscription {{ messageEvents(conversationId: "{conversation_id}") '
        "{ kind message { id body } } }"
    )
    await create_webhook(owner, receiver.url, query=query)
    receiver.fail_next = 1

    for text in ("a", "b", "c", "d"):
        await simulate(owner, device_id, customer, text)
    await eventually(lambda: _requests(receiver, 1))
    await asyncio.sleep(1.5)  # b, c and d wait behind a's retry
    assert len(receiver.requests) == 1
    moved_clock.move(minutes=5)
    await eventually(lambda: _accepted(receiver, 4))

    bodies = [r.json["data"]["messageEvents"]["message"]["body"] for r in receiver.requests]
    assert bodies == ["a", "a", "b", "c", "d"]


async def test_a_webhook_sees_only_its_organization_and_what_its_role_may_see(
    server: RunningServer, api: Api, receiver: Receiver
) -> None:
    ours = await member(server, api)
    theirs = await member(server, api)
    our_device = await sandbox_device(ours)
    their_device = await sandbox_device(theirs)
    async with running_receiver() as their_receiver:
        await create_webhook(ours, receiver.url, role="VIEWER")
        await create_webhook(theirs, their_receiver.url)

        await simulate(theirs, their_device, unique_phone(), "theirs")
        await simulate(ours, our_device, unique_phone(), "ours")
        await eventually(lambda: _accepted(receiver, 1))
        await eventually(lambda: _accepted(their_receiver, 1))

        await asyncio.sleep(1)
        [ours_received] = receiver.requests
        [theirs_received] = their_receiver.requests
    assert ours_received.json["data"]["messageEvents"]["message"]["body"] == "ours"
    assert theirs_received.json["data"]["messageEvents"]["message"]["body"] == "theirs"


async def _accepted(receiver: Receiver, n: int) -> bool:
    return len(receiver.accepted) >= n


async def _requests(receiver: Receiver, n: int) -> bool:
    return len(receiver.requests) >= n
