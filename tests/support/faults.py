"""A Parley server on a Redis (and, for ``faulty_postgres``, a PostgreSQL) the test can
restart, for the fault tests (``-m faults``).

The ORM is one per process and is started by the first server of a test process, so these
tests run in a pytest process of their own (``make test-faults``): beside the session's server
its campaign watchdog would share their database and rescue their campaigns on another Redis.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from app.platform.orm import orm_in_use
from tests.fakes.graph_api import FakeGraphApi
from tests.support.client import Api
from tests.support.cloud_api import APP_SECRET
from tests.support.postgres_process import PostgresProcess, postgres_bin
from tests.support.redis_process import RedisProcess
from tests.support.server import (
    RunningServer,
    create_database,
    make_settings,
    run_server,
    worker_database_url,
)


@dataclass
class Faulty:
    server: RunningServer
    redis: RedisProcess
    graph: FakeGraphApi
    logs: list[logging.LogRecord] = field(default_factory=list)
    lines_written: list[str] = field(default_factory=list)
    # The private PostgreSQL cluster the server runs on (``faulty_postgres`` only).
    postgres: PostgresProcess | None = None

    @property
    def api(self) -> Api:
        return Api(self.server.graphql_url)

    def lines(self, event: str) -> list[logging.LogRecord]:
        return [r for r in self.logs if event in str(r.msg)]

    def tracebacks(self) -> list[str]:
        """Lines, as production writes them, that carry a traceback."""
        return [line for line in self.lines_written if "Traceback" in line]


async def fresh_database(suffix: str) -> str | None:
    """A new, empty PostgreSQL database beside the configured one (None on SQLite)."""
    url = worker_database_url()
    if url is None:
        return None
    parts = urlsplit(url)
    fresh = urlunsplit(parts._replace(path=f"/{parts.path.strip('/')}_{suffix}"))
    await create_database(fresh, fresh=True)
    return fresh


@pytest.fixture
async def faulty(tmp_path: Path) -> AsyncIterator[Faulty]:
    """On the configured PostgreSQL (a fresh database of its own) or SQLite."""
    async with _faulty_stack(tmp_path, await fresh_database("faults")) as stack:
        yield stack


@pytest.fixture
async def faulty_postgres(tmp_path: Path) -> AsyncIterator[Faulty]:
    """On a PostgreSQL cluster of the test's own, which it may stop and start."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server binaries (initdb) on this machine")
    postgres = PostgresProcess(bin_dir)
    try:
        await postgres.init()
        await postgres.start()
        database_url = await postgres.create_database("parley")
        async with _faulty_stack(tmp_path, database_url, postgres=postgres) as stack:
            yield stack
    finally:
        await postgres.destroy()


@contextlib.asynccontextmanager
async def _faulty_stack(
    tmp_path: Path, database_url: str | None, *, postgres: PostgresProcess | None = None
) -> AsyncIterator[Faulty]:
    if orm_in_use():
        pytest.skip("fault tests run in a pytest process of their own: make test-faults")
    redis = RedisProcess(tmp_path / "redis")
    await redis.start()
    collected: list[logging.LogRecord] = []
    written: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            collected.append(record)
            # Rendered by the app's own handler's formatter: what production would write.
            ours = [h for h in logging.getLogger().handlers if getattr(h, "_parley", False)]
            if ours and ours[0].formatter is not None:
                written.append(ours[0].formatter.format(record))

    handler = _Collect(level=logging.INFO)
    logging.getLogger().addHandler(handler)
    try:
        async with FakeGraphApi(
            app_secret=APP_SECRET, status_delay=0.01, redeliver_seconds=60
        ) as graph:
            settings = make_settings(
                tmp_path / "var",
                database_url=database_url,
                redis_url=redis.url,
                whatsapp_graph_url=graph.base_url,
                webhook_limit_per_device="100000/minute",
                # `parley serve` (test_killed_process) refuses the public development key.
                secret_key="faults-test-secret-key-0123456789abcdef",
                **_fast_recovery(),
            )
            async with run_server(settings) as server:
                yield Faulty(server, redis, graph, collected, written, postgres)
    finally:
        logging.getLogger().removeHandler(handler)
        await redis.stop()


def _fast_recovery() -> dict[str, Any]:
    return {"send_reconcile_seconds": 3}
