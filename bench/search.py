"""Message search benchmark: latency of ``app.inbox.search.search_messages`` over 1,000,000
messages of one organization on PostgreSQL.

    .venv/bin/python bench/search.py [--database-url URL] [--messages N] [--queries N] [--keep]

Resets the database (unless ``--keep`` finds it seeded), migrates it, seeds one organization
with 10,000 conversations and ``--messages`` messages whose words follow a Zipf law over a
30,000-word vocabulary (as chat text does: a few words everywhere, most words rare), loaded
with COPY (the search trigger fills ``search_vector``; the GIN index is built afterwards).
Then runs, one after the other, the first page (20 hits) of searches of each kind, through
the one search function the GraphQL field calls, and prints p50 / p95 / p99 / max in ms:

- ``rare``: one word of rank 2,000-30,000 (a name, an order number);
- ``medium``: one word of rank 200-2,000;
- ``common``: one word of rank 20-200 (matches 0.2-2 % of the messages);
- ``two words``: two medium words (both required);
- ``typing``: a medium word and the start of another (the last word as a prefix).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/h_bench_search"
CONVERSATIONS = 10_000
VOCABULARY = 30_000
SYLLABLES = [c + v for c in "bcdfghklmnprstvz" for v in "aeiou"]
TARGET_P95_MS = 50.0


def _dsn(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


def vocabulary(chooser: random.Random) -> list[str]:
    words: set[str] = set()
    while len(words) < VOCABULARY:
        words.add("".join(chooser.choices(SYLLABLES, k=chooser.randint(2, 4))))
    ordered = sorted(words)
    chooser.shuffle(ordered)
    return ordered  # rank 0 is the most frequent


def bodies(words: list[str], count: int, chooser: random.Random) -> Iterator[str]:
    weights = [1 / (rank + 1) ** 1.07 for rank in range(len(words))]
    cumulative = list(_accumulate(weights))
    for _ in range(count):
        yield " ".join(chooser.choices(words, cum_weights=cumulative, k=chooser.randint(4, 18)))


def _accumulate(values: list[float]) -> Iterator[float]:
    total = 0.0
    for value in values:
        total += value
        yield total


async def reset(url: str) -> None:
    dsn = _dsn(url)
    name = dsn.rsplit("/", 1)[1]
    admin = await asyncpg.connect(dsn.rsplit("/", 1)[0] + "/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def seeded(url: str) -> int | None:
    """The bench organization's id when the database holds it already."""
    try:
        connection = await asyncpg.connect(_dsn(url))
    except asyncpg.InvalidCatalogNameError:
        return None
    try:
        return await connection.fetchval("SELECT id FROM organizations WHERE name = 'Search bench'")
    except asyncpg.UndefinedTableError:
        return None
    finally:
        await connection.close()


async def seed(url: str, words: list[str], messages: int, chooser: random.Random) -> int:
    connection = await asyncpg.connect(_dsn(url))
    try:
        org_id = await connection.fetchval(
            "INSERT INTO organizations (created_at, updated_at, name, business_hours) "
            "VALUES (now(), now(), 'Search bench', '{}') RETURNING id"
        )
        device_id = await connection.fetchval(
            "INSERT INTO devices (created_at, updated_at, name, phone_number, provider, "
            "status, messages_per_second, verify_token, organization_id) VALUES (now(), "
            "now(), 'Support', '+16505550000', 'SANDBOX', 'CONNECTED', 80, '', $1) "
            "RETURNING id",
            org_id,
        )
        await connection.execute(
            "INSERT INTO contacts (created_at, updated_at, phone_number, name, tags, "
            "tags_text, attributes, organization_id) "
            "SELECT now(), now(), '+1415' || lpad(g::text, 7, '0'), 'Customer ' || g, "
            "'[]', '', '{}', $1 FROM generate_series(1, $2) AS g",
            org_id,
            CONVERSATIONS,
        )
        await connection.execute(
            "INSERT INTO conversations (created_at, updated_at, status, unread_count, "
            "ai_enabled, contact_id, device_id, organization_id) "
            "SELECT now(), now(), 'OPEN', 0, false, c.id, $2, $1 FROM contacts AS c "
            "WHERE c.organization_id = $1 ORDER BY c.id",
            org_id,
            device_id,
        )
        conversation_ids = [
            r["id"]
            for r in await connection.fetch(
                "SELECT id FROM conversations WHERE organization_id = $1", org_id
            )
        ]
        await connection.execute('DROP INDEX IF EXISTS "idx_messages_search_vector"')
        start = datetime.now(UTC) - timedelta(days=365)
        step = timedelta(days=365) / messages

        def records() -> Iterator[tuple[object, ...]]:
            for n, body in enumerate(bodies(words, messages, chooser)):
                at = start + step * n
                inbound = n % 2 == 0
                yield (
                    at,
                    at,
                    "INBOUND" if inbound else "OUTBOUND",
                    "TEXT",
                    body,
                    "{}",
                    "RECEIVED" if inbound else "READ",
                    conversation_ids[n % len(conversation_ids)],
                    device_id,
                    org_id,
                )

        await connection.copy_records_to_table(
            "messages",
            records=records(),
            columns=[
                "created_at",
                "updated_at",
                "direction",
                "type",
                "body",
                "payload",
                "status",
                "conversation_id",
                "device_id",
                "organization_id",
            ],
        )
        await connection.execute(
            'CREATE INDEX "idx_messages_search_vector" ON "messages" USING GIN ("search_vector")'
        )
        await connection.execute("VACUUM ANALYZE messages")
        return int(org_id)
    finally:
        await connection.close()


