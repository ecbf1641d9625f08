"""A fake Meta Graph API: a real HTTP server on loopback that enforces CLOUD_API.md.

    async with FakeGraphApi(webhook_url=receiver_url, app_secret="s3cret") as fake:
        fake.register("1122334455", "token")
        provider = CloudApiProvider(base_url=fake.base_url, phone_number_id="1122334455", ...)

It runs in its own thread and event loop, so it outlives any one test loop and keeps answering
while a test's loop is busy. It knows nothing of app code on purpose: a provider bug must not be
mirrored by the fake that judges it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import random
import socket
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from tests.fakes.graph_media import GraphMedia
from tests.fakes.graph_templates import FakeTemplates

_ERRORS = {
    100: (400, "Invalid parameter"),
    190: (401, "Error validating access token: Session has expired"),
    130429: (429, "Rate limit hit"),
    131000: (500, "Something went wrong"),
    131008: (400, "Required parameter is missing"),
    131009: (400, "Parameter value is not valid"),
    131026: (400, "Message undeliverable"),
    131047: (400, "Re-engagement message"),
    131050: (400, "User has stopped marketing messages"),
    131051: (400, "Unsupported message type"),
    131053: (400, "Media upload error"),
    131056: (400, "(Business Account, Consumer Account) pair rate limit hit"),
    131031: (400, "Business Account locked"),
    132000: (400, "Number of parameters does not match the expected number of params"),
    132001: (400, "Template name does not exist in the translation"),
    368: (400, "Temporarily blocked for policies violations"),
}
T = TypeVar("T")


class LoopbackServer:
    """Serves an ASGI app on 127.0.0.1:<free port> from a daemon thread."""

    def __init__(self, app: ASGIApp) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        config = uvicorn.Config(app, log_config=None, access_log=False, ws="none", lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="loopback-server", daemon=True)
        self.loop: asyncio.AbstractEventLoop | None = None

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self._server.serve(sockets=[self._sock])

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("loopback server did not start")
            time.sleep(0.002)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    async def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the server's loop and await its result from the caller's loop."""
        assert self.loop is not None
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def __enter__(self) -> LoopbackServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    async def __aenter__(self) -> LoopbackServer:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(self, *_: object) -> None:
        await asyncio.to_thread(self.stop)


