"""Parameterized SQL written by hand, sent through Tortoise's connection in its dialect.

Hot paths (the inbox loaders, the campaign send path) write some statements themselves: for
lists of a few hundred ids, composing a statement through a queryset and pypika costs more CPU
than running it. ``Binder`` keeps such SQL parameterized on PostgreSQL and SQLite alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient


class Binder:
    """Placeholders in the connection's style (``$n`` for PostgreSQL, ``?`` for SQLite),
    collecting the parameters in the order the placeholders appear (SQLite's are positional)."""

    def __init__(self, connection: BaseDBAsyncClient) -> None:
        self.postgres = connection.capabilities.dialect == "postgres"
        self.params: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.params.append(value)
        return f"${len(self.params)}" if self.postgres else "?"

    def ids(self, values: Sequence[int]) -> str:
        """``= ANY($n)`` for one array parameter, or ``IN (?, ...)``: a membership test."""
        if self.postgres:
            return f"= ANY({self(list(values))}::bigint[])"
        return f"IN ({', '.join(self(value) for value in values)})"
