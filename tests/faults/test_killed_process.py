"""An API process killed with SIGKILL while webhooks arrive: Meta delivers again what was not
acknowledged, and every message is stored once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from app.models.messaging import Message
from app.platform.ids import decode_id
from tests.fakes.graph_api import inbound_webhook, signed
from tests.support.cloud_api import APP_SECRET, cloud_device
from tests.support.faults import Faulty, faulty
from tests.support.messaging import eventually, member
from tests.support.server import free_port

__all__ = ["faulty"]  # the fixture, used by name

pytestmark = pytest.mark.faults

ROOT = Path(__file__).resolve().parents[2]


def _serve(faulty: Faulty, port: int, log: Path) -> subprocess.Popen[bytes]:
    """``parley serve`` on the test server's database and Redis (its worker runs the jobs)."""
    settings = faulty.server.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env.update(
        PYTHONPATH=str(ROOT),
        PARLEY_ENV="test",
        PARLEY_PORT=str(port),
        PARLEY_DATABASE_URL=settings.resolved_database_url,
        PARLEY_REDIS_URL=faulty.redis.url,
        PARLEY_VAR_DIR=str(log.parent),
        PARLEY_SECRET_KEY=settings.secret_key.get_secret_value(),
        PARLEY_RUN_WORKER_IN_PROCESS="false",
        PARLEY_LOG_JSON="true",
        PARLEY_WEBHOOK_LIMIT_PER_DEVICE="100000/minute",
    )
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _output(log: Path) -> str:
    return log.read_text(errors="replace")


async def _up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(1200):
            assert process.poll() is None, _output(log)
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(f"{url}/health/live")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise AssertionError(f"parley serve did not start:\n{_output(log)}")


async def test_webhooks_arriving_while_the_api_is_killed_are_each_stored_once(
    faulty: Faulty, tmp_path: Path
) -> None:
    owner = await member(faulty.server, faulty.api)
    device = await cloud_device(faulty.server, faulty.graph, owner)
    port, log = free_port(), tmp_path / "serve.log"
    url = f"http://127.0.0.1:{port}"
    api = _serve(faulty, port, log)
    try:
        await _up(url, api, log)
        wamids = [f"wamid.kill-{uuid.uuid4().hex[:12]}" for _ in range(80)]

        async def meta(n: int, wamid: str) -> int:
            """Meta: POSTs until a 200; a refused connection or a dropped one is tried again."""
            payload = inbound_webhook(device.phone_number_id, f"1650666{n:04d}", wamid=wamid)
            body, headers = signed(APP_SECRET, payload)
            async with httpx.AsyncClient(timeout=5) as http:
                for attempt in range(1, 600):
                    with contextlib.suppress(httpx.HTTPError):
                        answer = await http.post(
                            f"{url}/webhooks/whatsapp/{device.id}", content=body, headers=headers
                        )
                        if answer.status_code == 200:
                            return attempt
                    await asyncio.sleep(0.1)
            raise AssertionError(f"{wamid} was never acknowledged")

        async def arrive() -> list[int]:
            tasks = []
            for n, wamid in enumerate(wamids):
                tasks.append(asyncio.create_task(meta(n, wamid)))
                await asyncio.sleep(0.02)
            return list(await asyncio.gather(*tasks))

        arriving = asyncio.create_task(arrive())
        await asyncio.sleep(0.8)
        os.killpg(api.pid, signal.SIGKILL)
        await asyncio.to_thread(api.wait)
        api = _serve(faulty, port, log)
        await _up(url, api, log)
        attempts = await arriving

        device_pk = decode_id(device.id, "Device")

        async def all_stored() -> list[str] | None:
            stored = await Message.filter(device_id=device_pk).values_list(
                "provider_message_id", flat=True
            )
            return list(stored) if len(stored) >= len(wamids) else None

        stored = await eventually(all_stored, within=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(api.pid, signal.SIGTERM)
        await asyncio.to_thread(api.wait, 30)

    assert sorted(stored) == sorted(wamids)  # none lost, none twice
    assert max(attempts) > 1  # some arrived while no process listened
    assert "Traceback" not in _output(log)
