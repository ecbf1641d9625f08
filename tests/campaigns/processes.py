"""Campaigns across real processes: an API and `parley worker`s on one database and one Redis.

Built on the stores and process helpers of the messaging multi-process test; everything here
goes over HTTP as a client would, except the fake Graph API, which runs in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from tests.campaigns.support import APP_SECRET, CAMPAIGN_FIELDS, CREATE, cloud_device_input
from tests.fakes.graph_api import FakeGraphApi
from tests.messaging.test_multi_process import (
    Process,
    Stores,
    _migrate,
    _parley,
    _register,
    _started,
    _stop,
    shared_stores,
)
from tests.support.client import Api
from tests.support.messaging import CONNECT_DEVICE, CREATE_DEVICE, eventually
from tests.support.server import free_port

IMPORT = """
mutation($input: ImportContactsInput!) {
  importContacts(input: $input) { contactImport { id } userErrors { field message code } }
}
"""
IMPORT_STATE = "query($id: ID!) { node(id: $id) { ... on ContactImport { status created } } }"
CAMPAIGN = f"query($id: ID!) {{ node(id: $id) {{ ... on Campaign {{ {CAMPAIGN_FIELDS} }} }} }}"
START = """
mutation($input: CampaignIdInput!) {
  startCampaign(input: $input) { campaign { id status } userErrors { field message code } }
}
"""


@dataclass
class Cluster:
    """The processes of one test and the settings they share."""

    stores: Stores
    env: dict[str, str]
    processes: list[Process]
    api_process: Process | None = None

    def api(self, token: str | None = None) -> Api:
        assert self.api_process is not None
        return self.api_process.api.as_user(token)

    async def start_api(self) -> Process:
        port = free_port()
        process = _parley(self.stores, "api", "serve", PARLEY_PORT=str(port), **self.env)
        process.url = f"http://127.0.0.1:{port}"
        self.processes.append(process)
        self.api_process = process
        await _started(process)
        return process

    async def start_worker(self, name: str) -> Process:
        process = _parley(self.stores, name, "worker", **self.env)
        self.processes.append(process)
        await eventually(lambda: _logged(process, "worker_started"), within=120, interval=0.2)
        return process

    def kill(self, process: Process) -> None:
        """SIGKILL: no shutdown code runs, leases and in-flight sends are left as they are."""
        os.killpg(process.popen.pid, signal.SIGKILL)
        process.popen.wait(timeout=10)

    def events(self, event: str) -> list[tuple[str, dict[str, Any]]]:
        """Log events named ``event`` of every process, with the process's name."""
        found: list[tuple[str, dict[str, Any]]] = []
        for process in self.processes:
            for line in process.output().splitlines():
                with contextlib.suppress(ValueError):
                    record = json.loads(line)
                    if isinstance(record, dict) and record.get("event") == event:
                        found.append((process.name, record))
        return found

    def outputs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.output()[-4000:]}" for p in self.processes)


async def _logged(process: Process, text: str) -> bool:
    assert process.popen.poll() is None, f"{process.name} exited:\n{process.output()}"
    return text in process.output()


@contextlib.contextmanager
def cluster(stores: Stores, **env: str) -> Iterator[Cluster]:
    running = Cluster(stores, env, [])
    try:
        yield running
    finally:
        _stop(running.processes)


@contextlib.asynccontextmanager
async def running_cluster(
    response_delay: float, **env: str
) -> AsyncIterator[tuple[Cluster, FakeGraphApi]]:
    """Migrated shared stores, the fake Graph API and a started API process."""
    async with (
        shared_stores() as stores,
        FakeGraphApi(app_secret=APP_SECRET, response_delay=response_delay) as fake,
    ):
        await _migrate(stores)
        with cluster(stores, PARLEY_WHATSAPP_GRAPH_URL=fake.base_url, **env) as running:
            await running.start_api()
            yield running, fake


async def owner_with_device(
    running: Cluster, fake: FakeGraphApi, *, per_second: int, api: Api | None = None
) -> tuple[Api, str, str]:
    """A new OWNER's client (or ``api``'s) and a connected CLOUD_API device on the fake:
    (api, device id, phone number id)."""
    assert running.api_process is not None
    if api is None:
        _, token, _ = await _register(running.api_process)
        api = running.api(token)
    device, phone_number_id, access_token = cloud_device_input(per_second)
    created = await api.data(CREATE_DEVICE, {"input": device})
    device_id = created["createDevice"]["device"]["id"]
    fake.register(
        phone_number_id,
        access_token,
        webhook_url=f"{running.api_process.url}/webhooks/whatsapp/{device_id}",
        throughput=per_second,
    )
    # connectDevice checks the credentials with Meta, so the fake must know them first.
    connected = await api.data(CONNECT_DEVICE, {"input": {"deviceId": device_id}})
    assert connected["connectDevice"]["device"]["status"] == "CONNECTED", connected
    return api, device_id, phone_number_id


def phone(i: int) -> str:
    return f"+1415{2_000_000 + i:07d}"


async def import_contacts(api: Api, rows: list[tuple[str, str, str]], tag: str) -> None:
    """Contacts (phone, name, city) tagged ``tag``, through importContacts."""
    csv = "phone_number,name,tags,city\n" + "".join(f"{p},{n},{tag},{c}\n" for p, n, c in rows)
    queued = await api.data(IMPORT, {"input": {"csv": csv}})
    assert queued["importContacts"]["userErrors"] == []
    import_id = queued["importContacts"]["contactImport"]["id"]

    async def done() -> dict[str, Any] | None:
        state: dict[str, Any] = (await api.data(IMPORT_STATE, {"id": import_id}))["node"]
        return state if state["status"] in ("COMPLETED", "FAILED") else None

    state = await eventually(done, within=300, interval=0.5)
    assert state == {"status": "COMPLETED", "created": len(rows)}, state


async def create_template_campaign(api: Api, device_id: str, tag: str, **extra: Any) -> str:
    template = {"name": "welcome", "language": "en_US", "parameters": ["{{name}}", "{{city}}"]}
    fields = {"name": "Spring", "deviceId": device_id, "template": template, "tags": [tag]}
    data = await api.data(CREATE, {"input": fields | extra})
    assert data["createCampaign"]["userErrors"] == []
    campaign_id: str = data["createCampaign"]["campaign"]["id"]
    return campaign_id


async def start_template_campaign(api: Api, device_id: str, tag: str) -> str:
    campaign_id = await create_template_campaign(api, device_id, tag)
    started = await api.data(START, {"input": {"campaignId": campaign_id}})
    assert started["startCampaign"]["userErrors"] == [], started
    return campaign_id


async def campaign(api: Api, campaign_id: str) -> dict[str, Any]:
    node: dict[str, Any] = (await api.data(CAMPAIGN, {"id": campaign_id}))["node"]
    return node


async def until_finished(
    running: Cluster, api: Api, campaign_id: str, within: float
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        node = await campaign(api, campaign_id)
        if node["status"] in ("COMPLETED", "FAILED", "CANCELLED"):
            return node
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still {node}\n{running.outputs()}")
        await asyncio.sleep(0.5)
