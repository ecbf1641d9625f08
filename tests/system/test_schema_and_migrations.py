from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from app.platform.migrations import sqlite_foreign_keys_inline

ROOT = Path(__file__).resolve().parents[2]


def _parley(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_committed_schema_matches_the_code() -> None:
    result = _parley("check-schema")

    assert result.returncode == 0, result.stderr


def test_breaking_changes_are_found_against_an_older_schema() -> None:
    from graphql import build_schema, find_breaking_changes

    from app.schema import schema

    older = build_schema(
        "interface Node { id: ID! }\ntype Query { node(id: ID!): Node\n gone: String }"
    )

    breaking = find_breaking_changes(older, build_schema(schema.as_str()))

    assert [c.description for c in breaking] == ["Field Query.gone was removed."]


def test_check_schema_against_head_passes_when_nothing_broke() -> None:
    result = _parley("check-schema", "--against", "HEAD")

    assert result.returncode == 0, result.stderr


def test_models_and_migrations_agree() -> None:
    # In a subprocess: describing the models initialises the ORM, which must not meet the
    # suite's own (possibly PostgreSQL) initialisation in this process.
    result = _parley("makemigrations", "--check")

    assert result.returncode == 0, result.stdout + result.stderr


_MIGRATE_BEFORE = """
import asyncio, shutil, sys
from pathlib import Path

from aerich import Command

from app.platform.config import tortoise_config
from app.platform.migrations import APP, MIGRATIONS_DIR
from app.platform.orm import close_all_connections

async def main(url: str, older: Path, before: int) -> None:
    (older / APP).mkdir(parents=True)
    for path in sorted((MIGRATIONS_DIR / APP).glob("*.py")):
        if int(path.name.split("_")[0]) < before:
            shutil.copy(path, older / APP / path.name)
    command = Command(tortoise_config(url), app=APP, location=str(older))
    try:
        await command.init()
        await command.upgrade(run_in_transaction=True)
    finally:
        await close_all_connections()

asyncio.run(main(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])))
"""


def test_an_organization_from_before_business_hours_survives_the_upgrade(tmp_path: Path) -> None:
    # Migration 9 adds a NOT NULL column to a table that has rows in every real database.
    database = tmp_path / "parley.sqlite3"
    url = f"sqlite://{database}"
    older = subprocess.run(
        [sys.executable, "-c", _MIGRATE_BEFORE, url, str(tmp_path / "older"), "9"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert older.returncode == 0, older.stderr[-3000:]
    with sqlite3.connect(database) as db:
        db.execute(
            "INSERT INTO organizations (name, created_at, updated_at) "
            "VALUES ('Existing', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
        )

    upgraded = subprocess.run(
        [sys.executable, "-m", "app.cli", "migrate"],
        cwd=ROOT,
        env={**os.environ, "PARLEY_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert upgraded.returncode == 0, upgraded.stdout[-2000:] + upgraded.stderr[-3000:]
    with sqlite3.connect(database) as db:
        hours = db.execute("SELECT business_hours FROM organizations").fetchall()
    assert hours == [("{}",)]


def test_a_foreign_key_added_to_a_table_runs_on_sqlite() -> None:
    generated = (
        'ALTER TABLE "messages" ADD "media_id" BIGINT;\n'
        'ALTER TABLE "messages" ADD CONSTRAINT "fk_messages_media_fi_90ba28eb" FOREIGN KEY '
        '("media_id") REFERENCES "media_files" ("id") ON DELETE SET NULL;'
    )
    sql = sqlite_foreign_keys_inline(generated)
    assert "CONSTRAINT" not in sql
    database = sqlite3.connect(":memory:")
    database.executescript(
        'CREATE TABLE "media_files" ("id" INTEGER PRIMARY KEY);'
        'CREATE TABLE "messages" ("id" INTEGER PRIMARY KEY);' + sql
    )
    [foreign_key] = database.execute('PRAGMA foreign_key_list("messages")').fetchall()
    assert foreign_key[2:5] == ("media_files", "media_id", "id")
    assert foreign_key[6] == "SET NULL"
