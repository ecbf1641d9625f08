"""A real Parley server under uvicorn on a free loopback port, in the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import redis.asyncio as aioredis
import uvicorn
from starlette.applications import Starlette
from starlette.routing import BaseRoute

from app.cli import websocket_options
from app.http.app import create_app
from app.platform.config import Settings
from app.platform.migrations import apply_migrations


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def xdist_worker() -> int | None:
    """This pytest-xdist worker's number (``gw3`` is 3), or None without workers."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(name[2:]) if name.startswith("gw") and name[2:].isdigit() else None


# Redis databases a worker may use: its own (the session's server), and the one after it, its
# spare, for any other server a test starts and for the processes
# tests/messaging/test_multi_process.py starts (they must not meet each other's jobs).
REDIS_DATABASES_PER_WORKER = 2


def worker_database_url() -> str | None:
    """PARLEY_TEST_DATABASE_URL; under pytest-xdist, a database of this worker's beside it
    (``test`` becomes ``test_gw0``), so workers never see each other's rows."""
    url = os.environ.get("PARLEY_TEST_DATABASE_URL") or None
    worker = xdist_worker()
    if url is None or worker is None or not url.startswith(("postgres://", "postgresql://")):
        return url
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{parts.path.strip('/')}_gw{worker}"))


def worker_redis_url() -> str | None:
    """PARLEY_TEST_REDIS_URL; under pytest-xdist, this worker's database numbers start at
    the given one plus REDIS_DATABASES_PER_WORKER per worker before it (db 0 with two
    workers: gw0 has 0 and 1, gw1 has 2 and 3), so workers never see each other's keys."""
    url = os.environ.get("PARLEY_TEST_REDIS_URL") or None
    worker = xdist_worker()
    if url is None or worker is None:
        return url
    parts = urlsplit(url)
    path = parts.path.strip("/")
    number = (int(path) if path.isdigit() else 0) + worker * REDIS_DATABASES_PER_WORKER
    if number + REDIS_DATABASES_PER_WORKER > 16:
        raise RuntimeError(
            f"{url} leaves no Redis databases for worker gw{worker}: use fewer workers (-n) "
            "or a lower database number"
        )
    return urlunsplit(parts._replace(path=f"/{number}"))


def spare_redis_url() -> str | None:
    """This worker's spare Redis database, the one after worker_redis_url()'s (None on the
    embedded stack)."""
    url = worker_redis_url()
    if url is None:
        return None
    parts = urlsplit(url)
    path = parts.path.strip("/")
    number = (int(path) if path.isdigit() else 0) + 1
    if number > 15:
        raise RuntimeError(f"{url} leaves no spare Redis database: use a lower database number")
    return urlunsplit(parts._replace(path=f"/{number}"))


