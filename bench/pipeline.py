"""The whole pipeline under load (issue 23): everything on at once, on PostgreSQL + Redis.

    .venv/bin/python -m bench.pipeline                    # the full configuration
    .venv/bin/python -m bench.pipeline --quick            # a small one, ~1 minute
    .venv/bin/python -m bench.pipeline --database-url postgres://…/h_pipeline \\
        --redis-url redis://127.0.0.1:6379/12

One ``parley serve`` and two ``parley worker`` processes on one PostgreSQL database (reset and
migrated) and one Redis database (flushed), and, all at once, in one organization:

- a template campaign to ``--recipients`` contacts on one Cloud API device limited to
  ``--rate`` messages a second, sent to the fake Graph API (``tests/fakes/graph_api.py``, in
  this process, its own thread), which accepts each send and then posts the three status
  webhooks (sent, delivered, read) back to the API, one request each, signed as Meta signs;
- ``--subscribers`` live ``inboxEvents`` subscriptions (graphql-transport-ws, from
  ``--client-processes`` separate processes, the minimal client of ``bench/fanout.py``);
- inbound customer messages at ``--inbound-rate`` a second on the same device, signed
  webhooks posted by the fake, for as long as the campaign's nominal duration: a tenth of them
  (``--ai-share``) from new customers, whom the device's AI agent answers (auto-reply, the fake
  OpenAI server of ``tests/fakes/openai_server.py``), the rest from returning customers whose
  conversations are with people (their first message came before the agent existed);
- ``--webhooks`` outbound webhooks of the organization, all with ``--webhook-document``, to a
  receiver on loopback in this process that checks each signature.

Printed: the send rate end to end (startCampaign → the last SENT recorded) and as the fake saw
it; webhook acknowledgement p50/p99/max (the fake's POST → its 200, as Meta would time it; the
poster runs in this busy process, so this is an upper bound); webhook processing lag p50/p99/max
(a webhook stored → processed, from the database); subscription delivery p50/p99 (an inbox
change recorded → a sampled subscriber received it); the CPU of the three Parley processes over
the run per campaign message (its send, three statuses and every event it caused, with the
inbound traffic of the same time included); the load average before and after. And the loss
accounting: sends accepted by the fake vs recipients; status webhooks posted vs stored vs
processed and messages READ; inbound posted vs stored; AI runs expected vs succeeded vs replies
the fake accepted; subscription events expected (the inbox log's new changes × subscribers) vs
received, and a sample of subscribers checked for the exact cursors in order; outbound
deliveries expected (outbox rows × webhooks) vs received once each.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import gc
import hashlib
import hmac
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import psutil
import redis.asyncio as aioredis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tortoise import Tortoise

from app.platform.config import tortoise_config
from app.platform.ids import from_global_id
from app.platform.pagination import decode_cursor
from bench.campaign_throughput import TAG, reset_database, seed
from bench.fanout import WSClient
from tests.campaigns.processes import (
    APP_SECRET,
    START,
    Cluster,
    create_template_campaign,
    owner_with_device,
)
from tests.fakes.graph_api import (
    FakeGraphApi,
    LoopbackServer,
    Send,
    _status,
    signed,
    webhook_envelope,
)
from tests.fakes.openai_server import FakeOpenAI, text
from tests.messaging.test_multi_process import Process, Stores, _migrate, _stop

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/h_pipeline"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/12"
DOCUMENT = "subscription { inboxEvents { cursor kind at message { id status } } }"
WEBHOOK_DOCUMENT = "subscription { messageEvents { kind message { id status } } }"
AI_REPLY = "Thanks for writing! A colleague will follow up shortly."
CREATE_AGENT = """
mutation($input: CreateAIAgentInput!) {
  createAIAgent(input: $input) { agent { id } userErrors { field message code } }
}
"""
CREATE_WEBHOOK = """
mutation($input: CreateWebhookInput!) {
  createWebhook(input: $input) { webhook { id } secret userErrors { field message code } }
}
"""
TARGETS = "sends ≥ 900 msg/s, webhook ack p99 ≤ 100 ms, lag p99 ≤ 2 s, no loss anywhere"


# -- the fake Graph API, timing its webhook posts -----------------------------------------------


@dataclass(frozen=True)
class Ack:
    seconds: float
    status: int | None
    inbound: bool


class TimedGraphApi(FakeGraphApi):
    """The fake Graph API, timing each webhook it posts from the request to the answer, with
    its status webhooks posted by a process of their own (``status_poster``): 3,000 requests
    a second through httpx on the fake's own loop took more CPU than that thread had, and the
    fake answered sends late (the workers timed them out), which measured the fake."""

    def __init__(self, statuses: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.acks: list[Ack] = []
        self.statuses = statuses  # a multiprocessing queue to the poster

    def _schedule_statuses(self, send: Send) -> None:
        url = self._numbers[send.phone_number_id].webhook_url
        callback = send.body.get("biz_opaque_callback_data")
        self.statuses.put((url, send.phone_number_id, send.wamid, send.to, callback))

    async def _post_webhook(self, number: Any, payload: dict[str, Any]) -> int | None:
        began = time.perf_counter()
        status = await super()._post_webhook(number, payload)
        self.acks.append(Ack(time.perf_counter() - began, status, inbound=True))
        return status


def status_poster(statuses: Any, pipe: Connection, params: dict[str, Any]) -> None:
    import uvloop

    uvloop.run(_poster_main(statuses, pipe, params))


async def _poster_main(statuses: Any, pipe: Connection, params: dict[str, Any]) -> None:
    """Posts sent, delivered and read for each send (``status_delay`` apart, as the fake
    does), signed; a post not answered 200 within 5 s is posted again every half second for
    ``redeliver_seconds``, as Meta redelivers. Until None arrives: then, once every post is
    done, sends back what happened."""
    import aiohttp

    loop = asyncio.get_running_loop()
    secret, delay, window = params["app_secret"], params["status_delay"], params["redeliver"]
    acks = array.array("d")
    attempts = 0
    refusals: Counter[str] = Counter()  # a post not answered 200: its status, or the error
    posted: set[tuple[str, str]] = set()
    acknowledged: set[tuple[str, str]] = set()
    tasks: set[asyncio.Task[None]] = set()
    timeout = aiohttp.ClientTimeout(total=5.0)
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=200), timeout=timeout
    ) as session:

        async def post(url: str, key: tuple[str, str], body: bytes, headers: Any) -> bool:
            nonlocal attempts
            attempts += 1
            began = time.perf_counter()
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    ok = response.status == 200
                    refusal = str(response.status)
            except (aiohttp.ClientError, TimeoutError) as error:
                ok, refusal = False, type(error).__name__
            acks.append(time.perf_counter() - began)
            if not ok:
                refusals[refusal] += 1
            if ok:
                acknowledged.add(key)
            return ok

        async def statuses_of(item: tuple[str, str, str, str, str | None]) -> None:
            url, phone_number_id, wamid, to, callback = item
            body = {"biz_opaque_callback_data": callback} if callback else {}
            send = Send(phone_number_id, to, "template", body, wamid, 0.0)
            for status in ("sent", "delivered", "read"):
                await asyncio.sleep(delay)
                payload = webhook_envelope(
                    phone_number_id, {"statuses": [_status(send, status, None)]}
                )
                data, headers = signed(secret, payload)
                posted.add((wamid, status))
                deadline = time.monotonic() + window
                while not await post(url, (wamid, status), data, headers):
                    if time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.5)

        while (item := await loop.run_in_executor(None, statuses.get)) is not None:
            task = asyncio.create_task(statuses_of(item))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        while tasks:
            await asyncio.gather(*tasks)
    pipe.send(
        {
            "acks": acks.tobytes(),
            "attempts": attempts,
            "refusals": dict(refusals),
            "posted": len(posted),
            "acknowledged": len(acknowledged),
        }
    )


# -- the outbound webhooks' receiver ------------------------------------------------------------


@dataclass
class Receiver:
    secrets: dict[int, str] = field(default_factory=dict)
    deliveries: set[tuple[int, str]] = field(default_factory=set)  # (webhook, delivery id)
    repeats: int = 0
    bad_signatures: int = 0

    async def endpoint(self, request: Request) -> Response:
        number = int(request.path_params["number"])
        body = await request.body()
        if not _signed_by(self.secrets[number], request.headers["x-parley-signature"], body):
            self.bad_signatures += 1
        key = (number, request.headers["x-parley-delivery"])
        if key in self.deliveries:
            self.repeats += 1
        self.deliveries.add(key)
        return Response("ok")


def _signed_by(secret: str, header: str, body: bytes) -> bool:
    """The receiver's check of README "Webhooks" (a `t` within 5 minutes is not checked here)."""
    fields = [part.split("=", 1) for part in header.split(",") if "=" in part]
    t = next((v for k, v in fields if k == "t"), "")
    expected = hmac.new(secret.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
    return any(k == "v1" and hmac.compare_digest(v, expected) for k, v in fields)


# -- the subscribers (separate processes) -------------------------------------------------------


class Subscriber(WSClient):
    """bench/fanout.py's client; a sampled one also keeps each frame's cursor and `at`."""

    def __init__(self, *args: Any, sampled: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sampled = sampled
        self.at = array.array("d")  # receipt − the change's `at`, per frame

    def _on_text(self, payload: bytes, now: float) -> None:
        if self.sampled and payload.startswith(b'{"id":"1","type":"next"'):
            data = orjson.loads(payload)["payload"].get("data")
            if data:  # a frame with errors is counted by WSClient
                event = data["inboxEvents"]
                self.ids.append(event["cursor"].encode())
                self.at.append(now - _timestamp(event["at"]))
        super()._on_text(payload, now)


def _timestamp(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


def subscribers_process(pipe: Connection, params: dict[str, Any]) -> None:
    import uvloop

    uvloop.run(_subscribers_main(pipe, params))


async def _subscribers_main(pipe: Connection, params: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    host, port, token = "127.0.0.1", params["port"], params["token"]
    gate = asyncio.Semaphore(25)
    clients: list[Subscriber] = []

    async def one(sampled: bool) -> None:
        async with gate:
            _, client = await loop.create_connection(
                lambda: Subscriber(host, port, token, DOCUMENT, sampled=sampled), host, port
            )
            await asyncio.wait_for(client.acked, 60)
            clients.append(client)

    await asyncio.gather(*(one(i < params["sampled"]) for i in range(params["count"])))
    pipe.send("ready")
    await loop.run_in_executor(None, pipe.recv)  # "stop"
    pipe.send(
        {
            "received": [len(c.receipts) for c in clients],
            "closed": [c.close_code for c in clients if c.closed.done()],
            "errors": sum(c.errors for c in clients),
            "first_error": next((c.first_error for c in clients if c.first_error), None),
            "cursors": [c.ids for c in clients if c.sampled],
            "latencies": [c.at.tobytes() for c in clients if c.sampled],
        }
    )
    for client in clients:
        if client.transport is not None:
            client.transport.abort()


# -- the run --------------------------------------------------------------------------------------


@dataclass
class Setup:
    api: Any
    token: str
    organization_id: int
    device_id: str
    device_pk: int
    phone_number_id: str
    campaign_id: str = ""


def pct(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def _tally(refusals: Counter[str]) -> str:
    """ " (429 ×3, ServerDisconnectedError ×2)": what the posts not answered 200 got."""
    if not refusals:
        return ""
    return " (" + ", ".join(f"{what} ×{n}" for what, n in refusals.most_common()) + ")"


def cpu_seconds(processes: list[Process]) -> dict[str, float]:
    seconds = {}
    for process in processes:
        root = psutil.Process(process.popen.pid)
        total = 0.0
        for each in [root, *root.children(recursive=True)]:
            times = each.cpu_times()
            total += times.user + times.system
        seconds[process.name] = total
    return seconds


def spy(processes: list[Process], folder: str | None) -> list[subprocess.Popen[bytes]]:
    """py-spy sampling each process until stopped (SIGINT), its stacks folded into
    ``folder/<name>.txt`` (``--py-spy``; py-spy itself is not a dependency of Parley)."""
    if folder is None:
        return []
    Path(folder).mkdir(parents=True, exist_ok=True)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return [
        subprocess.Popen(
            [
                *(py_spy, "record", "--pid", str(p.popen.pid), "--format", "raw"),
                *("--rate", "50", "--output", f"{folder}/{p.name}.txt", "--nonblocking"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for p in processes
    ]


def _own_cpu(poster: int, subscribers: list[tuple[Any, Connection]]) -> dict[str, float]:
    """CPU seconds of the load generators: this process (the Graph API and OpenAI fakes, the
    outbound webhooks' receiver), the status poster and the subscribers' processes."""

    def of(pid: int) -> float:
        times = psutil.Process(pid).cpu_times()
        return times.user + times.system

    return {
        "bench (fakes, receiver)": of(os.getpid()),
        "status poster": of(poster),
        "subscribers": sum(of(process.pid) for process, _ in subscribers),
    }


async def ai_done(db: asyncpg.Connection, setup: Setup, expected: int, within: float) -> None:
    """Until the auto-replies to the new customers have run (each one's run over)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        row = await db.fetchrow(
            "SELECT count(*) AS runs, count(*) FILTER (WHERE status IN ('QUEUED', 'RUNNING'))"
            " AS busy FROM agent_runs WHERE organization_id = $1",
            setup.organization_id,
        )
        if row["runs"] >= expected and not row["busy"]:
            return
        await asyncio.sleep(0.5)


async def ws_deliveries(url: str) -> float:
    """Frames the API process has sent its subscribers (``parley_ws_deliveries_total``)."""
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"{url}/metrics", timeout=30)).text
    for line in text.splitlines():
        if line.startswith("parley_ws_deliveries_total "):
            return float(line.split()[1])
    return 0.0


async def frames_sent(url: str, expected: float) -> None:
    """Until ``expected`` frames are sent, or none more for 10 s."""
    sent, still = await ws_deliveries(url), 0
    while sent < expected and still < 10:
        await asyncio.sleep(1)
        now = await ws_deliveries(url)
        still = still + 1 if now == sent else 0
        sent = now


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


async def settle(
    db: asyncpg.Connection, setup: Setup, receiver: Receiver, webhooks: int, within: float
) -> None:
    """Until everything the run caused is done: statuses processed, AI runs over, every
    outbox row delivered to every webhook (or ``within`` seconds)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        pending = await db.fetchval(
            "SELECT count(*) FROM webhook_events WHERE device_id = $1 AND status = 'RECEIVED'",
            setup.device_pk,
        )
        running = await db.fetchval(
            "SELECT count(*) FROM agent_runs WHERE organization_id = $1"
            " AND status IN ('QUEUED', 'RUNNING')",
            setup.organization_id,
        )
        outbox = await db.fetchval(
            "SELECT count(*) FROM outbox_events WHERE organization_id = $1",
            setup.organization_id,
        )
        if not pending and not running and len(receiver.deliveries) >= outbox * webhooks:
            return
        await asyncio.sleep(1.0)
    print(f"settle: still busy after {within:.0f} s; what was not done counts as lost")


async def inbound_traffic(
    fake: TimedGraphApi, setup: Setup, rate: float, seconds: float, ai_share: float
) -> tuple[int, int]:
    """``rate`` customer messages a second for ``seconds``: (posted, from new customers)."""
    count = int(rate * seconds)
    every = round(1 / ai_share) if ai_share else 0
    began = time.monotonic()
    sent: list[asyncio.Task[int | None]] = []
    new = 0
    for n in range(count):
        delay = began + n / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if every and n % every == 0:
            sender, new = f"1650666{new:04d}", new + 1
        else:
            sender = f"1650555{n % RETURNING:04d}"
        sent.append(
            asyncio.create_task(
                fake.deliver_inbound(setup.phone_number_id, sender, text=f"Question {n}")
            )
        )
    statuses = await asyncio.gather(*sent)
    return sum(1 for status in statuses if status == 200), new


RETURNING = 200  # returning customers, each with a conversation handled by people


async def prepare(
    db: asyncpg.Connection,
    running: Cluster,
    fake: TimedGraphApi,
    args: argparse.Namespace,
    receiver_url: str,
    receiver: Receiver,
) -> Setup:
    api, device_id, phone_number_id = await owner_with_device(running, fake, per_second=args.rate)
    organization = await api.data("{ organization { id } }")
    organization_id = int(from_global_id(organization["organization"]["id"])[1])
    assert api.token is not None
    setup = Setup(
        api,
        api.token,
        organization_id,
        device_id,
        int(from_global_id(device_id)[1]),
        phone_number_id,
    )
    await seed(organization_id, args.recipients)
    # Returning customers write first, before the agent exists: their conversations stay with
    # people (an agent answers new conversations only).
    statuses = await asyncio.gather(
        *(
            fake.deliver_inbound(phone_number_id, f"1650555{n:04d}", text="Hello")
            for n in range(RETURNING)
        )
    )
    assert set(statuses) == {200}, statuses
    await quiet(db, setup)
    created = await api.data(
        CREATE_AGENT,
        {
            "input": {
                "name": "Front desk",
                "instructions": "You answer customers politely.",
                "deviceId": device_id,
            }
        },
    )
    assert created["createAIAgent"]["userErrors"] == [], created
    for number in range(args.webhooks):
        made = await api.data(
            CREATE_WEBHOOK,
            {
                "input": {
                    "name": f"Integration {number}",
                    "url": f"{receiver_url}/{number}",
                    "query": args.webhook_document,
                }
            },
        )
        assert made["createWebhook"]["userErrors"] == [], made
        receiver.secrets[number] = made["createWebhook"]["secret"]
    setup.campaign_id = await create_template_campaign(api, device_id, TAG)
    return setup


async def quiet(db: asyncpg.Connection, setup: Setup) -> None:
    """Until the set-up's own webhooks are processed and its outbox delivered."""
    for _ in range(120):
        pending = await db.fetchval(
            "SELECT count(*) FROM webhook_events WHERE device_id = $1 AND status = 'RECEIVED'",
            setup.device_pk,
        )
        if not pending:
            return
        await asyncio.sleep(0.5)
    raise SystemExit("the set-up's webhooks were not processed in 60 s")


async def head(db: asyncpg.Connection, organization_id: int) -> int:
    value = await db.fetchval(
        "SELECT coalesce(max(seq), 0) FROM inbox_changes WHERE organization_id = $1",
        organization_id,
    )
    return int(value)


def start_subscribers(
    ctx: Any, port: int, token: str, count: int, processes: int, sampled: int
) -> list[tuple[Any, Connection]]:
    shares = [count // processes + (i < count % processes) for i in range(processes)]
    started = []
    for i, share in enumerate(shares):
        parent, child = ctx.Pipe()
        params = {
            "port": port,
            "token": token,
            "count": share,
            "sampled": sampled // processes + (i < sampled % processes),
        }
        process = ctx.Process(target=subscribers_process, args=(child, params), daemon=True)
        process.start()
        started.append((process, parent))
    for _, pipe in started:
        if not pipe.poll(600) or pipe.recv() != "ready":
            raise SystemExit("the subscribers did not connect in time")
    return started


def stop_subscribers(started: list[tuple[Any, Connection]]) -> list[dict[str, Any]]:
    for _, pipe in started:
        pipe.send("stop")
    results = [pipe.recv() for _, pipe in started]
    for process, _ in started:
        process.join(30)
    return results


async def run(args: argparse.Namespace) -> None:
    var_dir = Path(tempfile.mkdtemp(prefix="parley-pipe-"))
    redis = aioredis.from_url(args.redis_url)
    await redis.flushdb()
    await redis.aclose()
    await reset_database(args.database_url)
    stores = Stores(database_url=args.database_url, redis_url=args.redis_url, var_dir=var_dir)
    await _migrate(stores)
    await Tortoise.init(config=tortoise_config(args.database_url))
    db = await asyncpg.connect(args.database_url.replace("postgres://", "postgresql://", 1))
    receiver = Receiver()
    hooks = LoopbackServer(
        Starlette(routes=[Route("/hook/{number}", receiver.endpoint, methods=["POST"])])
    )
    llm = FakeOpenAI()
    new_customers = int(args.inbound_rate * args.seconds * args.ai_share) + 1
    llm.script(*[text(AI_REPLY) for _ in range(new_customers + 10)])
    ctx = mp.get_context("spawn")
    statuses = ctx.Queue()
    poster_pipe, child = ctx.Pipe()
    params = {
        "app_secret": APP_SECRET,
        "status_delay": 0.01,
        # As Meta does, a status webhook not answered 200 (within 5 s) is posted again.
        "redeliver": args.redeliver_seconds,
    }
    poster = ctx.Process(target=status_poster, args=(statuses, child, params), daemon=True)
    poster.start()
    assert poster.pid is not None
    fake = TimedGraphApi(statuses, app_secret=APP_SECRET)
    async with fake, llm, hooks:
        env = {
            "PARLEY_WHATSAPP_GRAPH_URL": fake.base_url,
            "PARLEY_AI_BASE_URL": llm.base_url,
            "PARLEY_AI_API_KEY": llm.api_key,
            # One user plays every subscriber: the per-user request limit is for people.
            "PARLEY_REQUEST_LIMIT_USER": "1000000/minute",
            # A socket closes when its access token expires (15 min): a slow run outlasts it.
            "PARLEY_ACCESS_TOKEN_TTL_SECONDS": "7200",
        }
        running = Cluster(stores, env, [])
        subscribers: list[tuple[Any, Connection]] = []
        try:
            await running.start_api()
            workers = [await running.start_worker(f"worker-{i}") for i in range(2)]
            setup = await prepare(db, running, fake, args, f"{hooks.base_url}/hook", receiver)
            await quiet(db, setup)
            assert running.api_process is not None and running.api_process.url is not None
            port = int(running.api_process.url.rsplit(":", 1)[1])
            subscribers = start_subscribers(
                ctx, port, setup.token, args.subscribers, args.client_processes, args.sampled
            )
            await asyncio.sleep(2)  # every subscription running before the first change
            first_seq = await head(db, setup.organization_id)
            frames_before = await ws_deliveries(running.api_process.url)
            outbox_before = await db.fetchval("SELECT count(*) FROM outbox_events")
            delivered_before = len(receiver.deliveries)
            fake.acks.clear()
            processes = [running.api_process, *workers]
            load_before = load()
            print(
                f"pipeline: {args.recipients} recipients at {args.rate}/s, {args.subscribers} "
                f"inboxEvents subscribers, inbound {args.inbound_rate:g}/s for "
                f"{args.seconds:g} s ({args.ai_share:.0%} to the AI agent), {args.webhooks} "
                f"outbound webhooks; 1 serve + 2 workers; PostgreSQL + Redis; "
                f"load before {load_before}",
                flush=True,
            )
            # As bench/campaign_throughput.py: a full collection of this process's heap stalls
            # the fake's thread (it would count the sends queued meanwhile as a burst).
            gc.collect()
            gc.disable()
            spies = spy(processes, args.py_spy)
            cpu_before = cpu_seconds(processes)
            own_before = _own_cpu(poster.pid, subscribers)
            began = time.time()
            started = await setup.api.data(START, {"input": {"campaignId": setup.campaign_id}})
            assert started["startCampaign"]["userErrors"] == [], started
            inbound_posted, new = await inbound_traffic(
                fake, setup, args.inbound_rate, args.seconds, args.ai_share
            )
            campaign_pk = from_global_id(setup.campaign_id)[1]
            deadline = time.monotonic() + args.timeout
            while time.monotonic() < deadline:
                left = await db.fetchval(
                    "SELECT count(*) FROM campaign_recipients WHERE campaign_id = $1"
                    " AND status NOT IN ('SENT', 'DELIVERED', 'READ', 'FAILED')",
                    campaign_pk,
                )
                if not left:
                    break
                await asyncio.sleep(0.5)
            await ai_done(db, setup, new, args.timeout)
            statuses.put(None)  # every send is made: the poster ends once its posts are done
            if not await asyncio.to_thread(poster_pipe.poll, args.timeout + args.redeliver_seconds):
                raise SystemExit("the status poster did not finish")
            posts = poster_pipe.recv()
            await settle(db, setup, receiver, args.webhooks, args.timeout)
            cpu_after = cpu_seconds(processes)
            own_after = _own_cpu(poster.pid, subscribers)
            for each in spies:
                each.send_signal(signal.SIGINT)
                each.wait(60)
            gc.enable()
            last_seq = await head(db, setup.organization_id)
            # Until the server has sent every frame (or stopped sending), then a moment more.
            await frames_sent(
                running.api_process.url, frames_before + (last_seq - first_seq) * args.subscribers
            )
            await asyncio.sleep(2)
            results = stop_subscribers(subscribers)
            subscribers = []
            load_after = load()
            await report(
                db,
                args,
                setup,
                fake,
                llm,
                receiver,
                results,
                began=began,
                first_seq=first_seq,
                last_seq=last_seq,
                outbox_before=outbox_before,
                delivered_before=delivered_before,
                inbound_posted=inbound_posted,
                new_customers=new,
                cpu={k: cpu_after[k] - cpu_before[k] for k in cpu_after},
                own_cpu={k: own_after[k] - own_before[k] for k in own_after},
                posts=posts,
                loads=(load_before, load_after),
            )
        finally:
            gc.enable()
            if subscribers:
                stop_subscribers(subscribers)
            _stop(running.processes)
            if poster.is_alive():
                poster.terminate()
            await db.close()
            await Tortoise.close_connections()
            if args.keep_logs:
                print(f"logs kept in {var_dir}")
            else:
                shutil.rmtree(var_dir, ignore_errors=True)


async def report(
    db: asyncpg.Connection,
    args: argparse.Namespace,
    setup: Setup,
    fake: TimedGraphApi,
    llm: FakeOpenAI,
    receiver: Receiver,
    results: list[dict[str, Any]],
    **run: Any,
) -> None:
    campaign_pk = from_global_id(setup.campaign_id)[1]
    pid = setup.phone_number_id
    # -- sends
    last_sent = await db.fetchval(
        "SELECT max(sent_at) FROM campaign_recipients WHERE campaign_id = $1", campaign_pk
    )
    by_status = dict(
        await db.fetch(
            "SELECT status, count(*) FROM campaign_recipients WHERE campaign_id = $1"
            " GROUP BY status",
            campaign_pk,
        )
    )
    campaign_to = {f"1415{2_000_000 + i:07d}" for i in range(args.recipients)}
    sends = [s for s in fake.sends if s.phone_number_id == pid]
    campaign_sends = sorted(s.at for s in sends if s.to in campaign_to)
    refused = sum(1 for a in fake.attempts if a.phone_number_id == pid and a.error_code == 130429)
    e2e = len(campaign_sends) / (last_sent.timestamp() - run["began"]) if last_sent else 0.0
    span = campaign_sends[-1] - campaign_sends[0] if len(campaign_sends) > 1 else float("nan")
    # -- webhooks in
    posts = run["posts"]
    status_acks = list(array.array("d", posts["acks"]))
    inbound_acks = [a.seconds for a in fake.acks]
    all_acks = status_acks + inbound_acks
    refusals = Counter(posts["refusals"])
    refusals.update(str(a.status) for a in fake.acks if a.status != 200)
    not_ok = sum(refusals.values())
    events = await db.fetch(
        "SELECT status, extract(epoch FROM processed_at - created_at) AS lag,"
        " raw_body LIKE '%\"statuses\"%' AS is_status"
        " FROM webhook_events WHERE device_id = $1 AND created_at >= to_timestamp($2)",
        setup.device_pk,
        run["began"],
    )
    lags = [float(e["lag"]) for e in events if e["lag"] is not None]
    stored_statuses = sum(1 for e in events if e["is_status"])
    stored_inbound = len(events) - stored_statuses
    processed = sum(1 for e in events if e["status"] == "PROCESSED")
    read = await db.fetchval(
        "SELECT count(*) FROM messages m JOIN campaign_recipients r ON r.message_id = m.id"
        " WHERE r.campaign_id = $1 AND m.status = 'READ'",
        campaign_pk,
    )
    # -- AI
    runs = dict(
        await db.fetch(
            "SELECT status, count(*) FROM agent_runs WHERE organization_id = $1 GROUP BY status",
            setup.organization_id,
        )
    )
    ai_replies = sum(1 for s in sends if s.to.startswith("1650666"))
    # -- subscriptions
    expected_each = run["last_seq"] - run["first_seq"]
    received = [n for r in results for n in r["received"]]
    closed = [code for r in results for code in r["closed"]]
    latencies = [
        x
        for r in results
        for raw in r["latencies"]
        for x in array.array("d", raw)  # type: ignore[arg-type]
    ]
    wanted = list(range(run["first_seq"] + 1, run["last_seq"] + 1))
    cursors_ok = sum(
        1
        for r in results
        for ids in r["cursors"]
        if [decode_cursor(c.decode(), field="after") for c in ids] == wanted
    )
    sampled = sum(len(r["cursors"]) for r in results)
    # -- outbound webhooks
    outbox = await db.fetchval("SELECT count(*) FROM outbox_events") - run["outbox_before"]
    deliveries = dict(
        await db.fetch("SELECT status, count(*) FROM webhook_deliveries GROUP BY status")
    )
    got = len(receiver.deliveries) - run["delivered_before"]
    cpu = run["cpu"]
    app_cpu = sum(cpu.values())
    messages = max(len(campaign_sends), 1)

    def ms(values: list[float], fraction: float) -> str:
        return f"{pct(values, fraction) * 1000:,.0f} ms"

    print(
        f"sends: {e2e:,.0f} msg/s end to end (startCampaign → last SENT recorded, "
        f"{len(campaign_sends)} in {last_sent.timestamp() - run['began']:.1f} s); "
        f"fake: {(len(campaign_sends) - 1) / span:,.0f}/s avg, "
        f"{fake.max_sends_per_second(pid)} max in 1 s, {refused} refused (130429)\n"
        f"webhook ack (the fake's POST → 200): p50 {ms(all_acks, 0.5)}, "
        f"p99 {ms(all_acks, 0.99)}, max {ms(all_acks, 1.0)} over {len(all_acks)} posts "
        f"(statuses p99 {ms(status_acks, 0.99)}, inbound p99 {ms(inbound_acks, 0.99)}); "
        f"{not_ok} not 200{_tally(refusals)}\n"
        f"webhook processing lag (stored → processed): p50 {ms(lags, 0.5)}, "
        f"p99 {ms(lags, 0.99)}, max {ms(lags, 1.0)}\n"
        f"subscription delivery (change recorded → received, {sampled} sampled subscribers):"
        f" p50 {ms(latencies, 0.5)}, p99 {ms(latencies, 0.99)}, max {ms(latencies, 1.0)}\n"
        f"CPU: {app_cpu:.1f} s in serve + 2 workers = {app_cpu / messages * 1000:.2f} ms per "
        f"campaign message ("
        + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in cpu.items())
        + "); load generators: "
        + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in run["own_cpu"].items())
        + "\n"
        f"load: before {run['loads'][0]}, after {run['loads'][1]}",
        flush=True,
    )
    print(
        "loss accounting:\n"
        f"  sends: {args.recipients} recipients, {len(campaign_sends)} accepted by the fake, "
        f"recipients by status {by_status}\n"
        f"  statuses: {posts['posted']} posted by the fake ({posts['attempts']} attempts), "
        f"{posts['acknowledged']} acknowledged, {stored_statuses} stored, "
        f"{read}/{len(campaign_sends)} campaign messages READ\n"
        f"  inbound: {run['inbound_posted']} posted (200), {stored_inbound} stored; "
        f"webhooks {processed}/{len(events)} PROCESSED\n"
        f"  AI: {run['new_customers']} new customers, runs {runs}, {ai_replies} replies "
        f"accepted by the fake, {len(llm.requests)} model requests\n"
        f"  subscriptions: {expected_each} changes × {len(received)} subscribers = "
        f"{expected_each * len(received):,} expected, {sum(received):,} received; "
        f"{cursors_ok}/{sampled} sampled got exactly every cursor in order; "
        f"closed {closed or 'none'}; errors {sum(r['errors'] for r in results)}\n"
        f"  outbound webhooks: {outbox} outbox rows × {args.webhooks} = "
        f"{outbox * args.webhooks:,} expected, {got:,} received once "
        f"({receiver.repeats} repeats, {receiver.bad_signatures} bad signatures); "
        f"deliveries {deliveries}",
        flush=True,
    )
    first_error = next((r["first_error"] for r in results if r["first_error"]), None)
    if first_error:
        print(f"  first subscription error: {first_error[:300]!r}")
    print(f"targets: {TARGETS}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 recipients, 100 subscribers")
    parser.add_argument("--recipients", type=int, default=None, help="default 10,000")
    parser.add_argument("--rate", type=int, default=1000, help="the device's messagesPerSecond")
    parser.add_argument("--subscribers", type=int, default=None, help="default 1,000")
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--sampled", type=int, default=20, help="subscribers parsing frames")
    parser.add_argument("--inbound-rate", type=float, default=50.0)
    parser.add_argument("--ai-share", type=float, default=0.1)
    parser.add_argument("--webhooks", type=int, default=5)
    parser.add_argument("--webhook-document", default=WEBHOOK_DOCUMENT)
    parser.add_argument(
        "--redeliver-seconds", type=float, default=120.0, help="the fake retries statuses"
    )
    parser.add_argument("--py-spy", default=None, help="a folder: profiles of the 3 processes")
    parser.add_argument("--timeout", type=float, default=300.0, help="for each wait")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--keep-logs", action="store_true")
    args = parser.parse_args()
    args.recipients = args.recipients or (1_000 if args.quick else 10_000)
    args.subscribers = args.subscribers or (100 if args.quick else 1_000)
    # Inbound traffic lasts as long as the campaign would at its rate.
    args.seconds = args.recipients / args.rate
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
