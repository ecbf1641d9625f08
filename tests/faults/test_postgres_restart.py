"""PostgreSQL restarted in the middle of a campaign: nothing lost, nothing twice, the API and the
jobs carry on, and the logs say what happened in one line each.

The machine's PostgreSQL is shared, so the test runs Parley on a cluster of its own
(tests/support/postgres_process.py) and restarts that one: ``pg_ctl stop -m fast`` (every
session is ended, as a restart or a failover does), a pause, ``pg_ctl start``.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest

from app.models.accounts import Role
from app.models.campaigns import CampaignRecipient
from app.models.messaging import Message
from app.platform.ids import decode_id, to_global_id
from tests.campaigns.support import CREATE, act, campaign_of, contacts
from tests.fakes.graph_api import inbound_webhook, signed
from tests.support.cloud_api import APP_SECRET, cloud_device, post, status_of
from tests.support.faults import Faulty, faulty_postgres
from tests.support.messaging import Member, eventually, member

__all__ = ["faulty_postgres"]  # the fixture, used by name

pytestmark = pytest.mark.faults

SEND_REPLY = """
mutation($input: SendMessageInput!) {
  sendMessage(input: $input) { message { id status } userErrors { code } }
}
"""
RECIPIENTS = 300
PER_SECOND = 40  # the campaign takes ~7.5 s; PostgreSQL goes away after ~1.5 s of it


async def test_a_campaign_survives_a_postgres_restart_and_sends_each_recipient_once(
    faulty_postgres: Faulty,
) -> None:
    faulty = faulty_postgres
    assert faulty.postgres is not None
    owner = await member(faulty.server, faulty.api, Role.ADMIN)
    device = await cloud_device(faulty.server, faulty.graph, owner, per_second=PER_SECOND)
    people = await contacts(owner, RECIPIENTS, tag="pg-restart")
    created = await owner.api.data(
        CREATE,
        {
            "input": {
                "name": "PostgreSQL restart",
                "deviceId": device.id,
                "template": {"name": "welcome", "language": "en_US", "parameters": []},
                "tags": ["pg-restart"],
            }
        },
    )
    campaign_id = created["createCampaign"]["campaign"]["id"]

    await act(owner, "startCampaign", campaign_id)
    await eventually(lambda: _sent_at_least(faulty, 60), within=30)
    logged_before = len(faulty.lines_written)
    await faulty.postgres.restart(down_seconds=2.0)
    restarted_at = time.monotonic()
    sent_while_away = len(faulty.graph.sends)

    # The API answers again once PostgreSQL is back (a client asks again after a 503).
    await eventually(lambda: _answers(faulty), within=20, interval=0.2)
    answering_after = time.monotonic() - restarted_at
    try:
        done = await eventually(lambda: _completed(owner, campaign_id), within=120, interval=0.5)
    except AssertionError as error:
        raise AssertionError(f"not completed: {await _state(faulty, campaign_id)}") from error

    counts = faulty.graph.send_counts()
    assert set(counts) == {p.phone_number.removeprefix("+") for p in people}  # none lost
    assert set(counts.values()) == {1}  # nobody twice
    assert len(faulty.graph.sends) > sent_while_away  # the campaign went on after the restart
    stats = done["stats"]
    assert stats["sent"] + stats["delivered"] + stats["read"] == RECIPIENTS
    assert stats["failed"] == 0
    assert answering_after < 20
    # Jobs go on: an inbound webhook is processed (behind the campaign's 900 status webhooks),
    # and a reply goes out by its send job.
    wamid = f"wamid.after-restart-{uuid.uuid4().hex[:12]}"
    body, headers = signed(
        APP_SECRET,
        inbound_webhook(device.phone_number_id, "16505550777", text="Hi there", wamid=wamid),
    )
    assert await post(device.webhook_url, body, headers) == 200
    inbound = await eventually(lambda: Message.get_or_none(provider_message_id=wamid), within=60)
    conversation_id = to_global_id("Conversation", inbound.conversation_id)
    sent = await owner.api.data(
        SEND_REPLY, {"input": {"conversationId": conversation_id, "text": "Back"}}
    )
    await status_of(owner, sent["sendMessage"]["message"]["id"], "READ", within=30)

    assert faulty.tracebacks() == []
    # What went wrong while PostgreSQL was away is said in one line each, and says that.
    troubles = [
        line
        for line in faulty.lines_written[logged_before:]
        if json.loads(line)["level"] in ("warning", "error")
    ]
    assert any("campaigns.database_unavailable" in line for line in troubles)
    assert any("campaigns.database_back" in line for line in faulty.lines_written)
    unexplained = [
        line
        for line in troubles
        if "database_unavailable" not in line and "database unavailable" not in line
    ]
    assert unexplained == []
    assert all("\n" not in json.loads(line)["event"] for line in troubles)


async def _answers(faulty: Faulty) -> bool:
    async with httpx.AsyncClient(timeout=5) as http:
        try:
            answer = await http.get(f"{faulty.server.url}/health/ready")
        except httpx.HTTPError:
            return False
    return answer.status_code == 200


async def _completed(owner: Member, campaign_id: str) -> dict[str, Any] | None:
    try:  # as a client: a 503 while PostgreSQL comes back is asked again
        campaign = await campaign_of(owner, campaign_id)
    except AssertionError:
        return None
    return campaign if campaign["status"] == "COMPLETED" else None


async def _sent_at_least(faulty: Faulty, n: int) -> bool:
    return len(faulty.graph.sends) >= n


async def _state(faulty: Faulty, campaign_id: str) -> dict[str, Any]:
    """Where the campaign stands, for a failure's message."""
    rows = await CampaignRecipient.filter(campaign_id=decode_id(campaign_id, "Campaign")).values(
        "status", "lease_owner", "lease_expires_at", "attempts"
    )
    stuck = []
    for task in asyncio.all_tasks():
        where = list(_awaiting(task.get_coro()))
        if any(
            name.startswith(("send_campaign_batch", "send_prepared", "_dispatch")) for name in where
        ):
            stuck.append(" > ".join(where))
    return {
        "stuck": stuck,
        "sends": len(faulty.graph.sends),
        "statuses": Counter(str(r["status"]) for r in rows),
        "unfinished": [r for r in rows if str(r["status"]) not in ("RecipientStatus.SENT", "SENT")][
            :5
        ],
    }


def _awaiting(coro: Any) -> Any:
    """A suspended coroutine's chain of awaits, outermost first (function:line)."""
    for _ in range(40):
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is None:
            return
        yield f"{frame.f_code.co_name}:{frame.f_lineno}"
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