def sign(app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def signed(app_secret: str, payload: Mapping[str, Any]) -> tuple[bytes, dict[str, str]]:
    """The exact bytes to POST and the headers Meta would send with them."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    return body, {"Content-Type": "application/json", "X-Hub-Signature-256": sign(app_secret, body)}


def webhook_envelope(phone_number_id: str, value: Mapping[str, Any]) -> dict[str, Any]:
    metadata = {
        "display_phone_number": f"1555{phone_number_id[-7:]}",
        "phone_number_id": phone_number_id,
    }
    change = {
        "field": "messages",
        "value": {"messaging_product": "whatsapp", "metadata": metadata} | dict(value),
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": f"WABA{phone_number_id}", "changes": [change]}],
    }


def inbound_webhook(
    phone_number_id: str,
    from_wa_id: str,
    *,
    text: str = "Hi",
    message: Mapping[str, Any] | None = None,
    profile_name: str = "Customer",
    wamid: str | None = None,
    timestamp: int | None = None,
) -> dict[str, Any]:
    """An inbound message webhook; ``message`` replaces the text (e.g. an image message)."""
    content = dict(message) if message is not None else {"type": "text", "text": {"body": text}}
    envelope = {
        "from": from_wa_id,
        "id": wamid or _wamid(),
        "timestamp": str(timestamp or int(time.time())),
    }
    contacts = [{"profile": {"name": profile_name}, "wa_id": from_wa_id}]
    return webhook_envelope(
        phone_number_id, {"contacts": contacts, "messages": [envelope | content]}
    )


@dataclass(frozen=True)
class Send:
    phone_number_id: str
    to: str
    type: str
    body: dict[str, Any]
    wamid: str
    at: float  # time.monotonic()
    # What Meta's status webhooks price it as (``pricing.category``).
    category: str = "service"


@dataclass(frozen=True)
class Attempt:
    phone_number_id: str
    to: str | None
    body: Any
    http_status: int
    error_code: int | None


@dataclass(frozen=True)
class WebhookDelivery:
    url: str
    payload: dict[str, Any]
    http_status: int | None  # None: the receiver could not be reached


@dataclass
class _Number:
    token: str
    webhook_url: str | None
    throughput: float | None
    recent: deque[float] = field(default_factory=deque)  # accepted-send times, last second


@dataclass
class _Fault:
    code: int | None
    http_status: int
    remaining: int
    to: str | None


class _DroppedAnswer(Response):
    """The status line and headers of an answer, then the connection closes (uvicorn closes
    it when a response ends before its body): what a timed-out or cut request leaves."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"128")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})


class _Invalid(Exception):
    def __init__(self, code: int, details: str) -> None:
        super().__init__(details)
        self.code, self.details = code, details


class FakeGraphApi:
    def __init__(
        self,
        *,
        webhook_url: str | None = None,
        app_secret: str = "fake-app-secret",
        status_delay: float = 0.01,
        duplicate_rate: float = 0.0,
        out_of_order_rate: float = 0.0,
        seed: int = 0,
        response_delay: float = 0.0,
        redeliver_seconds: float = 0.0,
    ) -> None:
        self.webhook_url = webhook_url
        # As Meta does: a status webhook not acknowledged with a 200 is delivered again (every
        # half second, for up to this long; 0: once, as most tests want to see it).
        self.redeliver_seconds = redeliver_seconds
        self.app_secret = app_secret
        self.status_delay = status_delay
        # Meta re-delivers and reorders webhooks; these rates make the fake do the same.
        self.duplicate_rate = duplicate_rate
        self.out_of_order_rate = out_of_order_rate
        self._rng = random.Random(seed)
        # Seconds between accepting a send (counted, statuses scheduled) and answering it: a
        # sender killed meanwhile has sent a message it never learned the id of.
        self.response_delay = response_delay
        self._generation = 0  # bumped by reset(), so earlier sends stop emitting statuses
        self._lock = threading.Lock()
        self._numbers: dict[str, _Number] = {}
        self._faults: list[_Fault] = []
        self._drops: list[_Fault] = []
        self._failing_recipients: dict[str, int] = {}
        # What the fake saw, for assertions (appended by the server thread, read by tests).
        self.sends: list[Send] = []
        self.attempts: list[Attempt] = []
        self.reads: list[str] = []
        self.lookups: list[str] = []  # phone number ids asked about with GET /{id}
        self.deliveries: list[WebhookDelivery] = []
        # Accepted sends whose caller never got the answer (``response_delay``, dropped).
        self.unanswered: list[Send] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None
        self._wabas: dict[str, tuple[str, list[dict[str, Any]]]] = {}  # id: (token, templates)
        # The media endpoints (tests/fakes/graph_media.py) answer media ids before the
        # phone-number lookup below.
        self.media = GraphMedia(self)
        self.typing: list[str] = []  # message ids shown "typing…" under
        # Meta's pricing category of a template's sends, by template name, where it is not the
        # template's own (Meta prices a template it judges promotional as marketing, whatever
        # category it was approved in); e.g. {"welcome": "utility"}.
        self.pricing_categories: dict[str, str] = {}
        # Template management, uploads and account webhooks (tests/fakes/graph_templates.py).
        self.templates = FakeTemplates(self._wabas, self._lock, _error, self._post_to_number)
        routes = [
            *self.media.routes(self._phone_number),
            Route("/{version}/{phone_number_id}/messages", self._messages, methods=["POST"]),
            Route("/{version}/{waba_id}/message_templates", self._templates, methods=["GET"]),
            Route("/{version}/{phone_number_id}", self._phone_number, methods=["GET"]),
            *self.templates.routes(),
        ]
        self._server = LoopbackServer(Starlette(routes=routes, lifespan=self._lifespan))
        self.base_url = self._server.base_url

    # -- set-up -----------------------------------------------------------------------------

    def register(
        self,
        phone_number_id: str,
        access_token: str,
        *,
        webhook_url: str | None = None,
        throughput: float | None = None,
    ) -> None:
        """Accept ``access_token`` for this number; ``throughput`` caps sends a second (130429)."""
        with self._lock:
            self._numbers[phone_number_id] = _Number(access_token, webhook_url, throughput)

    def add_template(
        self,
        waba_id: str,
        access_token: str,
        *,
        name: str,
        language: str = "en_US",
        category: str = "UTILITY",
        status: str = "APPROVED",
        components: list[dict[str, Any]] | None = None,
    ) -> None:
        """A template of the WhatsApp Business Account ``waba_id``, listed by
        ``GET /{version}/{waba_id}/message_templates`` to callers with ``access_token``."""
        template = {
            "id": str(uuid.uuid4().int % 10**15),
            "name": name,
            "language": language,
            "category": category,
            "status": status,
            "components": components or [{"type": "BODY", "text": "Hello {{1}}"}],
        }
        with self._lock:
            self._wabas.setdefault(waba_id, (access_token, []))[1].append(template)

    def fail_next(
        self,
        code: int | None = None,
        *,
        http_status: int | None = None,
        times: int = 1,
        to: str | None = None,
    ) -> None:
        """The next ``times`` calls (to ``to`` only, if given) fail with ``code``; with no code,
        a bare ``http_status`` such as 503 with a non-JSON body, as a proxy would answer."""
        status = http_status or _ERRORS.get(code or 0, (400, ""))[0]
        with self._lock:
            self._faults.append(_Fault(code, status, times, to))

    def drop_answer_next(self, *, times: int = 1, to: str | None = None) -> None:
        """The next ``times`` sends (to ``to`` only, if given) are accepted (counted, statuses
        follow) but the connection drops before the answer: the sender cannot know whether the
        message went, as after a timeout."""
        with self._lock:
            self._drops.append(_Fault(None, 200, times, to))

    def _take_drop(self, to: str) -> bool:
        with self._lock:
            drop = next((d for d in self._drops if d.to in (None, to)), None)
            if drop is None:
                return False
            drop.remaining -= 1
            if drop.remaining <= 0:
                self._drops.remove(drop)
            return True

    def fail_status(self, to: str, code: int = 131026) -> None:
        """Sends to ``to`` are accepted, then a ``failed`` status webhook with ``code`` follows."""
        with self._lock:
            self._failing_recipients[to] = code

    # -- assertions -------------------------------------------------------------------------

    def sends_to(self, to: str) -> list[Send]:
        return [send for send in self.sends if send.to == to]

    def attempts_to(self, to: str) -> list[Attempt]:
        return [attempt for attempt in self.attempts if attempt.to == to]

    def sends_by_category(self) -> Counter[str]:
        """Accepted sends by the pricing category the status webhooks report: Meta's count."""
        with self._lock:
            return Counter(send.category for send in self.sends)

    def _pricing_category(self, phone_number_id: str, body: dict[str, Any]) -> str:
        """As Meta prices a send: free-form messages (inside the service window) as service; a
        template by ``pricing_categories``, else by its category (a template the fake does not
        know: marketing). Called under the lock."""
        if body.get("type") != "template":
            return "service"
        template = body["template"]
        name = template["name"]
        if name in self.pricing_categories:
            return self.pricing_categories[name].lower()
        known = self.templates.category_of(phone_number_id, template) or next(
            (
                t["category"]
                for _, listed in self._wabas.values()
                for t in listed
                if t["name"] == name
            ),
            None,
        )
        return str(known or "MARKETING").lower()

    def send_counts(self) -> Counter[str]:
        return Counter(send.to for send in self.sends)

    def max_sends_per_second(self, phone_number_id: str | None = None) -> int:
        """The most sends accepted within any 1-second window."""
        times = sorted(s.at for s in self.sends if phone_number_id in (None, s.phone_number_id))
        best, start = 0, 0
        for end, at in enumerate(times):
            while at - times[start] >= 1.0:
                start += 1
            best = max(best, end - start + 1)
        return best

    async def drain(self) -> None:
        """Wait until every status webhook scheduled so far has been delivered."""

        async def wait_all() -> None:
            while self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)

        await self._server.call(wait_all())

    async def _post_to_number(self, phone_number_id: str, payload: dict[str, Any]) -> int | None:
        """POST a signed webhook to the number's URL, from the server's loop."""
        number = self._numbers[phone_number_id]
        return await self._server.call(self._post_webhook(number, payload))

    async def deliver_inbound(
        self, phone_number_id: str, from_wa_id: str, **kwargs: Any
    ) -> int | None:
        """POST a signed inbound message webhook (see ``inbound_webhook``) to the number's URL."""
        payload = inbound_webhook(phone_number_id, from_wa_id, **kwargs)
        number = self._numbers[phone_number_id]
        return await self._server.call(self._post_webhook(number, payload))

    # -- lifecycle --------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget sends, faults and deliveries (registered numbers stay), for a shared fake."""
        with self._lock:
            self._generation += 1
            for records in (
                self._faults,
                self._drops,
                self.sends,
                self.attempts,
                self.reads,
                self.lookups,
                self.deliveries,
                self.unanswered,
            ):
                records.clear()
            self._failing_recipients.clear()
            for number in self._numbers.values():
                number.recent.clear()
        self.media.reset()

    def __enter__(self) -> FakeGraphApi:
        self._server.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.stop()

    async def __aenter__(self) -> FakeGraphApi:
        await self._server.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._server.__aexit__(*exc)

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        self._client = httpx.AsyncClient(timeout=5.0)
        try:
            yield
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._client.aclose()

    # -- the Graph API ----------------------------------------------------------------------

    async def _messages(self, request: Request) -> Response:
        phone_number_id = request.path_params["phone_number_id"]
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        to = _addressee(body)
        response, error_code, send = self._handle(phone_number_id, request.headers, body, to)
        if isinstance(body, dict) and body.get("status") != "read":
            with self._lock:
                self.attempts.append(
                    Attempt(phone_number_id, to, body, response.status_code, error_code)
                )
        if send is not None:
            self._schedule_statuses(send)
            if self._take_drop(send.to):
                with self._lock:
                    self.unanswered.append(send)
                return _DroppedAnswer()
            if self.response_delay:
                await asyncio.sleep(self.response_delay)
                if await request.is_disconnected():
                    with self._lock:
                        self.unanswered.append(send)
        return response

    def _handle(
        self, phone_number_id: str, headers: Mapping[str, str], body: Any, to: str | None
    ) -> tuple[Response, int | None, Send | None]:
        with self._lock:
            token = headers.get("authorization", "").removeprefix("Bearer ")
            if not token or token not in {n.token for n in self._numbers.values()}:
                return _error(190), 190, None
            number = self._numbers.get(phone_number_id)
            if number is None or number.token != token:
                return _error(100, f"Object with ID '{phone_number_id}' does not exist"), 100, None
            try:
                is_read = _check_body(body)
            except _Invalid as exc:
                return _error(exc.code, exc.details), exc.code, None
            fault = next(
                (f for f in self._faults if f.to in (None, to) and not (is_read and f.to)), None
            )
            if fault is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                if fault.code is None:
                    return PlainTextResponse("Service Unavailable", fault.http_status), None, None
                return _error(fault.code, status=fault.http_status), fault.code, None
            if is_read:
                self.reads.append(body["message_id"])
                if "typing_indicator" in body:
                    self.typing.append(body["message_id"])
                return JSONResponse({"success": True}), None, None
            if body["type"] == "template" and (
                refused := self.templates.check_send(phone_number_id, body["template"])
            ):
                return _error(refused[0], refused[1]), refused[0], None
            now = time.monotonic()
            while number.recent and now - number.recent[0] >= 1.0:
                number.recent.popleft()
            if number.throughput is not None and len(number.recent) >= number.throughput:
                return _error(130429), 130429, None
            number.recent.append(now)
            category = self._pricing_category(phone_number_id, body)
            send = Send(
                phone_number_id, _addressee(body) or "", body["type"], body, _wamid(), now, category
            )
            self.sends.append(send)
        # A send to a business-scoped user id answers its user id, not a wa_id.
        identity = "wa_id" if "to" in body else "user_id"
        contacts = [{"input": send.to, identity: send.to}]
        ok = {
            "messaging_product": "whatsapp",
            "contacts": contacts,
            "messages": [{"id": send.wamid}],
        }
        return JSONResponse(ok), None, send

    async def _phone_number(self, request: Request) -> Response:
        """``GET /{phone-number-id}``: what Meta says of a number, to a token that may use it.

        An unknown token is 190; a number that does not exist or that the token may not use is
        100, as Meta answers both. A ``fail_next`` fault without a recipient applies here too.
        """
        phone_number_id = request.path_params["phone_number_id"]
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        fields = request.query_params.get("fields", "id").split(",")
        with self._lock:
            self.lookups.append(phone_number_id)
            if not token or token not in {n.token for n in self._numbers.values()}:
                return _error(190)
            number = self._numbers.get(phone_number_id)
            if number is None or number.token != token:
                details = f"Object with ID '{phone_number_id}' does not exist"
                return _error(100, f"Unsupported get request. {details}")
            if unknown := sorted(set(fields) - set(_PHONE_NUMBER_FIELDS)):
                return _error(100, f"Tried accessing nonexisting field ({unknown[0]})")
            fault = next((f for f in self._faults if f.to is None), None)
            if fault is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                if fault.code is None:
                    return PlainTextResponse("Service Unavailable", fault.http_status)
                return _error(fault.code, status=fault.http_status)
        facts = {
            "id": phone_number_id,
            "display_phone_number": f"+1 555-{phone_number_id[-7:-4]}-{phone_number_id[-4:]}",
            "verified_name": "Fake Business",
            "quality_rating": "GREEN",
            "code_verification_status": "VERIFIED",
            "platform_type": "CLOUD_API",
        }
        return JSONResponse({key: facts[key] for key in fields})

    async def _templates(self, request: Request) -> Response:
        """Meta's template list: ``{"data": [template...], "paging": {"cursors": {"before",
        "after"}, "next"?}}``, ``limit`` (default 25) per page, ``after`` a cursor from the last
        page; ``next`` is only present when more pages follow."""
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        waba_id = request.path_params["waba_id"]
        with self._lock:
            waba = self._wabas.get(waba_id)
            if waba is None:
                return _error(100, f"Object with ID '{waba_id}' does not exist")
            if waba[0] != token:
                return _error(190)
            templates = list(waba[1])
        try:
            limit = int(request.query_params.get("limit", "25"))
            start = int(request.query_params.get("after", "0") or 0)
        except ValueError:
            return _error(100, "limit and after must be numbers")
        fields = request.query_params.get("fields")
        if fields is not None:
            wanted = fields.split(",")
            if unknown := sorted(set(wanted) - set(_TEMPLATE_FIELDS)):
                return _error(100, f"Tried accessing nonexisting field ({unknown[0]})")
            templates = [{k: t[k] for k in wanted if k in t} for t in templates]
        page = templates[start : start + limit]
        paging: dict[str, Any] = {
            "cursors": {"before": str(start), "after": str(start + len(page))}
        }
        if start + len(page) < len(templates):
            paging["next"] = str(
                request.url.include_query_params(limit=limit, after=start + len(page))
            )
        return JSONResponse({"data": page, "paging": paging})

    # -- status webhooks --------------------------------------------------------------------

    def _schedule_statuses(self, send: Send) -> None:
        number = self._numbers[send.phone_number_id]
        if (number.webhook_url or self.webhook_url) is None:
            return
        failure = self._failing_recipients.get(send.to)
        sequence = ["failed"] if failure is not None else ["sent", "delivered", "read"]
        if len(sequence) > 1 and self._rng.random() < self.out_of_order_rate:
            sequence[0], sequence[1] = sequence[1], sequence[0]
        task = asyncio.create_task(self._emit(number, send, sequence, failure, self._generation))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _emit(
        self, number: _Number, send: Send, sequence: list[str], failure: int | None, generation: int
    ) -> None:
        for status in sequence:
            await asyncio.sleep(self.status_delay)
            if generation != self._generation:
                return
            payload = webhook_envelope(
                send.phone_number_id, {"statuses": [_status(send, status, failure)]}
            )
            for _ in range(2 if self._rng.random() < self.duplicate_rate else 1):
                await self._deliver(number, payload)

    async def _deliver(self, number: _Number, payload: dict[str, Any]) -> None:
        deadline = time.monotonic() + self.redeliver_seconds
        for _ in range(1 + int(self.redeliver_seconds * 2)):
            if await self._post_webhook(number, payload) == 200 or time.monotonic() > deadline:
                return
            await asyncio.sleep(0.5)

    async def _post_webhook(self, number: _Number, payload: dict[str, Any]) -> int | None:
        url = number.webhook_url or self.webhook_url
        assert url is not None, "no webhook URL configured"
        assert self._client is not None
        body, headers = signed(self.app_secret, payload)
        try:
            status: int | None = (
                await self._client.post(url, content=body, headers=headers)
            ).status_code
        except httpx.HTTPError:
            status = None
        with self._lock:
            self.deliveries.append(WebhookDelivery(url, payload, status))
        return status


