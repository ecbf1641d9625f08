"""Each device's webhook URL takes a bounded number of requests, refused before any work."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from app.models.messaging import WebhookEvent
from app.platform.ids import from_global_id, to_global_id
from tests.fakes.graph_api import FakeGraphApi, inbound_webhook, signed
from tests.support.client import Api
from tests.support.cloud_api import APP_SECRET, cloud_device
from tests.support.messaging import eventually, member
from tests.support.server import RunningServer, make_settings, run_server


@pytest.fixture(scope="module")
async def limited(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningServer]:
    settings = make_settings(tmp_path_factory.mktemp("var"), webhook_limit_per_device="4/minute")
    async with run_server(settings) as running:
        yield running


async def test_a_device_url_past_its_limit_is_answered_429_and_nothing_is_stored(
    limited: RunningServer,
) -> None:
    async with FakeGraphApi(app_secret=APP_SECRET) as fake:
        limited.settings.whatsapp_graph_url = fake.base_url
        owner = await member(limited, Api(limited.graphql_url))
        device = await cloud_device(limited, fake, owner, statuses=False)
    body, headers = signed(APP_SECRET, inbound_webhook(device.phone_number_id, "16505550100"))

    async with httpx.AsyncClient() as client:
        answers = [
            await client.post(device.webhook_url, content=body, headers=headers) for _ in range(5)
        ]

    assert [a.status_code for a in answers] == [200] * 4 + [429]
    assert answers[-1].headers["retry-after"] == "60"
    stored = await WebhookEvent.filter(device_id=from_global_id(device.id)[1]).count()
    assert stored == 4


async def test_the_limit_is_counted_before_the_device_is_looked_up_and_per_device(
    limited: RunningServer,
) -> None:
    nobody = f"{limited.url}/webhooks/whatsapp/{to_global_id('Device', 987_654_321)}"
    another = f"{limited.url}/webhooks/whatsapp/{to_global_id('Device', 987_654_322)}"

    async with httpx.AsyncClient() as client:
        flood = [(await client.post(nobody, content=b"{}")).status_code for _ in range(6)]
        elsewhere = (await client.post(another, content=b"{}")).status_code

    assert flood == [404] * 4 + [429] * 2
    assert elsewhere == 404


async def test_a_sender_that_hangs_up_before_its_body_arrives_is_one_log_line_not_a_500(
    limited: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with FakeGraphApi(app_secret=APP_SECRET) as fake:
        limited.settings.whatsapp_graph_url = fake.base_url
        owner = await member(limited, Api(limited.graphql_url))
        device = await cloud_device(limited, fake, owner, statuses=False)
    caplog.set_level(logging.INFO)
    url = httpx.URL(device.webhook_url)
    assert url.port is not None

    _, writer = await asyncio.open_connection(url.host, url.port)
    writer.write(
        f"POST {url.raw_path.decode()} HTTP/1.1\r\nHost: {url.host}\r\n"
        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{".encode()
    )
    await writer.drain()
    writer.close()

    async def gone() -> bool:
        return any("webhook.sender_gone" in r.getMessage() for r in caplog.records)

    await eventually(gone)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    stored = await WebhookEvent.filter(device_id=from_global_id(device.id)[1]).count()
    assert stored == 0