def queries(words: list[str], per_kind: int, chooser: random.Random) -> dict[str, list[str]]:
    def pick(low: int, high: int) -> str:
        return words[chooser.randrange(low, high)]

    return {
        "rare": [pick(2_000, VOCABULARY) for _ in range(per_kind)],
        "medium": [pick(200, 2_000) for _ in range(per_kind)],
        "common": [pick(20, 200) for _ in range(per_kind)],
        "two words": [f"{pick(200, 2_000)} {pick(200, 2_000)}" for _ in range(per_kind)],
        "typing": [f"{pick(200, 2_000)} {pick(200, 2_000)[:4]}" for _ in range(per_kind)],
    }


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def measure(url: str, org_id: int, kinds: dict[str, list[str]]) -> dict[str, list[float]]:
    from tortoise import Tortoise

    from app.inbox.search import search_messages
    from app.platform.config import tortoise_config

    await Tortoise.init(config=tortoise_config(url))
    try:
        for query in kinds["medium"][:5]:  # warm the pool and the plan cache
            await search_messages(org_id, query, 21, None)
        timings: dict[str, list[float]] = {}
        for kind, texts in kinds.items():
            timings[kind] = []
            for text in texts:
                started = time.perf_counter()
                await search_messages(org_id, text, 21, None)
                timings[kind].append((time.perf_counter() - started) * 1000)
        return timings
    finally:
        await Tortoise.close_connections()


async def run(args: argparse.Namespace) -> None:
    from app.platform.migrations import apply_migrations

    chooser = random.Random(1)
    words = vocabulary(chooser)
    org_id = await seeded(args.database_url) if args.keep else None
    if org_id is None:
        started = time.perf_counter()
        await reset(args.database_url)
        await apply_migrations(args.database_url)
        org_id = await seed(args.database_url, words, args.messages, chooser)
        print(f"seeded {args.messages:,} messages in {time.perf_counter() - started:.0f} s")
    timings = await measure(
        args.database_url, org_id, queries(words, args.queries, random.Random(2))
    )
    print(f"{'searches':<12}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    everything: list[float] = []
    for kind, values in timings.items():
        everything += values
        print(
            f"{kind:<12}{len(values):>6}{statistics.median(values):>10.1f}"
            f"{_percentile(values, 0.95):>10.1f}{_percentile(values, 0.99):>10.1f}"
            f"{max(values):>10.1f}"
        )
    p95 = _percentile(everything, 0.95)
    print(
        f"{'all':<12}{len(everything):>6}{statistics.median(everything):>10.1f}{p95:>10.1f}"
        f"{_percentile(everything, 0.99):>10.1f}{max(everything):>10.1f}"
    )
    print(f"target p95 <= {TARGET_P95_MS:.0f} ms: {'met' if p95 <= TARGET_P95_MS else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=100, help="searches of each kind")
    parser.add_argument("--keep", action="store_true", help="reuse a seeded database")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