def _addressee(body: Any) -> str | None:
    """Who a send goes to: its `to` number, else its `recipient` user id."""
    if not isinstance(body, dict):
        return None
    for key in ("to", "recipient"):
        if isinstance(body.get(key), str):
            return str(body[key])
    return None


def _wamid() -> str:
    return f"wamid.FAKE{uuid.uuid4().hex.upper()}"


def _status(send: Send, status: str, failure: int | None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": send.wamid,
        "status": status,
        "timestamp": str(int(time.time())),
    }
    entry["recipient_id" if send.to.isdigit() else "recipient_user_id"] = send.to
    if "biz_opaque_callback_data" in send.body:
        entry["biz_opaque_callback_data"] = send.body["biz_opaque_callback_data"]
    if status != "read":  # Meta attaches pricing to sent/delivered; parsers must tolerate it
        entry["pricing"] = {
            "billable": send.category != "service",
            "pricing_model": "PMP",
            "category": send.category,
        }
    if failure is not None:
        title = _ERRORS.get(failure, (400, "Failure"))[1]
        error_data = {"details": f"{title} (fake)"}
        entry["errors"] = [
            {"code": failure, "title": title, "message": title, "error_data": error_data}
        ]
    return entry


def _error(code: int, details: str | None = None, status: int | None = None) -> JSONResponse:
    default_status, message = _ERRORS.get(code, (400, "Error"))
    error = {
        "message": f"(#{code}) {message}",
        "type": "OAuthException",
        "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": details or message},
        "fbtrace_id": uuid.uuid4().hex[:20],
    }
    return JSONResponse({"error": error}, status_code=status or default_status)


