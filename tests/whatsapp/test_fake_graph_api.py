"""The fake Graph API holds the contract the provider tests rely on, so it is tested too."""

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.whatsapp.types import DeliveryStatus, StatusUpdate, WebhookBatch
from app.whatsapp.webhooks import SignatureResult, parse_webhook_body, verify_signature
from tests.fakes.graph_api import FakeGraphApi, LoopbackServer

SECRET = "fake-test-secret"
PHONE_NUMBER_ID, TOKEN = "1122334455", "token-1"
SLOW_NUMBER_ID = "9988776655"
CUSTOMER = "16505555555"


class Receiver:
    """The smallest webhook endpoint: checks the signature the way the app must."""

    def __init__(self) -> None:
        self.signatures: list[SignatureResult] = []
        self.batches: list[WebhookBatch] = []

    def clear(self) -> None:
        self.signatures.clear()
        self.batches.clear()

    async def handle(self, request: Request) -> Response:
        raw = await request.body()
        result = verify_signature(SECRET, raw, request.headers.get("X-Hub-Signature-256"))
        self.signatures.append(result)
        if result is SignatureResult.VALID:
            self.batches.append(parse_webhook_body(raw))
        return Response(status_code=200 if result is SignatureResult.VALID else 403)

    @property
    def statuses(self) -> list[StatusUpdate]:
        return [status for batch in self.batches for status in batch.statuses]


@pytest.fixture(scope="module")
def receiver_server() -> Iterator[tuple[Receiver, str]]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/webhooks", receiver.handle, methods=["POST"])])
    with LoopbackServer(app) as server:
        yield receiver, f"{server.base_url}/webhooks"


@pytest.fixture
def inbox(receiver_server: tuple[Receiver, str]) -> Receiver:
    receiver_server[0].clear()
    return receiver_server[0]


@pytest.fixture
def webhook_url(receiver_server: tuple[Receiver, str]) -> str:
    return receiver_server[1]


@pytest.fixture(scope="module")
def graph_api(receiver_server: tuple[Receiver, str]) -> Iterator[FakeGraphApi]:
    with FakeGraphApi(webhook_url=receiver_server[1], app_secret=SECRET) as fake:
        fake.register(PHONE_NUMBER_ID, TOKEN)
        yield fake


@pytest.fixture
def fake(graph_api: FakeGraphApi) -> FakeGraphApi:
    graph_api.reset()
    return graph_api


def send_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": CUSTOMER,
        "type": "text",
        "text": {"body": "Hi", "preview_url": False},
    }
    return {k: v for k, v in (body | overrides).items() if v is not None}


