import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from app.whatsapp.cloud_api import CloudApiProvider, RetryPolicy
from app.whatsapp.http_pool import close_shared_clients, pooled_client
from app.whatsapp.transport import GraphTransport
from app.whatsapp.types import FailureReason, MessageType, OutboundMessage, ProviderError
from tests.fakes.graph_api import FakeGraphApi

PHONE_NUMBER_ID = "1122334455"
TOKEN = "EAAG-test-token-123"
CUSTOMER = "16505555555"
OTHER_NUMBER_ID, OTHER_TOKEN = "5566778899", "EAAG-other-token"


class RecordedSleeps:
    """Stands in for asyncio.sleep so backoff is asserted, not waited for."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture(autouse=True)
async def _close_pooled_clients() -> AsyncIterator[None]:
    yield
    await close_shared_clients()


@pytest.fixture(scope="module")
def graph_api() -> Iterator[FakeGraphApi]:
    with FakeGraphApi() as fake:
        fake.register(PHONE_NUMBER_ID, TOKEN)
        fake.register(OTHER_NUMBER_ID, OTHER_TOKEN)
        yield fake


@pytest.fixture
def fake(graph_api: FakeGraphApi) -> FakeGraphApi:
    graph_api.reset()
    return graph_api


def provider_for(
    fake: FakeGraphApi,
    sleeps: RecordedSleeps | None = None,
    *,
    token: str = TOKEN,
    max_attempts: int = 3,
) -> CloudApiProvider:
    return CloudApiProvider(
        base_url=fake.base_url,
        api_version="v21.0",
        phone_number_id=PHONE_NUMBER_ID,
        access_token=token,
        retry=RetryPolicy(max_attempts=max_attempts),
        sleep=sleeps or RecordedSleeps(),
    )


def text(body: str = "Hello", **kwargs: Any) -> OutboundMessage:
    return OutboundMessage(to=CUSTOMER, type=MessageType.TEXT, payload={"body": body}, **kwargs)


MESSAGES: list[tuple[MessageType, dict[str, Any], dict[str, Any]]] = [
    (MessageType.TEXT, {"body": "Hi"}, {"body": "Hi", "preview_url": False}),
    (
        MessageType.TEMPLATE,
        {"name": "order_update", "language": "en_US", "parameters": ["John"]},
        {
            "name": "order_update",
            "language": {"code": "en_US"},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": "John"}]}],
        },
    ),
    (
        MessageType.TEMPLATE,
        {"name": "welcome", "language": {"code": "pt_BR"}},
        {"name": "welcome", "language": {"code": "pt_BR"}},
    ),
    (
        MessageType.IMAGE,
        {"link": "https://cdn.example.com/a.png", "caption": "Receipt"},
        {"link": "https://cdn.example.com/a.png", "caption": "Receipt"},
    ),
    (
        MessageType.DOCUMENT,
        {"id": "998877", "filename": "invoice.pdf", "caption": "Invoice"},
        {"id": "998877", "filename": "invoice.pdf", "caption": "Invoice"},
    ),
    (MessageType.VIDEO, {"id": "1234"}, {"id": "1234"}),
    (
        MessageType.AUDIO,
        {"link": "https://cdn.example.com/a.ogg"},
        {"link": "https://cdn.example.com/a.ogg"},
    ),
    (MessageType.STICKER, {"id": "5678"}, {"id": "5678"}),
    (
        MessageType.LOCATION,
        {"latitude": 38.7, "longitude": -9.14, "name": "Shop", "address": "Rua A 1"},
        {"latitude": 38.7, "longitude": -9.14, "name": "Shop", "address": "Rua A 1"},
    ),
    (
        MessageType.REACTION,
        {"message_id": "wamid.abc", "emoji": "👍"},
        {"message_id": "wamid.abc", "emoji": "👍"},
    ),
    (
        MessageType.REACTION,
        {"message_id": "wamid.abc", "emoji": ""},
        {"message_id": "wamid.abc", "emoji": ""},
    ),
    (
        MessageType.INTERACTIVE,
        {
            "body": "Confirm?",
            "buttons": [{"id": "yes", "title": "Yes"}, {"id": "no", "title": "No"}],
        },
        {
            "type": "button",
            "body": {"text": "Confirm?"},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": "yes", "title": "Yes"}},
                    {"type": "reply", "reply": {"id": "no", "title": "No"}},
                ]
            },
        },
    ),
    (
        MessageType.INTERACTIVE,
        {
            "body": "Pick one",
            "header": "Menu",
            "footer": "Thanks",
            "button": "Options",
            "sections": [
                {
                    "title": "Pizza",
                    "rows": [{"id": "p1", "title": "Margherita", "description": "Classic"}],
                }
            ],
        },
        {
            "type": "list",
            "body": {"text": "Pick one"},
            "header": {"type": "text", "text": "Menu"},
            "footer": {"text": "Thanks"},
            "action": {
                "button": "Options",
                "sections": [
                    {
                        "title": "Pizza",
                        "rows": [{"id": "p1", "title": "Margherita", "description": "Classic"}],
                    }
                ],
            },
        },
    ),
]


@pytest.mark.parametrize(("kind", "payload", "expected"), MESSAGES, ids=lambda v: str(v)[:24])
async def test_each_message_type_is_accepted_with_the_documented_body(
    fake: FakeGraphApi, kind: MessageType, payload: dict[str, Any], expected: dict[str, Any]
) -> None:
    provider = provider_for(fake)

    result = await provider.send(OutboundMessage(to=CUSTOMER, type=kind, payload=payload))

    [sent] = fake.sends
    assert result.provider_message_id == sent.wamid
    assert result.wa_id == CUSTOMER
    assert sent.body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": CUSTOMER,
        "type": str(kind),
        str(kind): expected,
    }


async def test_reply_carries_its_context_and_callback_data(fake: FakeGraphApi) -> None:
    provider = provider_for(fake)

    await provider.send(text(context_message_id="wamid.in", biz_opaque_callback_data="msg:42"))

    [sent] = fake.sends
    assert sent.body["context"] == {"message_id": "wamid.in"}
    assert sent.body["biz_opaque_callback_data"] == "msg:42"


async def test_mark_read_sends_the_read_receipt(fake: FakeGraphApi) -> None:
    provider = provider_for(fake)

    await provider.mark_read("wamid.inbound1")

    assert fake.reads == ["wamid.inbound1"]
    assert fake.sends == []


async def test_throughput_limit_is_retried_with_growing_backoff_then_succeeds(
    fake: FakeGraphApi,
) -> None:
    fake.fail_next(130429, times=2)
    sleeps = RecordedSleeps()

    result = await provider_for(fake, sleeps).send(text())

    assert [a.error_code for a in fake.attempts] == [130429, 130429, None]
    assert result.provider_message_id == fake.sends[0].wamid
    assert len(sleeps.delays) == 2
    assert 0.25 <= sleeps.delays[0] <= 0.5 < sleeps.delays[1] <= 1.0


async def test_a_caller_that_paces_its_sends_gets_the_throughput_limit_back_at_once(
    fake: FakeGraphApi,
) -> None:
    # Campaigns retry a 130429 at a slot of the device's limiter, never in between slots.
    fake.fail_next(130429, times=2)
    sleeps = RecordedSleeps()
    provider = provider_for(fake, sleeps)
    provider.retry = RetryPolicy(rate_limited_inline=False)

    with pytest.raises(ProviderError) as caught:
        await provider.send(text())

    assert caught.value.failure is FailureReason.RATE_LIMITED and caught.value.retryable
    assert [a.error_code for a in fake.attempts] == [130429]
    assert sleeps.delays == []


async def test_unknown_server_error_131000_is_retried(fake: FakeGraphApi) -> None:
    fake.fail_next(131000)

    await provider_for(fake).send(text())

    assert [a.http_status for a in fake.attempts] == [500, 200]


async def test_undeliverable_recipient_fails_at_once_without_retry(fake: FakeGraphApi) -> None:
    fake.fail_next(131026, to=CUSTOMER)
    sleeps = RecordedSleeps()

    with pytest.raises(ProviderError) as caught:
        await provider_for(fake, sleeps).send(text())

    assert caught.value.failure is FailureReason.UNDELIVERABLE
    assert caught.value.retryable is False
    assert caught.value.code == 131026
    assert len(fake.attempts_to(CUSTOMER)) == 1
    assert sleeps.delays == []


@pytest.mark.parametrize(
    ("code", "failure"),
    [
        (131047, FailureReason.OUTSIDE_WINDOW),
        (131050, FailureReason.OPTED_OUT_MARKETING),
        (131051, FailureReason.UNSUPPORTED),
        (132001, FailureReason.TEMPLATE_ERROR),
        (368, FailureReason.ACCOUNT_RESTRICTED),
        (131031, FailureReason.ACCOUNT_RESTRICTED),
    ],
)
async def test_permanent_errors_are_mapped_and_not_retried(
    fake: FakeGraphApi, code: int, failure: FailureReason
) -> None:
    fake.fail_next(code)

    with pytest.raises(ProviderError) as caught:
        await provider_for(fake).send(text())

    assert (caught.value.failure, caught.value.retryable) == (failure, False)
    assert len(fake.attempts) == 1


async def test_rejected_token_is_auth_invalid_and_never_shown(fake: FakeGraphApi) -> None:
    provider = provider_for(fake, token="EAAG-expired-secret-999")

    with pytest.raises(ProviderError) as caught:
        await provider.send(text())

    error = caught.value
    assert (error.failure, error.code, error.http_status) == (FailureReason.AUTH_INVALID, 190, 401)
    assert error.failure.device_status == "DISCONNECTED"
    assert len(fake.attempts) == 1
    for shown in (str(error), repr(error), repr(provider), repr(vars(error))):
        assert "EAAG-expired-secret-999" not in shown


async def test_server_errors_are_retried_a_bounded_number_of_times(fake: FakeGraphApi) -> None:
    fake.fail_next(http_status=503, times=10)
    sleeps = RecordedSleeps()

    with pytest.raises(ProviderError) as caught:
        await provider_for(fake, sleeps, max_attempts=3).send(text())

    assert (caught.value.failure, caught.value.retryable) == (FailureReason.TRANSIENT, True)
    assert caught.value.http_status == 503
    assert len(fake.attempts) == 3
    assert len(sleeps.delays) == 2


async def test_pair_rate_limit_is_handed_back_to_the_queue_instead_of_waiting(
    fake: FakeGraphApi,
) -> None:
    fake.fail_next(131056, to=CUSTOMER)
    sleeps = RecordedSleeps()

    with pytest.raises(ProviderError) as caught:
        await provider_for(fake, sleeps).send(text())

    assert (caught.value.failure, caught.value.retryable) == (FailureReason.PAIR_RATE_LIMITED, True)
    assert sleeps.delays == []


async def test_invalid_payload_is_refused_before_any_request(fake: FakeGraphApi) -> None:
    message = OutboundMessage(to=CUSTOMER, type=MessageType.IMAGE, payload={"caption": "no media"})

    with pytest.raises(ProviderError) as caught:
        await provider_for(fake).send(message)

    assert caught.value.failure is FailureReason.INVALID_PARAMETER
    assert fake.attempts == []


async def test_unreachable_graph_api_is_transient_after_bounded_retries() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    sleeps = RecordedSleeps()
    provider = CloudApiProvider(
        base_url=closed_url, phone_number_id=PHONE_NUMBER_ID, access_token=TOKEN, sleep=sleeps
    )

    with pytest.raises(ProviderError) as caught:
        await provider.send(text())

    assert (caught.value.failure, caught.value.retryable) == (FailureReason.TRANSIENT, True)
    assert len(sleeps.delays) == 2


def test_backoff_doubles_with_jitter_and_respects_the_cap_and_retry_after() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=4.0)

    delays = [policy.delay(attempt) for attempt in (1, 2, 3, 4)]

    assert 0.5 <= delays[0] <= 1.0
    assert 1.0 <= delays[1] <= 2.0
    assert 2.0 <= delays[2] <= 4.0
    assert 2.0 <= delays[3] <= 4.0
    assert policy.delay(1, retry_after=3.0) == 3.0
    assert policy.delay(1, retry_after=60.0) == 4.0


async def test_one_pooled_client_per_base_url_with_bounded_timeouts_and_graph_transport() -> None:
    first, again = pooled_client("https://graph.example"), pooled_client("https://graph.example")
    other = pooled_client("https://graph.other.example")

    assert first is again and other is not first
    assert isinstance(first._transport, GraphTransport)  # type: ignore[attr-defined]
    assert (first.timeout.connect, first.timeout.read, first.timeout.pool) == (5.0, 15.0, 5.0)
    await first.aclose()
    assert pooled_client("https://graph.example") is not first  # a closed one is replaced


def timing_out_client(calls: list[httpx.Request]) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ReadTimeout("no answer", request=request)

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def test_a_send_without_an_answer_is_not_repeated_because_it_may_have_gone_out() -> None:
    calls: list[httpx.Request] = []
    async with timing_out_client(calls) as client:
        provider = CloudApiProvider(
            phone_number_id=PHONE_NUMBER_ID,
            access_token=TOKEN,
            client=client,
            sleep=RecordedSleeps(),
        )

        with pytest.raises(ProviderError) as caught:
            await provider.send(text())

    assert (caught.value.failure, caught.value.retryable) == (FailureReason.TRANSIENT, True)
    assert len(calls) == 1
    assert calls[0].headers["Authorization"] == f"Bearer {TOKEN}"


async def test_a_mark_read_without_an_answer_is_retried_because_it_is_idempotent() -> None:
    calls: list[httpx.Request] = []
    async with timing_out_client(calls) as client:
        provider = CloudApiProvider(
            phone_number_id=PHONE_NUMBER_ID,
            access_token=TOKEN,
            client=client,
            sleep=RecordedSleeps(),
        )

        with pytest.raises(ProviderError):
            await provider.mark_read("wamid.in")

    assert len(calls) == 3
