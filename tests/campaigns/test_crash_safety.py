"""Several worker processes: crash safety (Must-show 2 of issue 5) and scheduled starts.

Real processes: one API and `parley worker`s on one database and one Redis (the CI stores when
configured, else one SQLite file and one embedded Redis). The fake Graph API answers each send
only ``RESPONSE_DELAY`` seconds after accepting it, so a worker killed at any moment has sends
that reached "Meta" (counted by the fake, status webhooks on their way) but whose answer it
never saw: sent but not recorded. Those must be reconciled, never sent again.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from tests.campaigns.processes import (
    Cluster,
    campaign,
    create_template_campaign,
    import_contacts,
    owner_with_device,
    phone,
    running_cluster,
    start_template_campaign,
    until_finished,
)
from tests.fakes.graph_api import FakeGraphApi
from tests.support.client import Api
from tests.support.messaging import eventually

RESPONSE_DELAY = 0.4
PER_SECOND = 40
ENV = {
    # Short leases: a dead worker's recipients come back within seconds, and its sends that no
    # status webhook confirmed a few seconds later (the fake sends "sent" 10 ms after a send).
    "PARLEY_CAMPAIGN_LEASE_SECONDS": "4",
    "PARLEY_CAMPAIGN_RECONCILE_SECONDS": "4",
    "PARLEY_CAMPAIGN_BATCH_SIZE": "10",
    "PARLEY_CAMPAIGN_BATCH_JOBS": "4",
}


def _audience(count: int, without_city: int) -> list[tuple[str, str, str]]:
    """Contacts; the first ``without_city`` lack the template's `city` (SKIPPED)."""
    return [
        (phone(i), f"Person {i}", "" if i < without_city else f"City {i}") for i in range(count)
    ]


def _sent_at_least(fake: FakeGraphApi, n: int) -> object:
    async def check() -> bool:
        return len(fake.sends) >= n

    return check


def _assert_each_sent_once(
    fake: FakeGraphApi, audience: list[tuple[str, str, str]], running: Cluster
) -> None:
    counts = fake.send_counts()
    reached = {p.removeprefix("+") for p, _, city in audience if city}
    skipped = {p.removeprefix("+") for p, _, city in audience if not city}
    doubled = {to: n for to, n in counts.items() if n != 1}
    assert doubled == {}, f"sent more than once: {doubled}\n{running.outputs()}"
    assert set(counts) == reached, f"missing: {sorted(reached - set(counts))[:10]}"
    assert not skipped & set(counts)
    # Each got their own variables.
    for send in fake.sends:
        parameters = send.body["template"]["components"][0]["parameters"]
        i = int(send.to[-7:]) - 2_000_000
        assert [p["text"] for p in parameters] == [f"Person {i}", f"City {i}"]


async def test_a_worker_killed_at_40_percent_loses_nothing_and_doubles_nothing() -> None:
    audience = _audience(240, without_city=20)
    eligible = 220
    async with running_cluster(RESPONSE_DELAY, **ENV) as (running, fake):
        workers = await asyncio.gather(
            running.start_worker("worker-1"), running.start_worker("worker-2")
        )
        api, device_id, _ = await owner_with_device(running, fake, per_second=PER_SECOND)
        await import_contacts(api, audience, "kill")
        campaign_id = await start_template_campaign(api, device_id, "kill")

        await eventually(_sent_at_least(fake, int(eligible * 0.4)), within=120)
        # The one sending (SAQ may have handed every batch job to one of them).
        victim = next(
            w for w in workers if "Processing Job<function: send_campaign_batch" in w.output()
        )
        running.kill(victim)
        sent_at_kill = len(fake.sends)
        await running.start_worker("worker-3")
        done = await until_finished(running, api, campaign_id, within=180)

        await fake.drain()
        stats = await eventually(lambda: _settled(api, campaign_id), within=60)
        _assert_each_sent_once(fake, audience, running)

    assert done["status"] == "COMPLETED", done
    assert sent_at_kill < eligible
    # The kill did leave sends that reached "Meta" but whose answer the worker never saw.
    assert fake.unanswered, "the kill hit no send in flight"
    assert stats["skipped"] == 20
    assert stats["sent"] + stats["delivered"] + stats["read"] == eligible
    assert stats["pending"] == stats["failed"] == stats["cancelled"] == 0
    assert fake.max_sends_per_second() <= PER_SECOND


async def test_when_every_worker_of_a_campaign_dies_the_watchdog_hands_it_to_new_ones_once() -> (
    None
):
    audience = _audience(160, without_city=10)
    eligible = 150
    async with running_cluster(RESPONSE_DELAY, **ENV) as (running, fake):
        only = await running.start_worker("worker-1")
        api, device_id, _ = await owner_with_device(running, fake, per_second=PER_SECOND)
        await import_contacts(api, audience, "orphan")
        campaign_id = await start_template_campaign(api, device_id, "orphan")

        await eventually(_sent_at_least(fake, int(eligible * 0.3)), within=120)
        running.kill(only)
        # Nobody works on it now: it stays RUNNING, with nothing sent (once the requests the
        # worker wrote before it died have reached the fake).
        await asyncio.sleep(1)  # sends already under way land (nothing counts them)
        stalled_at = len(fake.sends)
        await asyncio.sleep(2)  # the point: nothing is sent during two seconds
        assert len(fake.sends) == stalled_at
        assert (await campaign(api, campaign_id))["status"] == "RUNNING"
        await asyncio.gather(running.start_worker("worker-2"), running.start_worker("worker-3"))
        done = await until_finished(running, api, campaign_id, within=180)
        rescues = running.events("campaigns.watchdog_rescued")
        _assert_each_sent_once(fake, audience, running)

    assert done["status"] == "COMPLETED", done
    assert len(rescues) == 1, rescues


async def _settled(api: Api, campaign_id: str) -> dict[str, int] | None:
    stats: dict[str, int] = (await campaign(api, campaign_id))["stats"]
    return stats if stats["pending"] == 0 else None


async def test_a_scheduled_campaign_starts_on_time_and_once_with_two_workers() -> None:
    audience = _audience(30, without_city=0)
    async with running_cluster(0.0, **ENV) as (running, fake):
        workers = await asyncio.gather(
            running.start_worker("worker-1"), running.start_worker("worker-2")
        )
        api, device_id, _ = await owner_with_device(running, fake, per_second=PER_SECOND)
        await import_contacts(api, audience, "later")
        at = datetime.now(UTC) + timedelta(seconds=4)
        campaign_id = await create_template_campaign(
            api, device_id, "later", scheduledAt=at.isoformat()
        )
        assert (await campaign(api, campaign_id))["status"] == "SCHEDULED"
        done = await until_finished(running, api, campaign_id, within=120)
        _assert_each_sent_once(fake, audience, running)
        logs = "".join(w.output() for w in workers)

    assert done["status"] == "COMPLETED", done
    started = datetime.fromisoformat(done["startedAt"])
    # SAQ moves due jobs every second; a busy machine gets a few more.
    assert at <= started < at + timedelta(seconds=10), (at, started)
    assert logs.count("Processing Job<function: start_scheduled_campaign") == 1
    assert logs.count("Processing Job<function: run_campaign") == 1