# -- the contract, strictly -------------------------------------------------------------------
# A field is (type, required, max length / item count / bound); keys outside a spec are refused.
_Field = tuple[type | tuple[type, ...], bool, float | None]
_Spec = dict[str, _Field]


def _req(kind: type | tuple[type, ...] = str, limit: float | None = None) -> _Field:
    return kind, True, limit


def _opt(kind: type | tuple[type, ...] = str, limit: float | None = None) -> _Field:
    return kind, False, limit


_SEND: _Spec = {
    "messaging_product": _req(),
    "recipient_type": _req(),
    "to": _opt(str, 15),
    "recipient": _opt(str, 160),  # a business-scoped user id, instead of `to`
    "type": _req(),
    "context": _opt(dict),
    "biz_opaque_callback_data": _opt(str, 512),
}
_READ: _Spec = {
    "messaging_product": _req(),
    "status": _req(),
    "message_id": _req(),
    "typing_indicator": _opt(dict),
}
_TEXT: _Spec = {"body": _req(str, 4096), "preview_url": _opt(bool)}
_REACTION: _Spec = {"message_id": _req(), "emoji": _req()}
_LOCATION: _Spec = {
    "latitude": _req((int, float), 90),
    "longitude": _req((int, float), 180),
    "name": _opt(),
    "address": _opt(),
}
_ANY_MEDIA: _Spec = {"id": _opt(), "link": _opt()}
_MEDIA: dict[str, _Spec] = {
    "image": _ANY_MEDIA | {"caption": _opt()},
    "video": _ANY_MEDIA | {"caption": _opt()},
    "document": _ANY_MEDIA | {"caption": _opt(), "filename": _opt()},
    "audio": _ANY_MEDIA,
    "sticker": _ANY_MEDIA,
}
_ROW: _Spec = {"id": _req(str, 200), "title": _req(str, 24), "description": _opt(str, 72)}
_COMPONENT: _Spec = {
    "type": _req(),
    "parameters": _req(list),
    "sub_type": _opt(),
    "index": _opt((str, int)),
}
_PHONE_NUMBER_FIELDS = (
    "id",
    "display_phone_number",
    "verified_name",
    "quality_rating",
    "code_verification_status",
    "platform_type",
)
_TEMPLATE_FIELDS = (
    "id",
    "name",
    "status",
    "category",
    "language",
    "components",
    "quality_score",
    "rejected_reason",
    "previous_category",
)
_TEMPLATE_PARAMS = {
    "text",
    "currency",
    "date_time",
    "image",
    "video",
    "document",
    "payload",
    "coupon_code",
}
_BUTTON_PARAM = {"url": "text", "quick_reply": "payload", "copy_code": "coupon_code"}
_HEADER_MEDIA = ("image", "video", "document")


