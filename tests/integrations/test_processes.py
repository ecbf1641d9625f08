"""API keys and webhook deliveries across separate processes (issue 19, Must-show 2 and 3).

Two API processes (or one) and a worker started as `parley serve` / `parley worker`, on one
database and one Redis, as in tests/messaging/test_multi_process.py.
"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

from tests.integrations.receiver import running_receiver
from tests.integrations.support import (
    CREATE_API_KEY,
    CREATE_WEBHOOK,
    MESSAGE_EVENTS,
    REVOKE_API_KEY,
)
from tests.messaging.test_multi_process import (
    Process,
    _migrate,
    _parley,
    _register,
    _spawn,
    _started,
    _stopped_at_exit,
    shared_stores,
)
from tests.support.client import Api
from tests.support.messaging import CONNECT_DEVICE, CREATE_DEVICE, SEND, SIMULATE, unique_phone

DEVICES = "{ devices(first: 10) { nodes { id } } }"


async def _key(owner: Api, role: str) -> tuple[str, str]:
    data = await owner.data(CREATE_API_KEY, {"input": {"name": f"{role} key", "role": role}})
    assert data["createApiKey"]["userErrors"] == []
    return data["createApiKey"]["apiKey"]["id"], data["createApiKey"]["secret"]


async def _device(who: Api) -> str:
    created = await who.data(
        CREATE_DEVICE,
        {"input": {"name": "Shop", "phoneNumber": unique_phone(), "provider": "SANDBOX"}},
    )
    assert created["createDevice"]["userErrors"] == []
    device_id: str = created["createDevice"]["device"]["id"]
    await who.data(CONNECT_DEVICE, {"input": {"deviceId": device_id}})
    return device_id


def _code(result: dict[str, Any]) -> str | None:
    errors = result["errors"]
    return errors[0]["extensions"]["code"] if errors else None


async def test_api_keys_act_with_their_role_in_their_organization_until_revoked_in_any_process() -> (
    None
):
    async with shared_stores() as stores:
        await _migrate(stores)
        processes: list[Process] = []
        with _stopped_at_exit(processes):
            processes.append(_parley(stores, "worker", "worker"))
            process_a, process_b = _spawn(stores, "api-a"), _spawn(stores, "api-b")
            processes += [process_a, process_b]
            await asyncio.gather(_started(process_a), _started(process_b))
            owner, _, _ = await _register(process_a)
            other_owner, _, _ = await _register(process_a)
            other_device = await _device(other_owner)
            admin_id, admin_secret = await _key(owner, "ADMIN")
            _, viewer_secret = await _key(owner, "VIEWER")
            admin_on_b = process_b.api.as_user(admin_secret)
            viewer_on_b = process_b.api.as_user(viewer_secret)

            # An ADMIN key sends a message.
            device_id = await _device(admin_on_b)
            inbound = await admin_on_b.data(
                SIMULATE, {"input": {"deviceId": device_id, "from": unique_phone(), "text": "Hi"}}
            )
            conversation_id = inbound["simulateInboundMessage"]["message"]["conversation"]["id"]
            sent = await admin_on_b.data(
                SEND, {"input": {"conversationId": conversation_id, "text": "Hello"}}
            )
            assert sent["sendMessage"]["userErrors"] == []
            assert sent["sendMessage"]["message"]["status"] == "QUEUED"

            # A VIEWER key reads but cannot change anything, nor manage keys or webhooks.
            assert (await viewer_on_b.data(DEVICES))["devices"]["nodes"] == [{"id": device_id}]
            refused = await viewer_on_b.call(
                SEND, {"input": {"conversationId": conversation_id, "text": "Hello"}}
            )
            assert _code(refused) == "FORBIDDEN"
            refused = await viewer_on_b.call(
                CREATE_API_KEY, {"input": {"name": "more", "role": "ADMIN"}}
            )
            assert _code(refused) == "FORBIDDEN"
            refused = await viewer_on_b.call(
                CREATE_WEBHOOK,
                {"input": {"name": "x", "url": "http://127.0.0.1:9/x", "query": MESSAGE_EVENTS}},
            )
            assert _code(refused) == "FORBIDDEN"
            # An OWNER key does not exist.
            owner_key = await owner.data(
                CREATE_API_KEY, {"input": {"name": "boss", "role": "OWNER"}}
            )
            assert owner_key["createApiKey"]["userErrors"][0]["field"] == ["input", "role"]

            # Nothing of another organization is visible to the key.
            foreign = await admin_on_b.data(
                "query($id: ID!) { node(id: $id) { id } }", {"id": other_device}
            )
            assert foreign["node"] is None
            assert {"id": other_device} not in (await admin_on_b.data(DEVICES))["devices"]["nodes"]

            # The key's list shows the prefix, never the secret; the key is not a member.
            listed = await owner.data(
                "{ apiKeys(first: 10) { nodes { id prefix role lastUsedAt } } "
                "organization { members(first: 10) { nodes { role } } } }"
            )
            keys = {k["id"]: k for k in listed["apiKeys"]["nodes"]}
            assert admin_secret.startswith(keys[admin_id]["prefix"])
            assert keys[admin_id]["prefix"].startswith("prl_")
            assert keys[admin_id]["lastUsedAt"] is not None
            assert [m["role"] for m in listed["organization"]["members"]["nodes"]] == ["OWNER"]

            # Revoked on A: refused on B's very next request.
            revoked = await owner.data(REVOKE_API_KEY, {"input": {"apiKeyId": admin_id}})
            assert revoked["revokeApiKey"]["apiKey"]["revokedAt"] is not None
            assert _code(await admin_on_b.call(DEVICES)) == "UNAUTHENTICATED"
            audit = await owner.data("{ auditEvents(first: 50) { nodes { kind } } }")
            kinds = [e["kind"] for e in audit["auditEvents"]["nodes"]]
            assert {"api_key_created", "api_key_revoked", "api_key_used_after_revoke"} <= set(kinds)


async def test_a_worker_killed_mid_delivery_loses_no_event_and_the_receiver_accepts_each_once() -> (
    None
):
    events = 60
    async with shared_stores() as stores, running_receiver() as receiver:
        receiver.delay = 0.05  # slow enough that the kill lands mid-way
        await _migrate(stores)
        processes: list[Process] = []
        with _stopped_at_exit(processes):
            worker = _parley(stores, "worker", "worker")
            api_process = _spawn(stores, "api")
            processes += [worker, api_process]
            await _started(api_process)
            owner, _, _ = await _register(api_process)
            device_id = await _device(owner)
            created = await owner.data(
                CREATE_WEBHOOK,
                {"input": {"name": "CRM", "url": receiver.url, "query": MESSAGE_EVENTS}},
            )
            assert created["createWebhook"]["userErrors"] == []
            for n in range(events):
                await owner.data(
                    SIMULATE,
                    {"input": {"deviceId": device_id, "from": unique_phone(), "text": f"#{n}"}},
                )
            await _until(lambda: len(receiver.accepted) >= 10, 60, processes)
            os.killpg(worker.popen.pid, signal.SIGKILL)
            worker.popen.wait()
            killed_at = len(receiver.accepted)
            processes.append(_parley(stores, "worker-2", "worker"))
            await _until(lambda: len(receiver.accepted) >= events, 180, processes)

        assert killed_at < events
        bodies = [r.json for r in receiver.accepted.values()]
        assert len({b["id"] for b in bodies}) == events  # every event, each once
        assert sorted(b["data"]["messageEvents"]["message"]["body"] for b in bodies) == sorted(
            f"#{n}" for n in range(events)
        )
        # A retry after the kill carries the delivery id the receiver already accepted.
        assert len(receiver.requests) == events + receiver.duplicates + receiver.failed


async def _until(condition: Any, within: float, processes: list[Process]) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("\n".join(p.output()[-3000:] for p in processes))
        await asyncio.sleep(0.1)
