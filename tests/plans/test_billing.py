"""The billing seam: a billing system's signed call sets a subscription; nothing else does."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr

from app.plans.billing import SIGNATURE_HEADER, sign
from app.platform.ids import to_global_id
from tests.plans.support import USAGE, create_plan
from tests.support.messaging import Member
from tests.support.server import RunningServer

SECRET = "billing-test-secret"


async def _post(
    server: RunningServer, body: dict[str, object], at: float | None = None
) -> httpx.Response:
    raw = json.dumps(body).encode()
    headers = {SIGNATURE_HEADER: sign(SECRET, raw, int(at or time.time()))}
    async with httpx.AsyncClient() as client:
        return await client.post(f"{server.url}/billing/subscription", content=raw, headers=headers)


async def test_a_signed_call_sets_the_plan_status_and_period(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch, owner: Member, admin: Member
) -> None:
    monkeypatch.setattr(server.settings, "billing_secret", SecretStr(SECRET))
    await create_plan(admin, devices=7)
    plan_name = (await admin.api.data("query { plans { name limits { devices } } }"))["plans"]
    name = next(p["name"] for p in plan_name if p["limits"]["devices"] == 7)
    start = datetime.now(UTC) - timedelta(days=3)
    body = {
        "organizationId": to_global_id("Organization", owner.organization_id),
        "status": "PAST_DUE",
        "plan": name,
        "currentPeriodStart": start.isoformat(),
        "currentPeriodEnd": (start + timedelta(days=30)).isoformat(),
        "externalId": f"sub_{owner.organization_id}_{int(time.time())}",
    }

    answer = await _post(server, body)
    stale = await _post(server, body, at=time.time() - 600)
    later = await _post(server, {**body, "status": "ACTIVE"})

    assert answer.status_code == 200, answer.text
    assert answer.json()["plan"] == name and answer.json()["status"] == "PAST_DUE"
    assert stale.status_code == 401
    assert later.status_code == 200  # a later signed word wins
    subscription = (await owner.api.data(USAGE))["organization"]["subscription"]
    assert subscription["status"] == "ACTIVE" and subscription["plan"]["name"] == name
    assert subscription["currentPeriodStart"].startswith(start.date().isoformat())


async def test_unsigned_calls_and_unknown_plans_are_refused(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch, owner: Member
) -> None:
    body = {
        "organizationId": to_global_id("Organization", owner.organization_id),
        "status": "ACTIVE",
    }
    off = await _post(server, body)
    monkeypatch.setattr(server.settings, "billing_secret", SecretStr(SECRET))

    async with httpx.AsyncClient() as client:
        unsigned = await client.post(f"{server.url}/billing/subscription", json=body)
    unknown = await _post(server, {**body, "plan": "No such plan"})
    bad = await _post(server, {**body, "status": "PAID"})

    assert off.status_code == 404
    assert unsigned.status_code == 401
    assert unknown.status_code == 404
    assert bad.status_code == 400 and "status" in bad.json()["error"]
