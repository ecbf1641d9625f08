"""Two API processes and one worker on one database and one Redis (Must-show 3 of issue 4).

With PARLEY_TEST_DATABASE_URL / PARLEY_TEST_REDIS_URL (as CI runs) the processes share a fresh
PostgreSQL database beside that one and the next Redis database; without them they share one SQLite file and one embedded Redis started
here. Everything the test does goes over HTTP and WebSocket, as a client would.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import redis.asyncio as aioredis
from gql import gql

from app.platform.ids import from_global_id
from app.platform.pubsub import redis_channel
from app.platform.redis import EmbeddedRedis
from tests.support.accounts import PASSWORD, REGISTER, client_from, unique_email
from tests.support.client import Api
from tests.support.messaging import CONNECT_DEVICE, CREATE_DEVICE, SEND, SIMULATE, unique_phone
from tests.support.server import (
    create_database,
    free_port,
    spare_redis,
    worker_database_url,
)

ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "multi-process-test-secret-key-0123456789"

MESSAGE_EVENTS = """
subscription($deviceId: ID) {
  messageEvents(deviceId: $deviceId) { kind message { id direction status } }
}
"""


@dataclass
class Stores:
    database_url: str
    redis_url: str
    var_dir: Path


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    url: str | None = None

    @property
    def api(self) -> Api:
        assert self.url is not None
        return Api(f"{self.url}/graphql")

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.asynccontextmanager
async def shared_stores() -> AsyncIterator[Stores]:
    """The CI stores when configured, else one SQLite file and one embedded Redis."""
    # A short path: a unix socket path must fit in 107 bytes.
    var_dir = Path(tempfile.mkdtemp(prefix="parley-mp-"))
    database_url = worker_database_url()
    embedded: EmbeddedRedis | None = None
    if database_url:
        # Its own database too: the session's server runs the campaign watchdog, which would
        # take these processes' campaigns for orphans (their liveness is in another Redis).
        database_url = await _fresh_database(database_url, "cluster")
    try:
        # Its own Redis database: the session's server runs an in-process worker on the
        # configured one, and it must not take the jobs meant for the worker process.
        async with spare_redis() as spare:
            if spare is not None:
                redis_url = spare
            else:
                embedded = EmbeddedRedis(var_dir / "redis.sock")
                await embedded.start()
                redis_url = embedded.url
            yield Stores(
                database_url=database_url or f"sqlite://{var_dir / 'parley.sqlite3'}",
                redis_url=redis_url,
                var_dir=var_dir,
            )
    finally:
        if embedded is not None:
            await embedded.stop()
        shutil.rmtree(var_dir, ignore_errors=True)


async def _fresh_database(url: str, suffix: str) -> str:
    """An empty PostgreSQL database beside the one ``url`` names; its url."""
    parts = urlsplit(url)
    fresh = urlunsplit(parts._replace(path=f"/{parts.path.strip('/')}_{suffix}"))
    await create_database(fresh, fresh=True)
    return fresh


def _environment(stores: Stores, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PARLEY_") or key.startswith("PARLEY_TEST_")
    }
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        PARLEY_ENV="test",
        PARLEY_DATABASE_URL=stores.database_url,
        PARLEY_REDIS_URL=stores.redis_url,
        PARLEY_VAR_DIR=str(stores.var_dir),
        PARLEY_SECRET_KEY=SECRET_KEY,
        PARLEY_RUN_WORKER_IN_PROCESS="false",
        PARLEY_SANDBOX_STATUS_DELAY_SECONDS="0.2",
        PARLEY_LOG_JSON="true",
        # Clients play users at many addresses (X-Forwarded-For), as behind a local proxy.
        PARLEY_TRUSTED_PROXIES="127.0.0.1",
    )
    env.update(extra)
    return env


def _parley(stores: Stores, name: str, *args: str, **env: str) -> Process:
    log = stores.var_dir / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(
            [sys.executable, "-m", "app.cli", *args],
            cwd=ROOT,
            env=_environment(stores, **env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: stopped with everything it started
        )
    return Process(name, popen, log)


def _spawn(stores: Stores, name: str) -> Process:
    port = free_port()
    process = _parley(stores, name, "serve", PARLEY_PORT=str(port))
    process.url = f"http://127.0.0.1:{port}"
    return process


async def _started(process: Process) -> None:
    # Generous: importing the app takes seconds, far more on a busy CI machine.
    deadline = asyncio.get_running_loop().time() + 120
    async with httpx.AsyncClient() as client:
        while asyncio.get_running_loop().time() < deadline:
            assert process.popen.poll() is None, f"{process.name} exited:\n{process.output()}"
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{process.url}/health/live")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise AssertionError(f"{process.name} did not start:\n{process.output()}")


def _stop(processes: list[Process]) -> None:
    for process in processes:
        if process.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.popen.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.popen.pid, signal.SIGKILL)
            process.popen.wait()


@contextlib.contextmanager
def _stopped_at_exit(processes: list[Process]) -> Iterator[list[Process]]:
    try:
        yield processes
    finally:
        _stop(processes)


async def _migrate(stores: Stores) -> None:
    migrate = _parley(stores, "migrate", "migrate")
    code = await asyncio.to_thread(migrate.popen.wait, 120)
    assert code == 0, migrate.output()


async def _register(process: Process) -> tuple[Api, str, int]:
    """A new OWNER signed up on ``process``: their client, token and organization pk."""
    client = client_from(process.api)
    data = await client.data(
        REGISTER,
        {
            "input": {
                "email": unique_email("multi"),
                "password": PASSWORD,
                "name": "Owner",
                "organizationName": f"Org {uuid.uuid4().hex[:6]}",
            }
        },
    )
    assert data["register"]["userErrors"] == []
    token: str = data["register"]["accessToken"]
    signed_in = client.as_user(token)
    organization = await signed_in.data("{ organization { id } }")
    return signed_in, token, from_global_id(organization["organization"]["id"])[1]


async def _wait_for_redis_subscriber(redis_url: str, channel: str, within: float = 10) -> None:
    client = aioredis.from_url(redis_url)
    try:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            [(_, count)] = await client.pubsub_numsub(redis_channel(client, channel))
            if count:
                return
            assert asyncio.get_running_loop().time() < deadline, f"nobody listens on {channel}"
            await asyncio.sleep(0.05)
    finally:
        await client.aclose()


async def _collect(session: Any, device_id: str, into: list[dict[str, Any]], n: int) -> None:
    async for event in session.subscribe(
        gql(MESSAGE_EVENTS), variable_values={"deviceId": device_id}
    ):
        into.append(event["messageEvents"])
        if len(into) >= n:
            return


async def test_a_subscriber_on_one_api_process_sees_events_caused_on_another_and_by_the_worker() -> (
    None
):
    async with shared_stores() as stores:
        await _migrate(stores)
        processes: list[Process] = []
        with _stopped_at_exit(processes):
            processes.append(_parley(stores, "worker", "worker"))
            process_a, process_b = _spawn(stores, "api-a"), _spawn(stores, "api-b")
            processes += [process_a, process_b]
            await asyncio.gather(_started(process_a), _started(process_b))
            on_b, token, org_pk = await _register(process_b)
            on_a = process_a.api.as_user(token)
            created = await on_b.data(
                CREATE_DEVICE,
                {"input": {"name": "Shop", "phoneNumber": unique_phone(), "provider": "SANDBOX"}},
            )
            device_id = created["createDevice"]["device"]["id"]
            await on_b.data(CONNECT_DEVICE, {"input": {"deviceId": device_id}})
            seen: list[dict[str, Any]] = []

            async with on_a.websocket() as session:
                listening = asyncio.create_task(_collect(session, device_id, seen, 5))
                await _wait_for_redis_subscriber(stores.redis_url, f"org:{org_pk}:messages")
                inbound = await on_b.data(
                    SIMULATE,
                    {"input": {"deviceId": device_id, "from": unique_phone(), "text": "Hi"}},
                )
                conversation_id = inbound["simulateInboundMessage"]["message"]["conversation"]["id"]
                reply = await on_b.data(
                    SEND, {"input": {"conversationId": conversation_id, "text": "Hello!"}}
                )
                try:
                    await asyncio.wait_for(listening, timeout=30)
                except TimeoutError:
                    raise AssertionError(
                        f"saw only {seen}\n" + "\n".join(p.output()[-3000:] for p in processes)
                    ) from None

            worker_log = processes[0].output()

        received_id = inbound["simulateInboundMessage"]["message"]["id"]
        sent_id = reply["sendMessage"]["message"]["id"]
        assert [(e["kind"], e["message"]["id"], e["message"]["status"]) for e in seen] == [
            ("CREATED", received_id, "RECEIVED"),
            ("CREATED", sent_id, "QUEUED"),
            ("STATUS_CHANGED", sent_id, "SENT"),
            ("STATUS_CHANGED", sent_id, "DELIVERED"),
            ("STATUS_CHANGED", sent_id, "READ"),
        ]
        # Only the worker process runs jobs: the API processes were told not to.
        assert "send_message" in worker_log
        assert all(p.popen.poll() is not None for p in processes)