async def flush_redis(url: str) -> None:
    client = aioredis.from_url(url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


async def create_database(url: str, *, fresh: bool = False) -> None:
    """The PostgreSQL database ``url`` names, created if missing (dropped first if ``fresh``)."""
    parts = urlsplit(url)
    name = parts.path.strip("/")
    admin_url = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    for attempt in range(20):
        admin = await asyncpg.connect(admin_url)
        try:
            if fresh:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            elif await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                return
            await admin.execute(f'CREATE DATABASE "{name}"')
            return
        except asyncpg.DuplicateDatabaseError:
            if not fresh:
                return  # another worker made it meanwhile
            raise
        except asyncpg.ObjectInUseError:
            # Two workers creating databases at once: the template is busy for a moment.
            if attempt == 19:
                raise
            await asyncio.sleep(0.1 * (attempt + 1))
        finally:
            await admin.close()


def make_settings(var_dir: Path, **overrides: Any) -> Settings:
    """Embedded stack by default; PARLEY_TEST_DATABASE_URL / PARLEY_TEST_REDIS_URL switch
    (to this pytest-xdist worker's own database and Redis database, see above; run_server
    moves a server beside the session's to a Redis database of its own). Other ``PARLEY_``
    settings not given here come from the environment, as in production:
    ``PARLEY_FAST_EXECUTOR=false`` runs the suite on strawberry's stock executor."""
    values: dict[str, Any] = {
        "env": "test",
        "var_dir": var_dir,
        "database_url": worker_database_url(),
        "redis_url": worker_redis_url(),
        "run_worker_in_process": True,
        "log_level": "INFO",
        "log_json": True,
        # The suite's clients all come from 127.0.0.1; tests of the limits set their own.
        "request_limit_anonymous": "100000/minute",
        "request_limit_user": "100000/minute",
        "subscription_auth_check_seconds": 0.5,
        # The suite's clients play users at many addresses (`client_from`: X-Forwarded-For),
        # as behind a reverse proxy on the same host; tests of the default set their own.
        "trusted_proxies": ["127.0.0.1"],
        # argon2id as in production, at its cheapest: the suite signs up hundreds of users
        # (the defaults cost ~0.1 s of CPU a hash, which the suite spent in minutes).
        "password_time_cost": 1,
        "password_memory_cost": 8192,
        "password_parallelism": 1,
    }
    values.update(overrides)
    return Settings(**values)


async def reset_stores(settings: Settings) -> None:
    """Start from empty stores: a dropped PostgreSQL schema, a flushed Redis database."""
    url = settings.database_url
    if url and url.startswith(("postgres://", "postgresql://")):
        connection = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
        try:
            await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        finally:
            await connection.close()
    if settings.redis_url:
        client = aioredis.from_url(settings.redis_url)
        try:
            await client.flushdb()
        finally:
            await client.aclose()


@dataclass
class RunningServer:
    url: str
    settings: Settings
    app: Starlette

    @property
    def graphql_url(self) -> str:
        return f"{self.url}/graphql"

    @property
    def ws_url(self) -> str:
        return self.graphql_url.replace("http://", "ws://", 1)

    @property
    def runtime(self) -> Any:
        return self.app.state.runtime


@contextlib.asynccontextmanager
async def run_server(
    settings: Settings,
    *,
    extra_routes: Sequence[BaseRoute] = (),
    extra_query_types: Sequence[type] = (),
    migrate: bool = True,
    session_redis: bool = False,
    **server_options: Any,
) -> AsyncIterator[RunningServer]:
    """``server_options`` override uvicorn's (the WebSocket ones are `parley serve`'s).

    Only the session's server (``session_redis=True``: tests/conftest.py, and a twin of it
    that runs no worker) runs on the worker's Redis database. Any other server a test starts
    on it (as make_settings gives it) is moved to a Redis of its own: the worker's spare
    database, emptied first, or, while another server has that, an embedded Redis in its
    ``var_dir``. Two servers on one Redis database each run
    a worker that takes the other's jobs (and sends them with its own settings)."""
    async with (
        _own_redis(settings, session_redis) as settings,
        _serve(settings, extra_routes, extra_query_types, migrate, server_options) as running,
    ):
        yield running


_spare_taken = False


@contextlib.asynccontextmanager
async def spare_redis() -> AsyncIterator[str | None]:
    """This worker's spare Redis database, emptied (jobs an earlier user left queued are not
    the next one's), while the block runs; None when another block has it, or on the embedded
    stack."""
    global _spare_taken
    spare = spare_redis_url()
    if spare is None or _spare_taken:
        yield None
        return
    await flush_redis(spare)
    _spare_taken = True
    try:
        yield spare
    finally:
        _spare_taken = False


@contextlib.asynccontextmanager
async def _own_redis(settings: Settings, session_redis: bool) -> AsyncIterator[Settings]:
    if session_redis or settings.redis_url is None or settings.redis_url != worker_redis_url():
        yield settings
        return
    async with spare_redis() as spare:
        yield settings.model_copy(update={"redis_url": spare})


@contextlib.asynccontextmanager
async def _serve(
    settings: Settings,
    extra_routes: Sequence[BaseRoute],
    extra_query_types: Sequence[type],
    migrate: bool,
    server_options: dict[str, Any],
) -> AsyncIterator[RunningServer]:
    if migrate:
        await apply_migrations(settings.resolved_database_url)
    app = create_app(settings, extra_routes=extra_routes, extra_query_types=extra_query_types)
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        **{**websocket_options(settings), **server_options},
        proxy_headers=False,  # as `parley serve`: the app decides whom to believe
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the server stopped during start-up")
        await asyncio.sleep(0.02)
    try:
        yield RunningServer(url=f"http://127.0.0.1:{port}", settings=settings, app=app)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=30)
