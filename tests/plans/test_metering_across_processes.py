"""Must-show 2 of issue 22: after a campaign with retries and a killed worker, the plan's usage
equals what the fake Graph API counted, by category, each send once.

Real processes (one API, `parley worker`s) on one database and one Redis, as the campaign crash
tests run: the fake answers each send ``RESPONSE_DELAY`` seconds after accepting it, so the
killed worker leaves sends that reached "Meta" without their answer; some sends meet a 503 and
are tried again. The campaign's template is not synced, so we count its sends as MARKETING when
they go; the fake prices them as utility and repeats some status webhooks, so each count must
move to utility exactly once, whichever worker applies which copy (the killed one included).
The organization's plan comes from ``PARLEY_DEFAULT_PLAN_LIMITS``.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from tests.campaigns.processes import (
    import_contacts,
    owner_with_device,
    phone,
    running_cluster,
    start_template_campaign,
    until_finished,
)
from tests.fakes.graph_api import FakeGraphApi
from tests.plans.support import USAGE
from tests.support.messaging import eventually

RESPONSE_DELAY = 0.4
PER_SECOND = 40
AUDIENCE = 200
ENV = {
    "PARLEY_CAMPAIGN_LEASE_SECONDS": "4",
    "PARLEY_CAMPAIGN_RECONCILE_SECONDS": "4",
    "PARLEY_CAMPAIGN_BATCH_SIZE": "10",
    "PARLEY_CAMPAIGN_BATCH_JOBS": "4",
    "PARLEY_DEFAULT_PLAN_LIMITS": '{"marketingMessagesPerMonth": 1000, "devices": 3}',
}


def _sent_at_least(fake: FakeGraphApi, n: int) -> object:
    async def check() -> bool:
        return len(fake.sends) >= n

    return check


CATEGORIES = {
    "marketing": "marketingMessages",
    "utility": "utilityMessages",
    "authentication": "authenticationMessages",
    "service": "serviceMessages",
}


def _usage_by_category(used: dict[str, Any]) -> Counter[str]:
    return Counter({category: used[field] for category, field in CATEGORIES.items()})


BY_CATEGORY = """
query($id: ID!) { node(id: $id) { ... on Campaign {
  stats { total sent delivered read byCategory { category messages billable } }
} } }
"""


def _priced(stats: dict[str, Any]) -> Counter[str]:
    return Counter({row["category"]: row["messages"] for row in stats["byCategory"]})


async def _seen(api: Any, campaign_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The plan's usage and the campaign's stats, as the API tells them now."""
    data: dict[str, Any] = await api.data(USAGE)
    stats: dict[str, Any] = (await api.data(BY_CATEGORY, {"id": campaign_id}))["node"]["stats"]
    return data, stats


def _settled(api: Any, fake: FakeGraphApi, campaign_id: str) -> Any:
    """The usage and the campaign's stats by category once both equal Meta's count (statuses
    are applied by jobs, after the end): a message that never learned its provider id has no
    category in the stats, and its usage would stay in ours."""

    async def check() -> tuple[dict[str, Any], dict[str, Any]] | None:
        data, stats = await _seen(api, campaign_id)
        used = _usage_by_category(data["organization"]["usage"])
        meta = fake.sends_by_category()
        return (data, stats) if used == meta and _priced(stats) == meta else None

    return check


def _differs(data: dict[str, Any], stats: dict[str, Any], fake: FakeGraphApi) -> str:
    used = _usage_by_category(data["organization"]["usage"])
    return (
        f"usage {dict(used)}, campaign by category {dict(_priced(stats))}"
        f" (stats {stats}), Meta's {dict(fake.sends_by_category())}"
        f" ({len(fake.sends)} sends, {len(fake.unanswered)} unanswered)"
    )


async def test_usage_equals_the_fakes_sends_by_category_after_retries_and_a_killed_worker() -> None:
    audience = [(phone(i), f"Person {i}", f"City {i}") for i in range(AUDIENCE)]
    async with running_cluster(RESPONSE_DELAY, **ENV) as (running, fake):
        workers = await asyncio.gather(
            running.start_worker("worker-1"), running.start_worker("worker-2")
        )
        api, device_id, _ = await owner_with_device(running, fake, per_second=PER_SECOND)
        fake.pricing_categories["welcome"] = "utility"
        fake.duplicate_rate = 0.3
        await import_contacts(api, audience, "meter")
        fake.fail_next(http_status=503, times=12)  # tried again, not counted twice
        campaign_id = await start_template_campaign(api, device_id, "meter")

        await eventually(_sent_at_least(fake, int(AUDIENCE * 0.4)), within=120)
        victim = next(
            w for w in workers if "Processing Job<function: send_campaign_batch" in w.output()
        )
        running.kill(victim)
        await running.start_worker("worker-3")
        done = await until_finished(running, api, campaign_id, within=180)
        await fake.drain()
        try:
            data, stats = await eventually(_settled(api, fake, campaign_id), within=120)
        except AssertionError:
            raise AssertionError(
                _differs(*await _seen(api, campaign_id), fake) + "\n" + running.outputs()
            ) from None
        await asyncio.sleep(2)  # late copies of webhooks move nothing more
        again = await api.data(USAGE)

    used = data["organization"]["usage"]
    limits = data["organization"]["subscription"]["plan"]["limits"]
    assert done["status"] == "COMPLETED", done
    assert fake.unanswered, "the kill hit no send in flight"
    assert any(a.http_status == 503 for a in fake.attempts), "no send was retried"
    assert sorted(fake.send_counts().values()) == [1] * AUDIENCE
    assert fake.sends_by_category() == Counter(utility=AUDIENCE)
    assert len(fake.deliveries) > 3 * AUDIENCE, "no status webhook came twice"
    assert _usage_by_category(used) == Counter(utility=AUDIENCE)
    assert stats["byCategory"] == [
        {"category": "utility", "messages": AUDIENCE, "billable": AUDIENCE}
    ]
    assert again["organization"]["usage"] == used
    assert limits["marketingMessagesPerMonth"] == 1000 and limits["devices"] == 3
