"""The stores a benchmark runs against: a PostgreSQL database reset to empty, and a Redis
(the one given, or an embedded one for the run).

``campaign_throughput.py`` and ``webhook_delivery.py`` (and ``pipeline.py``, through
``campaign_throughput``) set up the same way; this is that part, written once.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg

from app.platform.redis import EmbeddedRedis


async def reset_database(url: str) -> None:
    """Create the PostgreSQL database of ``url`` if missing, and empty it (every table
    dropped), so the migrations start from nothing."""
    dsn = url.replace("postgres://", "postgresql://", 1)
    base, _, name = dsn.rpartition("/")
    admin = await asyncpg.connect(f"{base}/postgres")
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def redis_for_run(given: str | None, var_dir: Path) -> AsyncIterator[str]:
    """``given``, or the URL of a Redis embedded for the run (a unix socket under
    ``var_dir``), stopped when the block ends."""
    if given:
        yield given
        return
    embedded = EmbeddedRedis(var_dir / "redis.sock")
    await embedded.start()
    try:
        yield embedded.url
    finally:
        await embedded.stop()
