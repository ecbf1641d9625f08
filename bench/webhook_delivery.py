"""Webhook delivery: events → signed deliveries to a local receiver, through one worker process.

    .venv/bin/python bench/webhook_delivery.py [--webhooks 10] [--events 1000] [--rate 50]
        [--database-url postgres://…] [--redis-url redis://…]

Sets up the stores (a fresh SQLite file and an embedded Redis by default; ``--database-url``
resets that PostgreSQL database), one organization with a sandbox device and ``--events``
messages, ``--webhooks`` webhooks with the same subscription document (so each event runs it
once, as a live group would) pointed at a receiver on loopback in this process, and starts
one ``parley worker`` process. This process plays the API: it publishes each event through
the events seam (``app.platform.events.publish``: the document run once for the event, the
outbox row, then Redis), as the messaging pipeline does. Two runs:

- **backlog**: every event published before the worker starts; printed: how long publishing
  took, and deliveries/s = deliveries / (first → last receipt), the worker draining the
  backlog, with the worker's CPU seconds (deliveries per CPU-second: comparable on a busy
  machine);
- **paced**: ``--rate`` events a second (× webhooks deliveries a second, not backlogged);
  printed: p50/p99/max from an event's publish to its receipt by the receiver.

Each delivery is checked once received: signed with its webhook's secret, and each
(webhook, event) accepted once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
import uvicorn  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import Response  # noqa: E402
from starlette.routing import Route  # noqa: E402

from app import reactions  # noqa: E402
from app.integrations import outbox  # noqa: E402
from app.integrations.signing import verify  # noqa: E402
from app.integrations.webhooks import create_webhook  # noqa: E402
from app.live import webhooks as webhook_documents  # noqa: E402
from app.models.accounts import Organization, Role  # noqa: E402
from app.models.messaging import (  # noqa: E402
    Contact,
    Conversation,
    Device,
    DeviceStatus,
    Direction,
    Message,
    MessageStatus,
    Provider,
)
from app.platform import events  # noqa: E402
from app.platform.config import Settings  # noqa: E402
from app.platform.ids import to_global_id  # noqa: E402
from app.platform.migrations import apply_migrations  # noqa: E402
from app.platform.runtime import start_runtime  # noqa: E402
from app.schema import schema  # noqa: E402
from bench.stores import redis_for_run, reset_database  # noqa: E402

SECRET_KEY = "bench-webhooks-secret-key-0123456789abcdef"
DOCUMENT = "subscription { messageEvents { kind message { id body status } } }"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Receiver:
    def __init__(self, secrets: dict[int, str]) -> None:
        self.secrets = secrets
        self.received: dict[tuple[int, str], float] = {}  # (webhook, event id) -> receipt
        self.arrival: dict[tuple[int, str, str], float] = {}  # (webhook, kind, message id)
        self.bad_signatures = 0
        self.duplicates = 0
        self.expected = 0
        self.done = asyncio.Event()

    async def endpoint(self, request: Request) -> Response:
        at = time.time()
        number = int(request.path_params["number"])
        body = await request.body()
        if not verify(self.secrets[number], request.headers["x-parley-signature"], body, now=at):
            self.bad_signatures += 1
        payload = orjson.loads(body)
        key = (number, payload["id"])
        if key in self.received:
            self.duplicates += 1
        else:
            self.received[key] = at
            event = payload["data"]["messageEvents"]
            self.arrival[(number, event["kind"], event["message"]["id"])] = at
            if len(self.received) >= self.expected:
                self.done.set()
        return Response("ok")


async def seed(settings: Settings, url: str, webhooks: int, count: int) -> Any:
    organization = await Organization.create(name="Bench")
    device = await Device.create(
        organization_id=organization.id,
        name="Bench",
        phone_number="+16505550100",
        provider=Provider.SANDBOX,
        status=DeviceStatus.CONNECTED,
    )
    contact = await Contact.create(organization_id=organization.id, phone_number="+16505550101")
    conversation = await Conversation.create(
        organization_id=organization.id, device_id=device.id, contact_id=contact.id
    )
    await Message.bulk_create(
        [
            Message(
                organization_id=organization.id,
                conversation_id=conversation.id,
                device_id=device.id,
                direction=Direction.INBOUND,
                status=MessageStatus.RECEIVED,
                body=f"message {n}",
            )
            for n in range(count)
        ]
    )
    messages = await Message.filter(organization_id=organization.id).order_by("id")
    secrets = {}
    for number in range(webhooks):
        created = await create_webhook(
            settings,
            schema._schema,
            organization_id=organization.id,
            name=f"Bench {number}",
            url=f"{url}/{number}",
            query=DOCUMENT,
            role=Role.VIEWER,
        )
        secrets[number] = created.secret
    return messages, secrets


async def publish(runtime: Any, messages: list[Message], kind: str, rate: float | None) -> dict:
    published: dict[str, float] = {}
    started = time.monotonic()
    for n, message in enumerate(messages):
        if rate is not None:
            delay = started + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        published[to_global_id("Message", message.id)] = time.time()
        await events.publish(runtime.broker, events.MessageEvent.of(message, kind))
    return published


async def one_run(
    runtime: Any, receiver: Receiver, messages: list[Message], kind: str, rate: float | None
) -> tuple[dict[str, float], float]:
    receiver.expected = len(receiver.received) + len(messages) * len(receiver.secrets)
    receiver.done.clear()
    published = await publish(runtime, messages, kind, rate)
    await asyncio.wait_for(
        receiver.done.wait(), timeout=float(os.environ.get("BENCH_TIMEOUT", "600"))
    )
    return published, time.time()


def latencies(receiver: Receiver, kind: str, published: dict[str, float]) -> list[float]:
    return sorted(
        at - published[message_id]
        for (_, event_kind, message_id), at in receiver.arrival.items()
        if event_kind == kind
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], fraction: float) -> float:
    return values[min(len(values) - 1, int(len(values) * fraction))]


async def run(args: argparse.Namespace) -> None:
    var_dir = Path(tempfile.mkdtemp(prefix="parley-wb-"))
    try:
        database_url = args.database_url or f"sqlite://{var_dir / 'parley.sqlite3'}"
        if database_url.startswith("postgres"):
            await reset_database(database_url)
        async with redis_for_run(args.redis_url, var_dir) as redis_url:
            await _runs(args, var_dir, database_url, redis_url)
    finally:
        if args.keep_logs:
            print(f"logs kept in {var_dir}")
        else:
            shutil.rmtree(var_dir, ignore_errors=True)


async def _runs(args: argparse.Namespace, var_dir: Path, database_url: str, redis_url: str) -> None:
    worker: subprocess.Popen[bytes] | None = None
    try:
        await apply_migrations(database_url)
        settings = Settings(
            env="development",
            database_url=database_url,
            redis_url=redis_url,
            var_dir=var_dir,
            secret_key=SECRET_KEY,
            run_worker_in_process=False,
            log_level="WARNING",
        )
        reactions.install()
        # As in an API process: each event's documents run where it is published.
        webhook_documents.install()
        port = free_port()
        async with start_runtime(settings) as runtime:
            await outbox.attach(runtime)
            messages, secrets = await seed(
                settings, f"http://127.0.0.1:{port}/hook", args.webhooks, args.events
            )
            receiver = Receiver(secrets)
            app = Starlette(routes=[Route("/hook/{number}", receiver.endpoint, methods=["POST"])])
            server = uvicorn.Server(
                uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
            )
            server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
            serving = asyncio.create_task(server.serve())
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")},
                "PYTHONPATH": str(ROOT),
                "PARLEY_ENV": "development",
                "PARLEY_DATABASE_URL": database_url,
                "PARLEY_REDIS_URL": redis_url,
                "PARLEY_VAR_DIR": str(var_dir),
                "PARLEY_SECRET_KEY": SECRET_KEY,
                "PARLEY_LOG_LEVEL": "WARNING",
            }
            print(
                f"{args.webhooks} webhooks × {args.events} events, one worker process, "
                f"{'PostgreSQL' if database_url.startswith('postgres') else 'SQLite'}, "
                f"load before: {'/'.join(f'{x:.2f}' for x in os.getloadavg())}",
                flush=True,
            )
            # The backlog: every event in the outbox (and its dispatch queued) before the worker
            # starts, so what is measured is the worker draining it, not this process publishing.
            receiver.expected = len(messages) * args.webhooks
            began = time.monotonic()
            published = await publish(runtime, messages, "CREATED", None)
            print(
                f"published {len(messages)} events in {time.monotonic() - began:.2f}s", flush=True
            )
            log = (var_dir / "worker.log").open("wb")
            profile = os.environ.get("BENCH_PROFILE")
            worker = subprocess.Popen(
                [
                    sys.executable,
                    *(["-m", "cProfile", "-o", profile] if profile else []),
                    "-m",
                    "app.cli",
                    "worker",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            await asyncio.wait_for(
                receiver.done.wait(), timeout=float(os.environ.get("BENCH_TIMEOUT", "600"))
            )
            cpu = cpu_seconds(worker.pid)
            receipts = sorted(receiver.received.values())
            first, last = receipts[0], receipts[-1]
            deliveries = len(receipts)
            print(
                f"backlog: {deliveries} deliveries drained in {last - first:.2f}s "
                f"(first → last receipt) = {deliveries / (last - first):,.0f} deliveries/s; "
                f"worker CPU {cpu:.2f}s (start-up included) = {deliveries / cpu:,.0f} deliveries "
                "per CPU-second",
                flush=True,
            )
            await asyncio.sleep(2)  # the worker's sweep finds nothing more to do
            published, _ = await one_run(
                runtime, receiver, messages, "STATUS_CHANGED", float(args.rate)
            )
            lat = latencies(receiver, "STATUS_CHANGED", published)
            print(
                f"paced {args.rate} events/s ({args.rate * args.webhooks} deliveries/s): "
                f"event→receipt p50 {percentile(lat, 0.5) * 1000:.0f} ms, "
                f"p99 {percentile(lat, 0.99) * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms",
                flush=True,
            )
            print(
                f"checked: {len(receiver.received)} accepted, {receiver.duplicates} duplicates, "
                f"{receiver.bad_signatures} bad signatures; "
                f"load after: {'/'.join(f'{x:.2f}' for x in os.getloadavg())}",
                flush=True,
            )
            server.should_exit = True
            await serving
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--webhooks", type=int, default=10)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=50, help="events/s of the paced run")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--redis-url", default=None, help="default: an embedded Redis")
    parser.add_argument("--keep-logs", action="store_true")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
