from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from pydantic import SecretStr

from tests.fakes.openai_server import FakeOpenAI
from tests.support.server import RunningServer


@pytest.fixture(scope="session")
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def llm(server: RunningServer, fake_openai: FakeOpenAI) -> Iterator[FakeOpenAI]:
    """The session's server pointed at the fake endpoint for one test, with a short debounce."""
    settings = server.settings
    saved = {
        name: getattr(settings, name)
        for name in (
            "ai_base_url",
            "ai_api_key",
            "ai_model",
            "ai_debounce_seconds",
            "ai_timeout_seconds",
            "ai_max_retries",
        )
    }
    settings.ai_base_url = fake_openai.base_url
    settings.ai_api_key = SecretStr(fake_openai.api_key)
    settings.ai_model = "llama3.1:8b"
    settings.ai_debounce_seconds = 2.5
    settings.ai_max_retries = 2
    fake_openai.script()
    try:
        yield fake_openai
    finally:
        for name, value in saved.items():
            setattr(settings, name, value)
