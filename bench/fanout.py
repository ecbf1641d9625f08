"""Subscription fan-out benchmark (issue 8, must-show 1 and 2).

    .venv/bin/python bench/fanout.py                 # 1,000 × 20/s and 5,000 × 4/s, shared and
                                                     # baseline, then the slow-consumer run
    .venv/bin/python bench/fanout.py --quick         # 200 × 20/s and 500 × 4/s, 4 s each

One API process (``parley serve``: uvicorn, uvloop, httptools, websockets-sansio, as shipped)
on a fresh SQLite file and a Redis server started here. Per scenario the server is started
anew with ``PARLEY_LIVE_SHARED_EXECUTION`` on (shared) or off (baseline):

- subscribers: graphql-transport-ws connections from ``--clients`` separate client processes
  (a minimal asyncio WebSocket client, so the clients are not the bottleneck), all subscribed
  to the same ``messageEvents`` document as one member of one organization;
- events: ``--rate`` message events per second published to Redis by a separate publisher
  process, exactly like the API and workers publish them; each event carries its publish time
  (``published_at``) and refers to one of a ring of messages, so the k-th frame a connection
  receives is the k-th event published (checked by the message id);
- printed: deliveries/s (frames received ÷ first publish to last receipt), latency p50/p99
  (publish → receipt), server memory per idle subscriber (server RSS after all subscribed and
  idle, minus before connecting, ÷ subscribers), server RSS growth over the run (from the first
  publish to after the last delivery) and per 100,000 deliveries, and ``os.getloadavg()``;
- the slow-consumer run: ``--slow-subscribers`` subscribers at 20 events/s plus one client that
  reads nothing (with a heavy document, so its socket buffers fill in seconds); it must be
  closed (4499) while the others keep their latency.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import base64
import contextlib
import multiprocessing as mp
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import orjson  # noqa: E402
import psutil  # noqa: E402

SECRET_KEY = "bench-fanout-secret-key-0123456789abcdef-xyz"
RING = 50  # distinct messages the events refer to, in turn
DOCUMENT = (
    "subscription { messageEvents { kind message { id status direction createdAt "
    "conversation { id unreadCount } } } }"
)
# A client that reads nothing gets ~32 KB frames: its socket buffers fill in seconds.
HEAVY_DOCUMENT = (
    "subscription { messageEvents { kind message { id "
    + " ".join(f"b{i}: body" for i in range(8))
    + " } } }"
)
TARGETS = {
    "deliveries_per_s": 30_000,
    "p99_ms_1000x20": 250,
    "kb_per_idle_subscriber": 40,
    "rss_growth_mb_per_100k": 10,
}


# ---------------------------------------------------------------------------------------------
# A minimal graphql-transport-ws client: enough of RFC 6455 for text frames from a server.


class WSClient(asyncio.Protocol):
    def __init__(
        self, host: str, port: int, token: str, document: str, *, slow: bool = False
    ) -> None:
        self.host, self.port, self.token, self.document = host, port, token, document
        self.slow = slow
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.upgraded = False
        self.receipts = array.array("d")
        self.ids: list[bytes] = []
        self.errors = 0
        self.first_error: bytes | None = None
        self.close_code: int | None = None
        self.close_reason = ""
        self.acked = asyncio.get_running_loop().create_future()
        self.closed = asyncio.get_running_loop().create_future()
        self.keep_ids = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            (
                f"GET /graphql HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
            ).encode()
        )

    def send_text(self, text: str | bytes) -> None:
        data = text.encode() if isinstance(text, str) else text
        n = len(data)
        if n < 126:
            header = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 65536:
            header = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
        # A zero masking key: the payload goes as it is.
        assert self.transport is not None
        self.transport.write(header + b"\x00\x00\x00\x00" + data)

    def _control(self, opcode: int, payload: bytes) -> None:
        assert self.transport is not None
        self.transport.write(
            struct.pack("!BB", 0x80 | opcode, 0x80 | len(payload)) + b"\x00\x00\x00\x00" + payload
        )

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        if not self.upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if b" 101 " not in buffer[: buffer.find(b"\r\n")]:
                self.close_code = -1
                self._finish()
                return
            del buffer[: end + 4]
            self.upgraded = True
            self.send_text(
                orjson.dumps(
                    {
                        "type": "connection_init",
                        "payload": {"authorization": f"Bearer {self.token}"},
                    }
                )
            )
        offset = 0
        size = len(buffer)
        now = time.time()
        while size - offset >= 2:
            b0, b1 = buffer[offset], buffer[offset + 1]
            length = b1 & 0x7F
            start = offset + 2
            if length == 126:
                if size - offset < 4:
                    break
                length = int.from_bytes(buffer[offset + 2 : offset + 4], "big")
                start = offset + 4
            elif length == 127:
                if size - offset < 10:
                    break
                length = int.from_bytes(buffer[offset + 2 : offset + 10], "big")
                start = offset + 10
            end = start + length
            if end > size:
                break
            opcode = b0 & 0x0F
            payload = bytes(buffer[start:end])
            offset = end
            if opcode == 1:
                self._on_text(payload, now)
            elif opcode == 9:
                self._control(0xA, payload)
            elif opcode == 8:
                if len(payload) >= 2:
                    self.close_code = int.from_bytes(payload[:2], "big")
                    self.close_reason = payload[2:].decode(errors="replace")
                with contextlib.suppress(Exception):
                    self._control(0x8, payload[:2])
                self._finish()
        if offset:
            del buffer[:offset]

    def _on_text(self, payload: bytes, now: float) -> None:
        if payload.startswith(b'{"id":"1","type":"next"'):
            self.receipts.append(now)
            if b'"errors":' in payload:
                self.errors += 1
                self.first_error = self.first_error or payload[:400]
            if self.keep_ids:
                message = orjson.loads(payload)["payload"]
                data = message.get("data") or {}
                event = data.get("messageEvents") or {}
                self.ids.append(((event.get("message") or {}).get("id") or "").encode())
            return
        message = orjson.loads(payload)
        kind = message.get("type")
        if kind == "ping":
            self.send_text(b'{"type":"pong"}')
        elif kind == "connection_ack":
            self.send_text(
                orjson.dumps({"id": "1", "type": "subscribe", "payload": {"query": self.document}})
            )
            if not self.acked.done():
                self.acked.set_result(None)
            if self.slow:
                assert self.transport is not None
                self.transport.pause_reading()
        elif kind in ("error", "complete"):
            self.errors += 1
            self.first_error = self.first_error or payload[:400]

    def _finish(self) -> None:
        if not self.closed.done():
            self.closed.set_result(None)
        if not self.acked.done():
            self.acked.set_exception(ConnectionError(f"closed {self.close_code}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish()


async def _open(host: str, port: int, token: str, document: str, *, slow: bool) -> WSClient:
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    if slow:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await loop.sock_connect(sock, (host, port))
    _, client = await loop.create_connection(
        lambda: WSClient(host, port, token, document, slow=slow), sock=sock
    )
    await asyncio.wait_for(client.acked, 60)
    return client


def client_process(pipe: Connection, params: dict[str, Any]) -> None:
    import uvloop

    uvloop.run(_client_main(pipe, params))


async def _client_main(pipe: Connection, params: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    host, port, token = params["host"], params["port"], params["token"]
    clients: list[WSClient] = []
    semaphore = asyncio.Semaphore(25)

    failed = 0

    async def one(document: str, slow: bool) -> None:
        nonlocal failed
        async with semaphore:
            try:
                clients.append(await _open(host, port, token, document, slow=slow))
            except (OSError, TimeoutError):
                failed += 1  # refused or closed by an overloaded server: reported

    await asyncio.gather(*(one(DOCUMENT, False) for _ in range(params["count"])))
    slow_client = None
    if params.get("slow"):
        slow_client = await _open(host, port, token, HEAVY_DOCUMENT, slow=True)
    for client in clients[: params.get("check_ids", 0)]:
        client.keep_ids = True
    pipe.send(("ready", len(clients), failed))
    await loop.run_in_executor(None, pipe.recv)  # "stop"
    slow_result = None
    if slow_client is not None:
        # Reads at last: what its socket held, then why it was closed.
        assert slow_client.transport is not None
        slow_client.transport.resume_reading()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(slow_client.closed), 20)
        slow_result = (slow_client.close_code, slow_client.close_reason)
    pipe.send(
        {
            "receipts": [client.receipts.tobytes() for client in clients],
            "ids": [client.ids for client in clients if client.keep_ids],
            "errors": sum(client.errors for client in clients),
            "first_error": next((c.first_error for c in clients if c.first_error), None),
            "closed": sum(1 for client in clients if client.closed.done()),
            "slow": slow_result,
        }
    )
    for client in clients:
        if client.transport is not None:
            client.transport.abort()


# ---------------------------------------------------------------------------------------------
# The publisher.


def publisher_process(pipe: Connection, params: dict[str, Any]) -> None:
    import uvloop

    uvloop.run(_publisher_main(pipe, params))


async def _publisher_main(pipe: Connection, params: dict[str, Any]) -> None:
    import redis.asyncio as aioredis

    from app.platform.pubsub import redis_channel

    redis = aioredis.from_url(params["redis_url"])
    channel = redis_channel(redis, params["channel"])
    rate, count = params["rate"], params["count"]
    times = array.array("d")
    start = time.time() + 0.2
    for k in range(count):
        delay = start + k / rate - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        published_at = time.time()
        times.append(published_at)
        await redis.publish(
            channel,
            orjson.dumps(
                {
                    "kind": "STATUS_CHANGED",
                    "organization_id": params["organization_id"],
                    "message_id": params["message_ids"][k % len(params["message_ids"])],
                    "conversation_id": params["conversation_id"],
                    "device_id": params["device_id"],
                    "published_at": published_at,
                }
            ),
        )
    await redis.aclose()
    pipe.send(times.tobytes())


# ---------------------------------------------------------------------------------------------
# The orchestration.


@dataclass
class Stack:
    var_dir: Path
    redis_url: str
    database_url: str
    port: int

    def env(self, shared: bool) -> dict[str, str]:
        return {
            **os.environ,
            "PARLEY_ENV": "development",
            "PARLEY_VAR_DIR": str(self.var_dir),
            "PARLEY_DATABASE_URL": self.database_url,
            "PARLEY_REDIS_URL": self.redis_url,
            "PARLEY_RUN_WORKER_IN_PROCESS": "true",
            "PARLEY_SECRET_KEY": SECRET_KEY,
            "PARLEY_PORT": str(self.port),
            "PARLEY_HOST": "127.0.0.1",
            "PARLEY_LOG_LEVEL": "WARNING",
            "PARLEY_REQUEST_LIMIT_ANONYMOUS": "1000000/minute",
            "PARLEY_REQUEST_LIMIT_USER": "1000000/minute",
            "PARLEY_LIVE_SHARED_EXECUTION": "true" if shared else "false",
        }


@contextlib.contextmanager
def serve(stack: Stack, *, shared: bool) -> Any:
    log = open(stack.var_dir / f"server-{'shared' if shared else 'baseline'}.log", "ab")  # noqa: SIM115
    process = subprocess.Popen(
        [str(ROOT / ".venv/bin/parley"), "serve"],
        env=stack.env(shared),
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.time() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{stack.port}/health/live", timeout=1).is_success:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"the server did not start; see {log.name}")
            time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def graphql(stack: Stack, query: str, variables: dict[str, Any], token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(
        f"http://127.0.0.1:{stack.port}/graphql",
        json={"query": query, "variables": variables},
        headers=headers,
        timeout=30,
    )
    body = response.json()
    assert not body.get("errors"), body
    return body["data"]


def seed(stack: Stack) -> dict[str, Any]:
    """An owner with a sandbox device and a ring of inbound messages (4,000-character bodies)."""
    data = graphql(
        stack,
        "mutation($input: RegisterInput!) { register(input: $input) { accessToken "
        "userErrors { message } } }",
        {
            "input": {
                "email": f"bench-{os.getpid()}@example.com",
                "password": "correct horse battery staple",
                "name": "Bench",
                "organizationName": "Bench",
            }
        },
    )
    token = data["register"]["accessToken"]
    device = graphql(
        stack,
        "mutation($input: CreateDeviceInput!) { createDevice(input: $input) { device { id } } }",
        {"input": {"name": "Bench", "phoneNumber": "+16505550100", "provider": "SANDBOX"}},
        token,
    )["createDevice"]["device"]["id"]
    graphql(
        stack,
        "mutation($input: ConnectDeviceInput!) { connectDevice(input: $input) { device { id } } }",
        {"input": {"deviceId": device}},
        token,
    )
    message_ids, conversation = [], None
    for i in range(RING):
        message = graphql(
            stack,
            "mutation($input: SimulateInboundMessageInput!) { simulateInboundMessage("
            "input: $input) { message { id conversation { id } } } }",
            {"input": {"deviceId": device, "from": "+16505550199", "text": f"{i:04d}" * 1000}},
            token,
        )["simulateInboundMessage"]["message"]
        message_ids.append(message["id"])
        conversation = message["conversation"]["id"]
    me = httpx.post(
        f"http://127.0.0.1:{stack.port}/graphql",
        json={"query": "{ organization { id } }"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ).json()
    organization = me["data"]["organization"]["id"]
    return {
        "token": token,
        "device_id": _pk(device),
        "conversation_id": _pk(conversation),
        "message_ids": [_pk(m) for m in message_ids],
        "message_gids": message_ids,
        "organization_id": _pk(organization),
    }


def _pk(global_id: Any) -> int:
    from app.platform.ids import from_global_id

    return int(from_global_id(str(global_id))[1])


def subscriptions(stack: Stack) -> float:
    text = httpx.get(f"http://127.0.0.1:{stack.port}/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith("parley_ws_subscriptions "):
            return float(line.split()[1])
    return 0.0


def run_scenario(
    stack: Stack,
    data: dict[str, Any],
    *,
    subscribers: int,
    rate: float,
    seconds: float,
    shared: bool,
    clients: int,
    slow: bool = False,
) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    with serve(stack, shared=shared) as server:
        rss = psutil.Process(server.pid)
        # Warm up: one subscriber gets one event, so the first-use costs are paid.
        warm, _, _ = _run_clients(ctx, stack, data, 1, 1, slow=False)
        _wait_subscribed(stack, 1)
        _publish(ctx, stack, data, rate=20, count=3)
        time.sleep(0.5)
        _stop_clients(warm)
        time.sleep(1.0)
        rss_idle_before = rss.memory_info().rss
        shares = [subscribers // clients + (i < subscribers % clients) for i in range(clients)]
        procs, connected, failed = _run_clients(ctx, stack, data, clients, shares, slow=slow)
        _wait_subscribed(stack, connected + (1 if slow else 0))
        time.sleep(2.0)
        rss_idle_after = rss.memory_info().rss
        count = int(rate * seconds)
        rss_start = rss.memory_info().rss
        delivered_before = _delivered_so_far(stack)
        publish_times = _publish(ctx, stack, data, rate=rate, count=count)
        expected = count * connected
        deadline = time.time() + max(30.0, seconds * 2)
        # Until the server has sent every frame (or the deadline), then a moment to arrive.
        while time.time() < deadline and _delivered_so_far(stack) - delivered_before < expected:
            time.sleep(0.5)
        time.sleep(1.0)
        rss_end = rss.memory_info().rss
        results = _stop_clients(procs)
        load = os.getloadavg()
    latencies: list[float] = []
    received = 0
    last = 0.0
    for result in results:
        for raw in result["receipts"]:
            receipts = array.array("d")
            receipts.frombytes(raw)
            received += len(receipts)
            for k, at in enumerate(receipts[: len(publish_times)]):
                latencies.append(at - publish_times[k])
            if receipts:
                last = max(last, receipts[-1])
    mismatches = 0
    for result in results:
        for ids in result["ids"]:
            for k, got in enumerate(ids):
                if got.decode() != data["message_gids"][k % RING]:
                    mismatches += 1
    latencies.sort()
    span = (last - publish_times[0]) if received else float("nan")

    def pct(p: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000
            if latencies
            else float("nan")
        )

    slow_result = next((r["slow"] for r in results if r["slow"] is not None), None)
    return {
        "subscribers": subscribers,
        "rate": rate,
        "shared": shared,
        "expected": expected,
        "received": received,
        "deliveries_per_s": received / span if span and span > 0 else float("nan"),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": pct(1.0),
        "kb_per_idle_subscriber": (rss_idle_after - rss_idle_before) / max(connected, 1) / 1024,
        "failed_connections": failed,
        "rss_growth_mb": (rss_end - rss_start) / 2**20,
        "rss_growth_mb_per_100k": (rss_end - rss_start) / 2**20 * 100_000 / max(received, 1),
        "errors": sum(r["errors"] for r in results),
        "first_error": next((r["first_error"] for r in results if r["first_error"]), None),
        "mismatches": mismatches,
        "slow": slow_result,
        "loadavg": load,
    }


def _delivered_so_far(stack: Stack) -> float:
    text = httpx.get(f"http://127.0.0.1:{stack.port}/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith("parley_ws_deliveries_total "):
            return float(line.split()[1])
    return 0.0


def _run_clients(
    ctx: Any, stack: Stack, data: dict[str, Any], clients: int, shares: Any, *, slow: bool
) -> tuple[list[tuple[Any, Connection]], int, int]:
    shares = shares if isinstance(shares, list) else [shares] * clients
    procs = []
    for i, share in enumerate(shares):
        parent, child = ctx.Pipe()
        params = {
            "host": "127.0.0.1",
            "port": stack.port,
            "token": data["token"],
            "count": share,
            "slow": slow and i == 0,
            "check_ids": 20,
        }
        process = ctx.Process(target=client_process, args=(child, params), daemon=True)
        process.start()
        procs.append((process, parent))
    connected = failed = 0
    for _, pipe in procs:
        if not pipe.poll(600):
            raise RuntimeError("clients did not connect in time")
        ready, ok, not_ok = pipe.recv()
        assert ready == "ready"
        connected += ok
        failed += not_ok
    return procs, connected, failed


def _wait_subscribed(stack: Stack, count: int) -> None:
    deadline = time.time() + 120
    while subscriptions(stack) < count:
        if time.time() > deadline:
            raise RuntimeError(f"only {subscriptions(stack)} of {count} subscribed")
        time.sleep(0.2)


def _stop_clients(procs: list[tuple[Any, Connection]]) -> list[dict[str, Any]]:
    for _, pipe in procs:
        pipe.send("stop")
    results = [pipe.recv() for _, pipe in procs]
    for process, _ in procs:
        process.join(30)
    return results


def _publish(ctx: Any, stack: Stack, data: dict[str, Any], *, rate: float, count: int) -> Any:
    from app.platform.events import MESSAGES, channel

    parent, child = ctx.Pipe()
    params = {
        "redis_url": stack.redis_url,
        "channel": channel(data["organization_id"], MESSAGES),
        "organization_id": data["organization_id"],
        "message_ids": data["message_ids"],
        "conversation_id": data["conversation_id"],
        "device_id": data["device_id"],
        "rate": rate,
        "count": count,
    }
    process = ctx.Process(target=publisher_process, args=(child, params), daemon=True)
    process.start()
    times = array.array("d")
    times.frombytes(parent.recv())
    process.join(10)
    return times


def _print(result: dict[str, Any]) -> None:
    mode = "shared  " if result["shared"] else "baseline"
    slow = result["slow"]
    print(
        f"{result['subscribers']:>5} × {result['rate']:>4g}/s {mode} "
        f"{result['deliveries_per_s']:>9,.0f}/s  p50 {result['p50_ms']:>7.1f} ms  "
        f"p99 {result['p99_ms']:>8.1f} ms  idle {result['kb_per_idle_subscriber']:>5.1f} KB/sub  "
        f"RSS +{result['rss_growth_mb']:>6.1f} MB ({result['rss_growth_mb_per_100k']:.1f}/100k)  "
        f"got {result['received']:,}/{result['expected']:,}  errors {result['errors']}  "
        f"id mismatches {result['mismatches']}"
        + (f"  slow consumer closed: {slow}" if slow is not None else "")
        + (
            f"  FAILED TO CONNECT {result['failed_connections']}"
            if result["failed_connections"]
            else ""
        )
        + f"  load {tuple(round(x, 2) for x in result['loadavg'])}",
        flush=True,
    )
    if result["first_error"]:
        print(f"    first error: {result['first_error'].decode(errors='replace')}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200×20/s and 500×4/s, 4 s each")
    parser.add_argument(
        "--scenarios", default=None, help="e.g. 1000x20,5000x4 (subscribers x events/s)"
    )
    parser.add_argument("--seconds", type=float, default=None, help="Publishing time per run.")
    parser.add_argument("--clients", type=int, default=2, help="Client processes.")
    parser.add_argument("--no-baseline", action="store_true", help="Skip shared-off runs.")
    parser.add_argument("--no-slow", action="store_true", help="Skip the slow-consumer run.")
    parser.add_argument(
        "--capacity",
        default=None,
        help="A shared-only run offered more than it can take, for the most deliveries/s "
        "(default 1000x50; 'none' skips it).",
    )
    parser.add_argument("--slow-subscribers", type=int, default=None)
    parser.add_argument("--database-url", default=None, help="Default: a fresh SQLite file.")
    parser.add_argument("--redis-url", default=None, help="Default: a Redis server started here.")
    parser.add_argument("--keep", action="store_true", help="Keep the run's directory (logs).")
    args = parser.parse_args()
    scenarios = args.scenarios or ("200x20,500x4" if args.quick else "1000x20,5000x4")
    seconds = args.seconds or (4.0 if args.quick else 10.0)
    slow_subscribers = args.slow_subscribers or (200 if args.quick else 999)

    var_dir = Path(tempfile.mkdtemp(prefix="parley-fanout-"))
    redis = None
    try:
        redis_url = args.redis_url
        if redis_url is None:
            from app.platform.redis import EmbeddedRedis

            redis = EmbeddedRedis(var_dir / "redis.sock")
            asyncio.run(redis.start())
            redis_url = redis.url
        database_url = args.database_url or f"sqlite://{var_dir / 'bench.sqlite3'}"
        port = _free_port()
        stack = Stack(var_dir, redis_url, database_url, port)
        subprocess.run(
            [str(ROOT / ".venv/bin/parley"), "migrate"], env=stack.env(True), cwd=ROOT, check=True
        )
        with serve(stack, shared=True):
            data = seed(stack)
        print(
            f"parley fan-out bench: one API process, {args.clients} client processes, "
            f"{seconds:g} s of events per run; cpus {os.cpu_count()}; "
            f"load {tuple(round(x, 2) for x in os.getloadavg())}",
            flush=True,
        )
        results = []
        for spec in scenarios.split(","):
            subscribers, rate = (float(x) for x in spec.lower().split("x"))
            for shared in (True,) if args.no_baseline else (True, False):
                result = run_scenario(
                    stack,
                    data,
                    subscribers=int(subscribers),
                    rate=rate,
                    seconds=seconds,
                    shared=shared,
                    clients=args.clients,
                )
                _print(result)
                results.append(result)
        capacity = args.capacity or ("200x100" if args.quick else "1000x50")
        if capacity != "none":
            subscribers, rate = (float(x) for x in capacity.lower().split("x"))
            print("capacity (offered more than the target):", flush=True)
            _print(
                run_scenario(
                    stack,
                    data,
                    subscribers=int(subscribers),
                    rate=rate,
                    seconds=seconds,
                    shared=True,
                    clients=args.clients,
                )
            )
        if not args.no_slow:
            print(
                f"slow consumer: {slow_subscribers} subscribers + 1 that reads nothing", flush=True
            )
            result = run_scenario(
                stack,
                data,
                subscribers=slow_subscribers,
                rate=20,
                seconds=max(seconds, 10.0),
                shared=True,
                clients=args.clients,
                slow=True,
            )
            _print(result)
        print(
            "targets: ≥ 30,000 deliveries/s; p99 ≤ 250 ms at 1,000 × 20/s; ≤ 40 KB per idle "
            "subscriber; RSS growth ≤ 10 MB per 100,000 deliveries",
            flush=True,
        )
    finally:
        if redis is not None:
            asyncio.run(redis.stop())
        if args.keep:
            print(f"kept {var_dir}")
        else:
            shutil.rmtree(var_dir, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    main()
