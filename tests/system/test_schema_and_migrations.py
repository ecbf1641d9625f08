from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
