"""Deleting a device while other work locks its rows in the other order (PostgreSQL)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from app.models.messaging import Device, Message
from app.platform.ids import decode_id
from tests.support.client import Api
from tests.support.messaging import eventually, member, sandbox_device, simulate
from tests.support.server import RunningServer

DELETE_DEVICE = """
mutation($input: DeleteDeviceInput!) {
  deleteDevice(input: $input) { deletedDeviceId userErrors { field code } }
}
"""


async def _someone_waits_on_a_lock(connection: asyncpg.Connection) -> bool:
    waiting = await connection.fetchval(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        " AND wait_event_type = 'Lock'"
    )
    return bool(waiting)


async def test_a_deletion_that_loses_a_deadlock_is_run_again(
    server: RunningServer, api: Api
) -> None:
    url = server.settings.resolved_database_url
    if not url.startswith(("postgres://", "postgresql://")):
        pytest.skip("SQLite has one writer at a time: nothing to deadlock with")
    owner = await member(server, api)
    device_id = await sandbox_device(owner)
    message = await simulate(owner, device_id, "16505550142", "Hello")
    device_pk = decode_id(device_id, "Device")

    other = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        # Another writer holds the device's message, as a status being applied does...
        transaction = other.transaction()
        await transaction.start()
        await other.execute(
            "SELECT id FROM messages WHERE id = $1 FOR UPDATE", decode_id(message["id"], "Message")
        )
        deletion = asyncio.create_task(
            owner.api.call(DELETE_DEVICE, {"input": {"deviceId": device_id}})
        )
        # ...so the deletion's cascade waits for it, holding the device...
        await eventually(lambda: _someone_waits_on_a_lock(other), within=10)
        # ...and then that writer wants the device too: a deadlock, which PostgreSQL settles
        # by failing the deletion, the first to wait.
        await other.execute("SELECT id FROM devices WHERE id = $1 FOR KEY SHARE", device_pk)
        await transaction.commit()
        result = await asyncio.wait_for(deletion, 30)
    finally:
        await other.close()

    assert result["errors"] == [], result["errors"]
    assert result["data"]["deleteDevice"] == {"deletedDeviceId": device_id, "userErrors": []}
    assert not await Device.filter(id=device_pk).exists()
    assert not await Message.filter(device_id=device_pk).exists()