async def post(
    fake: FakeGraphApi,
    body: Any,
    token: str | None = TOKEN,
    client: httpx.AsyncClient | None = None,
    number: str = PHONE_NUMBER_ID,
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = f"{fake.base_url}/v21.0/{number}/messages"
    if client is not None:
        return await client.post(url, json=body, headers=headers)
    async with httpx.AsyncClient() as own_client:
        return await own_client.post(url, json=body, headers=headers)


async def test_status_webhooks_arrive_signed_in_order_with_the_callback_data(
    fake: FakeGraphApi, inbox: Receiver
) -> None:
    response = await post(fake, send_body(biz_opaque_callback_data="msg:7"))
    await fake.drain()

    wamid = response.json()["messages"][0]["id"]
    assert inbox.signatures == [SignatureResult.VALID] * 3
    assert [(s.provider_message_id, s.status) for s in inbox.statuses] == [
        (wamid, DeliveryStatus.SENT),
        (wamid, DeliveryStatus.DELIVERED),
        (wamid, DeliveryStatus.READ),
    ]
    assert {s.biz_opaque_callback_data for s in inbox.statuses} == {"msg:7"}
    assert {s.recipient_id for s in inbox.statuses} == {CUSTOMER}


async def test_statuses_can_be_duplicated_and_delivered_out_of_order(
    inbox: Receiver, webhook_url: str
) -> None:
    fake = FakeGraphApi(
        webhook_url=webhook_url, app_secret=SECRET, duplicate_rate=1, out_of_order_rate=1
    )
    async with fake:
        fake.register(PHONE_NUMBER_ID, TOKEN)

        await post(fake, send_body())
        await fake.drain()

    assert [s.status for s in inbox.statuses] == [
        DeliveryStatus.DELIVERED,
        DeliveryStatus.DELIVERED,
        DeliveryStatus.SENT,
        DeliveryStatus.SENT,
        DeliveryStatus.READ,
        DeliveryStatus.READ,
    ]


async def test_a_recipient_can_fail_asynchronously_with_a_failed_status(
    fake: FakeGraphApi, inbox: Receiver
) -> None:
    fake.fail_status(CUSTOMER, 131026)

    response = await post(fake, send_body())
    await fake.drain()

    assert response.status_code == 200
    [failed] = inbox.statuses
    assert (failed.status, failed.error_code) == (DeliveryStatus.FAILED, 131026)


async def test_a_signed_inbound_message_can_be_delivered_to_the_app(
    fake: FakeGraphApi, inbox: Receiver
) -> None:
    status = await fake.deliver_inbound(PHONE_NUMBER_ID, CUSTOMER, text="Order status?")

    assert status == 200
    [message] = inbox.batches[0].messages
    assert (message.from_wa_id, message.text) == (CUSTOMER, "Order status?")


async def test_a_wrong_app_secret_is_rejected_by_the_receiver(
    inbox: Receiver, webhook_url: str
) -> None:
    async with FakeGraphApi(webhook_url=webhook_url, app_secret="not-the-secret") as fake:
        fake.register(PHONE_NUMBER_ID, TOKEN)

        status = await fake.deliver_inbound(PHONE_NUMBER_ID, CUSTOMER)

    assert status == 403
    assert inbox.signatures == [SignatureResult.INVALID]


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"recipient_type": None}, 131008),
        ({"messaging_product": "sms"}, 131009),
        ({"to": "+1 650 555"}, 131009),
        ({"type": "image", "text": None}, 131008),
        ({"text": {"preview_url": False}}, 131008),
        ({"text": {"body": "Hi", "bold": True}}, 131009),
        ({"type": "image", "text": None, "image": {"caption": "no media"}}, 131008),
        (
            {"type": "image", "text": None, "image": {"id": "1", "link": "https://a.example"}},
            131008,
        ),
        ({"type": "reaction", "text": None, "reaction": {"message_id": "wamid.x"}}, 131008),
        ({"context": {"message_id": ""}}, 131009),
        ({"biz_opaque_callback_data": "x" * 513}, 131009),
        ({"type": "carrier_pigeon", "carrier_pigeon": {}}, 131009),
    ],
)
async def test_bodies_that_break_the_contract_are_refused(
    fake: FakeGraphApi, overrides: dict[str, Any], code: int
) -> None:
    response = await post(fake, send_body(**overrides))

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code
    assert error["type"] == "OAuthException"
    assert {"message", "error_data", "fbtrace_id"} <= set(error)
    assert fake.sends == []


async def test_a_missing_or_unknown_token_is_refused_with_190(fake: FakeGraphApi) -> None:
    missing = await post(fake, send_body(), token=None)
    unknown = await post(fake, send_body(), token="nope")

    assert (missing.status_code, missing.json()["error"]["code"]) == (401, 190)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (401, 190)


async def test_faults_for_one_recipient_leave_others_alone(fake: FakeGraphApi) -> None:
    fake.fail_next(131047, to=CUSTOMER)

    other = await post(fake, send_body(to="447700900123"))
    target = await post(fake, send_body())
    again = await post(fake, send_body())

    assert [other.status_code, target.status_code, again.status_code] == [200, 400, 200]
    assert fake.send_counts() == {"447700900123": 1, CUSTOMER: 1}
    assert [a.error_code for a in fake.attempts_to(CUSTOMER)] == [131047, None]


async def test_sends_over_the_throughput_limit_are_refused_with_130429(
    fake: FakeGraphApi,
) -> None:
    fake.register(SLOW_NUMBER_ID, TOKEN, throughput=5)

    async with httpx.AsyncClient() as client:
        sends = (post(fake, send_body(), client=client, number=SLOW_NUMBER_ID) for _ in range(8))
        responses = await asyncio.gather(*sends)

    assert sorted(r.status_code for r in responses) == [200] * 5 + [429] * 3
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 429} == {130429}
    assert fake.max_sends_per_second(SLOW_NUMBER_ID) == 5
