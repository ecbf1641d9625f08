"""Parameterized SQL written by hand, sent through Tortoise's connection in its dialect.

Hot paths (the inbox loaders, the campaign send path) write some statements themselves: for
lists of a few hundred ids, composing a statement through a queryset and pypika costs more CPU
than running it. ``Binder`` keeps such SQL parameterized on PostgreSQL and SQLite alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any, TypeVar

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

S = TypeVar("S", bound=Enum)  # a model's status


class Binder:
    """Placeholders in the connection's style (``$n`` for PostgreSQL, ``?`` for SQLite),
    collecting the parameters in the order the placeholders appear (SQLite's are positional)."""

    def __init__(self, connection: BaseDBAsyncClient) -> None:
        self.postgres = connection.capabilities.dialect == "postgres"
        self.params: list[Any] = []

    def __call__(self, value: Any, cast: str | None = None) -> str:
        """A placeholder for ``value``; on PostgreSQL cast to ``cast`` where the statement
        alone does not tell its type (a SELECT list, an array)."""
        self.params.append(value)
        if not self.postgres:
            return "?"
        return f"${len(self.params)}::{cast}" if cast else f"${len(self.params)}"

    def ids(self, values: Sequence[int]) -> str:
        """``= ANY($n)`` for one array parameter, or ``IN (?, ...)``: a membership test."""
        return self.one_of(values, "bigint")

    def one_of(self, values: Sequence[Any], cast: str) -> str:
        """A membership test in ``values`` of PostgreSQL type ``cast``: one array parameter
        on PostgreSQL, so the statement's text is the same however many values."""
        if self.postgres:
            return f"= ANY({self(list(values), f'{cast}[]')})"
        self.params.extend(values)
        return f"IN ({', '.join(['?'] * len(values))})"

    def table(
        self, name: str, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]
    ) -> str:
        """A common table expression ``name(column, ...)`` holding ``rows`` (one or more), the
        columns given as (name, PostgreSQL type): a batch's values to join an UPDATE with or
        to INSERT from, however many rows, instead of a CASE or a statement per row.

        PostgreSQL gets one array per column through ``unnest``, so the statement's text is
        the same for any number of rows and asyncpg reuses its prepared statement; SQLite
        gets a ``VALUES`` list."""
        names = ", ".join(column for column, _ in columns)
        if self.postgres:
            arrays = ", ".join(
                self(list(values), f"{kind}[]")
                for (_, kind), values in zip(columns, zip(*rows, strict=True), strict=True)
            )
            return f"{name}({names}) AS (SELECT * FROM unnest({arrays}))"
        row = f"({', '.join(['?'] * len(columns))})"
        for values in rows:
            self.params.extend(values)
        return f"{name}({names}) AS (VALUES {', '.join([row] * len(rows))})"

    def update_from(
        self,
        table: str,
        columns: Sequence[tuple[str, str]],
        rows: Sequence[Sequence[Any]],
        *,
        constants: Mapping[str, tuple[Any, str]] | None = None,
    ) -> str:
        """One ``UPDATE`` of ``table`` for a batch of rows, each different: ``rows`` hold the
        key (the first of ``columns``) then the new value of each other column, the columns
        given as (name, PostgreSQL type) and named as in the table; ``constants`` set a column
        to one value for them all, as (value, type). A ``jsonb`` column is sent as text."""
        (key, _), *changed = columns
        sent = [(name, "text" if kind == "jsonb" else kind) for name, kind in columns]
        batch = self.table("batch", sent, rows)
        sets = [
            f"{name} = batch.{name}::jsonb"
            if kind == "jsonb" and self.postgres
            else f"{name} = batch.{name}"
            for name, kind in changed
        ]
        sets += [
            f"{name} = {self(value, kind)}" for name, (value, kind) in (constants or {}).items()
        ]
        return (
            f"WITH {batch} UPDATE {table} SET {', '.join(sets)}"
            f" FROM batch WHERE {table}.{key} = batch.{key}"
        )


async def move_status(
    model: type[Model],
    ids: Sequence[int],
    status: S,
    may_replace: Mapping[S, Sequence[S]],
    *,
    returning: str,
    constants: Mapping[str, tuple[Any, str]] | None = None,
) -> list[dict[str, Any]]:
    """Move the rows ``ids`` of ``model`` whose status ``status`` may replace (per
    ``may_replace``) to it, and set each of ``constants`` (as (value, type)), in one statement;
    returns the ``returning`` columns of those that moved."""
    if not ids:
        return []
    connection = connections.get("default")
    bind = Binder(connection)
    sets = [f"status = {bind(status.value)}"]
    sets += [f"{name} = {bind(value, kind)}" for name, (value, kind) in (constants or {}).items()]
    allowed = [s.value for s in may_replace[status]]
    sql = (
        f"UPDATE {model._meta.db_table} SET {', '.join(sets)}"
        f" WHERE id {bind.ids(ids)} AND status {bind.one_of(allowed, 'text')}"
        f" RETURNING {returning}"
    )
    rows: list[dict[str, Any]] = await connection.execute_query_dict(sql, bind.params)
    return rows


def columns(model: type[Model], alias: str | None = None) -> str:
    """The model's columns for a hand-written SELECT, quoted (and prefixed by ``alias``)."""
    # Read once Tortoise is initialized: foreign key columns are only known from then on.
    prefix = f"{alias}." if alias else ""
    return ", ".join(f'{prefix}"{column}"' for column in model._meta.fields_db_projection.values())
