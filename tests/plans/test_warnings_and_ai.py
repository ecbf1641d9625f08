"""Warnings at 80 % and 100 % of a limit (live event and email, once per period), and AI runs."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from gql import gql

from app.models.accounts import Organization, User
from tests.ai.support import RUN_AGENT, create_agent
from tests.fakes.openai_server import FakeOpenAI, text
from tests.plans.support import WARNINGS, new_device, on_plan, usage
from tests.support.accounts import mails_to
from tests.support.messaging import (
    Member,
    eventually,
    sandbox_device,
    simulate,
    unique_phone,
    wait_for_subscribers,
)
from tests.support.server import RunningServer

DELETE_DEVICE = """
mutation($input: DeleteDeviceInput!) { deleteDevice(input: $input) { userErrors { message } } }
"""


async def _listen(session: Any, into: list[dict[str, Any]]) -> None:
    async for event in session.subscribe(gql(WARNINGS)):
        into.append(event["usageWarnings"])


async def test_members_are_warned_at_80_and_100_percent_once_per_period(
    server: RunningServer, log_lines: Any, owner: Member, admin: Member
) -> None:
    await on_plan(admin, owner, devices=5)
    email = (await User.get(id=owner.user_id)).email
    seen: list[dict[str, Any]] = []

    async with owner.api.websocket() as session:
        listener = asyncio.create_task(_listen(session, seen))
        await wait_for_subscribers(server, f"org:{owner.organization_id}:usage")
        devices = [await new_device(owner) for _ in range(5)]
        await eventually(lambda: _at_least(seen, 2))
        # Down and up again in the same period: no second warning.
        await owner.api.data(DELETE_DEVICE, {"input": {"deviceId": devices[-1]}})
        await new_device(owner)
        await asyncio.sleep(0.5)
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener

    assert seen == [
        {"limit": "devices", "threshold": 80, "used": 4.0, "allowed": 5.0},
        {"limit": "devices", "threshold": 100, "used": 5.0, "allowed": 5.0},
    ]
    name = (await Organization.get(id=owner.organization_id)).name
    mails = await eventually(lambda: _mails(log_lines, email, 2))
    assert sorted(m["subject"] for m in mails) == [
        f"{name} has reached a plan limit on Parley",
        f"{name} has used 80% of a plan limit on Parley",
    ]
    assert "Used: 5 of 5." in next(m["body"] for m in mails if "reached" in m["subject"])


async def _at_least(seen: list[dict[str, Any]], n: int) -> bool:
    return len(seen) >= n


async def _mails(log_lines: Any, email: str, n: int) -> list[dict[str, Any]] | None:
    mails = mails_to(log_lines, email)
    return mails if len(mails) >= n else None


async def test_ai_runs_beyond_the_month_are_refused(
    llm: FakeOpenAI, owner: Member, admin: Member
) -> None:
    await on_plan(admin, owner, aiRunsPerMonth=1)
    device_id = await sandbox_device(owner)
    agent_id = await create_agent(owner)
    inbound = await simulate(owner, device_id, unique_phone(), "Hello?")
    conversation_id = inbound["conversation"]["id"]
    llm.script(text("Hi!"), text("Hi again!"))
    task = {"agentId": agent_id, "conversationId": conversation_id, "task": "DRAFT_REPLY"}

    first = await owner.api.data(RUN_AGENT, {"input": task})
    second = await owner.api.data(RUN_AGENT, {"input": task})

    assert first["runAgent"]["userErrors"] == []
    [error] = second["runAgent"]["userErrors"]
    assert error["code"] == "LIMIT_EXCEEDED" and "aiRunsPerMonth" in error["message"]
    assert (await usage(owner))["aiRuns"] == 1
