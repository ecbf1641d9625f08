from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.campaigns.support import APP_SECRET
from tests.fakes.graph_api import FakeGraphApi
from tests.support.server import RunningServer


@pytest.fixture
async def fake(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[FakeGraphApi]:
    """The fake Graph API, which the session's server talks to for this test."""
    async with FakeGraphApi(app_secret=APP_SECRET, status_delay=0.01) as graph:
        monkeypatch.setattr(server.settings, "whatsapp_graph_url", graph.base_url)
        yield graph
