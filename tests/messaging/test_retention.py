"""Retention: the daily job deletes raw webhook bodies and contact-import CSVs older than
PARLEY_RETENTION_DAYS and keeps the recent ones; an import keeps its report."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from app.messaging.jobs import PURGE_EXPIRED
from app.models.messaging import ContactImport, WebhookEvent
from app.platform import clock
from app.platform.ids import decode_id
from app.workers.registry import CRON_JOBS
from tests.fakes.graph_api import FakeGraphApi, inbound_webhook, signed
from tests.support.client import Api
from tests.support.cloud_api import APP_SECRET, CloudDevice, cloud_device, fake, post
from tests.support.messaging import Member, eventually, member, unique_phone
from tests.support.server import RunningServer

__all__ = ["fake"]  # the fixture, used by name

IMPORT = """
mutation($input: ImportContactsInput!) {
  importContacts(input: $input) { contactImport { id } userErrors { message } }
}
"""
IMPORT_STATE = """
query($id: ID!) { node(id: $id) { ... on ContactImport { status created } } }
"""


async def _webhook(device: CloudDevice) -> int:
    body, headers = signed(
        APP_SECRET, inbound_webhook(device.phone_number_id, unique_phone().removeprefix("+"))
    )
    assert await post(device.webhook_url, body, headers) == 200
    return (await WebhookEvent.filter(device_id=decode_id(device.id, "Device")).order_by("-id"))[
        0
    ].id


async def _import(owner: Member) -> int:
    data = await owner.api.data(IMPORT, {"input": {"csv": f"phone_number\n{unique_phone()}\n"}})
    import_id = data["importContacts"]["contactImport"]["id"]

    async def done() -> dict[str, Any] | None:
        node: dict[str, Any] = (await owner.api.data(IMPORT_STATE, {"id": import_id}))["node"]
        return node if node["status"] == "COMPLETED" else None

    await eventually(done)
    return decode_id(import_id, "ContactImport")


async def test_old_webhook_bodies_and_import_csvs_go_and_recent_ones_stay(
    server: RunningServer, api: Api, fake: FakeGraphApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    old_events = [await _webhook(device), await _webhook(device)]
    old_import = await _import(owner)
    await asyncio.sleep(0.05)
    split = clock.now()
    await asyncio.sleep(0.05)
    recent_event = await _webhook(device)
    recent_import = await _import(owner)
    # 30 days (the default) after `split`: the first ones are past it, the others are not.
    later = split + timedelta(days=server.settings.retention_days)
    monkeypatch.setattr(clock, "now", lambda: later)

    purged = await server.runtime.queues["default"].apply(PURGE_EXPIRED.name, timeout=60)

    # The database is shared with the session's other tests: their old rows go too.
    assert purged["webhook_events"] >= 2 and purged["contact_import_csvs"] >= 1
    assert await WebhookEvent.filter(id__in=old_events).count() == 0
    assert await WebhookEvent.filter(id=recent_event).exists()
    old, recent = await ContactImport.get(id=old_import), await ContactImport.get(id=recent_import)
    assert (old.csv_text, old.created) == ("", 1)  # the report stays
    assert recent.csv_text.startswith("phone_number")


def test_the_retention_job_runs_daily() -> None:
    [job] = [cron for cron in CRON_JOBS["default"] if cron.function.__name__ == "purge_expired"]

    assert job.cron == "17 3 * * *"
