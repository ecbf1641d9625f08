"""Campaign throughput: a template campaign to N recipients through 1 and 2 worker processes.

    .venv/bin/python bench/campaign_throughput.py [--recipients 10000] [--workers 1,2]
        [--rates 80,1000] [--database-url URL] [--redis-url URL] [--webhooks]

Resets and migrates a PostgreSQL database (created if missing), starts an embedded Redis (or
uses ``--redis-url``), the fake Graph API on loopback (in this process, its own thread), one
API process and, for each run, that many ``parley worker`` processes. Each run creates a device
with ``messagesPerSecond`` = the rate (the fake refuses anything above it with 130429, as Meta
does), a campaign to every seeded contact, and starts it with ``startCampaign``. It prints:

- ``e2e msg/s``: recipients / (last SENT recorded − startCampaign called), end to end;
- ``lead``: startCampaign called → the first send; ``tail``: the last send → its SENT recorded;
- ``fake max/1s``: the most sends the fake accepted within any one-second window;
- ``fake avg``: sends / (last − first send the fake accepted), the steady rate;
- ``429s``: sends the fake refused for going over the rate (should be 0);
- the load average of the machine, since the figures depend on what else runs.

The fake runs in this process; garbage collection is off during a run (see ``one_run``): a
full collection stalled the fake's thread for ~100 ms, which it counted as a burst.

Status webhooks (3 per message, each a request to the API and a job) are off unless
``--webhooks``: the figure is the send path's, enqueue to SENT recorded.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tortoise import Tortoise  # noqa: E402

from app.models.campaigns import CampaignRecipient, RecipientStatus  # noqa: E402
from app.models.messaging import Contact  # noqa: E402
from app.platform.config import tortoise_config  # noqa: E402
from app.platform.ids import from_global_id  # noqa: E402
from bench.stores import redis_for_run, reset_database  # noqa: E402
from tests.campaigns.processes import (  # noqa: E402
    APP_SECRET,
    START,
    Cluster,
    create_template_campaign,
    owner_with_device,
    phone,
)
from tests.fakes.graph_api import FakeGraphApi  # noqa: E402
from tests.messaging.test_multi_process import Stores, _migrate, _stop  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/parley_campaign_bench"
DONE = (RecipientStatus.SENT, RecipientStatus.DELIVERED, RecipientStatus.READ)
TAG = "bench"


@dataclass
class Result:
    workers: int
    rate: int
    recipients: int
    seconds: float
    fake_max: int
    fake_avg: float
    refused: int
    load: tuple[float, float, float]
    # startCampaign called → the fake accepted the first send; the last send → its SENT recorded.
    lead: float
    tail: float

    @property
    def e2e(self) -> float:
        return self.recipients / self.seconds


async def seed(org_pk: int, count: int) -> None:
    rows = [
        Contact(
            organization_id=org_pk,
            phone_number=phone(i),
            name=f"Person {i}",
            tags=[TAG],
            tags_text=f",{TAG},",
            attributes={"city": f"City {i}"},
        )
        for i in range(count)
    ]
    await Contact.bulk_create(rows, batch_size=1000)


async def one_run(
    running: Cluster, fake: FakeGraphApi, args: argparse.Namespace, workers: int, rate: int
) -> Result:
    api, device_id, phone_number_id = await owner_with_device(
        running, fake, per_second=rate, api=args.api
    )
    if not args.webhooks:
        number = fake._numbers[phone_number_id]
        fake.register(phone_number_id, number.token, throughput=rate)
    started = [await running.start_worker(f"worker-{rate}-{i}") for i in range(workers)]
    # The fake stamps each send when its thread handles it. A full collection of this process's
    # heap (every send and attempt the fake keeps) stops that thread for ~100 ms: the sends
    # queued meanwhile get stamped together, and the fake refuses sends that left on time.
    # Collect between runs, not during one.
    gc.collect()
    gc.disable()
    try:
        campaign_id = await create_template_campaign(api, device_id, TAG)
        # End to end is from the enqueue, startCampaign, to the last SENT recorded.
        began, began_monotonic = time.time(), time.monotonic()  # the fake stamps monotonic
        start = await api.data(START, {"input": {"campaignId": campaign_id}})
        assert start["startCampaign"]["userErrors"] == [], start
        pk = from_global_id(campaign_id)[1]
        while True:
            done = await CampaignRecipient.filter(campaign_id=pk, status__in=DONE).count()
            if done >= args.recipients:
                break
            failed = await CampaignRecipient.filter(
                campaign_id=pk, status=RecipientStatus.FAILED
            ).count()
            if failed:
                raise SystemExit(f"{failed} recipients FAILED; see the worker logs")
            await asyncio.sleep(0.5)
        last = (
            await CampaignRecipient.filter(campaign_id=pk)
            .order_by("-sent_at")
            .first()
            .values_list("sent_at", flat=True)
        )
    finally:
        gc.enable()
        _stop(started)
        for process in started:
            running.processes.remove(process)
    assert last is not None
    sends = sorted(s.at for s in fake.sends if s.phone_number_id == phone_number_id)
    refused = sum(
        1 for a in fake.attempts if a.phone_number_id == phone_number_id and a.error_code == 130429
    )
    return Result(
        workers=workers,
        rate=rate,
        recipients=len(sends),
        seconds=last.timestamp() - began,  # type: ignore[union-attr]
        fake_max=fake.max_sends_per_second(phone_number_id),
        fake_avg=(len(sends) - 1) / (sends[-1] - sends[0]) if len(sends) > 1 else 0.0,
        refused=refused,
        load=os.getloadavg(),
        lead=sends[0] - began_monotonic,
        tail=last.timestamp() - (began + sends[-1] - began_monotonic),  # type: ignore[union-attr]
    )


def report(result: Result) -> None:
    verdict = ""
    if result.rate <= 100:
        ok = result.fake_max <= result.rate and result.fake_avg >= 0.95 * result.rate
        verdict = "  ok (max ≤ rate, avg ≥ 95 %)" if ok else "  NOT MET (max ≤ rate, avg ≥ 95 %)"
    print(
        f"workers={result.workers} rate={result.rate:>5} recipients={result.recipients}"
        f" e2e={result.e2e:8.1f} msg/s fake_max/1s={result.fake_max:>5}"
        f" fake_avg={result.fake_avg:8.1f} 429s={result.refused}"
        f" lead={result.lead:.2f}s tail={result.tail:.2f}s"
        f" load={'/'.join(f'{x:.2f}' for x in result.load)}{verdict}",
        flush=True,
    )


async def run(args: argparse.Namespace) -> None:
    var_dir = Path(tempfile.mkdtemp(prefix="parley-cb-"))
    try:
        await reset_database(args.database_url)
        async with redis_for_run(args.redis_url, var_dir) as redis_url:
            await _runs(args, var_dir, redis_url)
    finally:
        if not args.keep_logs:
            shutil.rmtree(var_dir, ignore_errors=True)


async def _runs(args: argparse.Namespace, var_dir: Path, redis_url: str) -> None:
    stores = Stores(database_url=args.database_url, redis_url=redis_url, var_dir=var_dir)
    await _migrate(stores)
    await Tortoise.init(config=tortoise_config(args.database_url))
    async with FakeGraphApi(app_secret=APP_SECRET) as fake:
        running = Cluster(stores, {"PARLEY_WHATSAPP_GRAPH_URL": fake.base_url}, [])
        try:
            await running.start_api()
            api, _, _ = await owner_with_device(running, fake, per_second=80)
            args.api = api
            organization = await api.data("{ organization { id } }")
            await seed(from_global_id(organization["organization"]["id"])[1], args.recipients)
            print(f"{args.recipients} recipients, load before: {os.getloadavg()}", flush=True)
            for rate in args.rates:
                for workers in args.workers:
                    report(await one_run(running, fake, args, workers, rate))
        finally:
            _stop(running.processes)
            if args.keep_logs:
                print(f"logs kept in {var_dir}")
    await Tortoise.close_connections()


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--workers", type=_ints, default=[1, 2], help="e.g. 1,2")
    parser.add_argument("--rates", type=_ints, default=[80, 1000], help="messagesPerSecond")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=None, help="default: an embedded Redis")
    parser.add_argument("--webhooks", action="store_true", help="status webhooks to the API")
    parser.add_argument("--keep-logs", action="store_true")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