def _fields(obj: Any, spec: _Spec, where: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise _Invalid(131009, f"{where} must be an object")
    if extra := sorted(set(obj) - set(spec)):
        raise _Invalid(131009, f"unexpected parameter {where}.{extra[0]}")
    for key, (kind, required, limit) in spec.items():
        value: Any = obj.get(key)
        if value is None:
            if required:
                raise _Invalid(131008, f"{where}.{key} is required")
            continue
        # An empty emoji is the one empty string Meta accepts: it removes a reaction.
        empty = value == "" and key != "emoji"
        if empty or not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise _Invalid(131009, f"{where}.{key} is not valid")
        if limit is not None and _size(obj[key]) > limit:
            raise _Invalid(131009, f"{where}.{key} is too long or out of range")
    return obj


def _size(value: Any) -> float:
    return len(value) if isinstance(value, str | list) else abs(value)


def _check_body(body: Any) -> bool:
    """Validate a send or mark-read body (True for mark-read); raises _Invalid."""
    if not isinstance(body, dict):
        raise _Invalid(100, "the request body must be a JSON object")
    if "status" in body:
        _fields(body, _READ, "body")
        if body["messaging_product"] != "whatsapp" or body["status"] != "read":
            raise _Invalid(131009, "messaging_product must be whatsapp and status must be read")
        if "typing_indicator" in body and body["typing_indicator"] != {"type": "text"}:
            raise _Invalid(131009, 'typing_indicator must be {"type": "text"}')
        return True
    kind = body.get("type")
    check = _CHECKS.get(kind) if isinstance(kind, str) else None
    if check is None:
        raise _Invalid(131009 if kind else 131008, "type is missing or not supported")
    _fields(body, _SEND | {str(kind): _req(dict)}, "message")
    if body["messaging_product"] != "whatsapp" or body["recipient_type"] != "individual":
        raise _Invalid(131009, "messaging_product must be whatsapp, recipient_type individual")
    if "to" in body:  # Meta: `to` wins over `recipient`
        if not (body["to"].isdigit() and len(body["to"]) >= 7):
            raise _Invalid(131009, "to must be the recipient's number in digits")
    elif "recipient" not in body:
        raise _Invalid(131008, "to (a number) or recipient (a business-scoped user id) is required")
    if "context" in body:
        _fields(body["context"], {"message_id": _req()}, "context")
    check(body[kind])
    return False


def _media_check(kind: str) -> Callable[[dict[str, Any]], None]:
    def check(media: dict[str, Any]) -> None:
        _fields(media, _MEDIA[kind], kind)
        if ("id" in media) == ("link" in media):
            raise _Invalid(131008, f"{kind} needs exactly one of id or link")
        if not media.get("link", "https://").startswith(("http://", "https://")):
            raise _Invalid(131009, f"{kind}.link must be an http(s) URL")

    return check


def _check_interactive(inter: dict[str, Any]) -> None:
    spec: _Spec = {"type": _req(), "body": _req(dict), "action": _req(dict)}
    _fields(inter, spec | {"header": _opt(dict), "footer": _opt(dict)}, "interactive")
    _fields(inter["body"], {"text": _req(str, 1024)}, "interactive.body")
    if "header" in inter:
        _fields(inter["header"], {"type": _req(), "text": _req(str, 60)}, "interactive.header")
    if "footer" in inter:
        _fields(inter["footer"], {"text": _req(str, 60)}, "interactive.footer")
    if inter["type"] == "button":
        buttons = _fields(inter["action"], {"buttons": _req(list, 3)}, "action")["buttons"]
        for button in buttons:
            _fields(button, {"type": _req(), "reply": _req(dict)}, "button")
            _fields(button["reply"], {"id": _req(str, 256), "title": _req(str, 20)}, "reply")
        ids = [button["reply"]["id"] for button in buttons]
        if not ids or len(set(ids)) < len(ids) or any(b["type"] != "reply" for b in buttons):
            raise _Invalid(131009, "1-3 reply buttons with unique ids are required")
    elif inter["type"] == "list":
        spec = {"button": _req(str, 20), "sections": _req(list, 10)}
        sections = _fields(inter["action"], spec, "action")["sections"]
        rows: list[Any] = []
        for section in sections:
            # A section title is only required once there is more than one section.
            spec = {"title": (str, len(sections) > 1, 24), "rows": _req(list, 10)}
            rows += _fields(section, spec, "section")["rows"]
        for row in rows:
            _fields(row, _ROW, "row")
        if not 1 <= len(rows) <= 10:
            raise _Invalid(131009, "a list needs 1-10 rows in total")
    else:
        raise _Invalid(131009, "interactive.type must be button or list")


def _check_template(template: dict[str, Any]) -> None:
    spec: _Spec = {"name": _req(str, 512), "language": _req(dict), "components": _opt(list)}
    _fields(template, spec, "template")
    _fields(template["language"], {"code": _req(), "policy": _opt()}, "template.language")
    for component in template.get("components", []):
        _fields(component, _COMPONENT, "component")
        is_button = component["type"] == "button"
        if component["type"] not in ("header", "body", "button") or is_button != (
            "sub_type" in component
        ):
            raise _Invalid(131009, "components are header, body or button (with a sub_type)")
        for parameter in component["parameters"]:
            value_type = parameter.get("type") if isinstance(parameter, dict) else None
            if value_type not in _TEMPLATE_PARAMS or parameter.get(value_type) in (None, ""):
                raise _Invalid(131008, "each template parameter needs a type and its value")
            if value_type in _HEADER_MEDIA:
                _media_check(value_type)(parameter[value_type])
        if is_button:
            sub_type, index = component["sub_type"], component.get("index")
            if sub_type not in _BUTTON_PARAM or not (isinstance(index, str) and index.isdigit()):
                raise _Invalid(131009, "a button has a sub_type and a string index")
            expected = _BUTTON_PARAM[sub_type]
            if [p.get("type") for p in component["parameters"]] != [expected]:
                raise _Invalid(131009, f"a {sub_type} button takes one {expected} parameter")


_CHECKS: dict[str, Callable[[dict[str, Any]], object]] = {
    "text": partial(_fields, spec=_TEXT, where="text"),
    "location": partial(_fields, spec=_LOCATION, where="location"),
    "reaction": partial(_fields, spec=_REACTION, where="reaction"),
    "interactive": _check_interactive,
    "template": _check_template,
    **{kind: _media_check(kind) for kind in _MEDIA},
}
