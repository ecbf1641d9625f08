from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from tests.support.client import Api
from tests.support.server import (
    RunningServer,
    create_database,
    make_settings,
    reset_stores,
    run_server,
    worker_database_url,
)


def pytest_configure(config: pytest.Config) -> None:
    """With PostgreSQL, the database (under pytest-xdist: this worker's own) must exist
    before any test, not only the session server, connects to it."""
    url = worker_database_url()
    if url and url.startswith(("postgres://", "postgresql://")):
        asyncio.run(create_database(url))


@pytest.fixture(scope="session")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningServer]:
    """One app for the session: tests make their own users and organizations."""
    settings = make_settings(tmp_path_factory.mktemp("var"))
    await reset_stores(settings)
    async with run_server(settings, session_redis=True) as running:
        yield running


@pytest.fixture
def api(server: RunningServer) -> Api:
    return Api(server.graphql_url)


class LogLines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]

    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def log_lines() -> Iterator[LogLines]:
    """Every log line written during the test, rendered exactly as production renders it."""
    captured = LogLines()

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            captured.lines.append(self.format(record))

    handler = _Collect()
    handler.setFormatter(
        logging.getLogger().handlers[0].formatter if logging.getLogger().handlers else None
    )
    from app.platform.logging import bound_processor, redact_processor

    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.contextvars.merge_contextvars,
                structlog.stdlib.add_log_level,
                structlog.processors.format_exc_info,
                redact_processor,
                bound_processor,
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield captured
    finally:
        root.removeHandler(handler)


@pytest.fixture
def var_dir(tmp_path: Path) -> Path:
    return tmp_path / "var"
