"""A server of its own for the live tests: short keep-alive and idle times, a small send
queue, and a metrics token. uvicorn pings every keep-alive (graphql-ws clients answer with
WebSocket pongs) but cuts no peer itself during a test: the app's close codes are tested."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.live.support import METRICS_TOKEN
from tests.support.server import RunningServer, make_settings, run_server


@pytest.fixture(scope="module")
async def live_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningServer]:
    settings = make_settings(
        tmp_path_factory.mktemp("live"),
        ws_keepalive_seconds=1.0,
        ws_idle_timeout_seconds=4.0,
        ws_connection_init_timeout_seconds=1.0,
        ws_send_queue_frames=20,
        metrics_token=METRICS_TOKEN,
    )
    async with run_server(settings, ws_ping_timeout=60.0) as running:
        yield running
