"""The SQL statements a request sends, for tests that show a query's statements do not grow
with its rows (DataLoaders) or that a refused query sends none."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import structlog
from tortoise import connections

_EXECUTE = (
    "execute_query",
    "execute_query_dict",
    "execute_insert",
    "execute_many",
    "execute_script",
)


@contextlib.contextmanager
def _each_statement(record: Callable[[str], None]) -> Iterator[None]:
    """Call ``record`` with every SQL statement sent through the ORM's connection meanwhile."""
    client_class = type(connections.get("default"))
    originals = {name: getattr(client_class, name) for name in _EXECUTE}

    def counting(original: Any) -> Any:
        async def execute(self: Any, sql: str, *args: Any, **kwargs: Any) -> Any:
            record(sql)
            return await original(self, sql, *args, **kwargs)

        return execute

    for name, original in originals.items():
        setattr(client_class, name, counting(original))
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(client_class, name, original)


@contextlib.contextmanager
def statements_by_request() -> Iterator[dict[str, list[str]]]:
    """The SQL each request (by its X-Request-Id) sends through the ORM's connection."""
    seen: dict[str, list[str]] = defaultdict(list)

    def record(sql: str) -> None:
        request_id = structlog.contextvars.get_contextvars().get("request_id")
        if request_id is not None:
            seen[request_id].append(sql)

    with _each_statement(record):
        yield seen


@contextlib.contextmanager
def all_statements() -> Iterator[list[str]]:
    """Every SQL statement this process sends through the ORM's connection meanwhile (its
    requests' and its in-process workers' jobs')."""
    seen: list[str] = []
    with _each_statement(seen.append):
        yield seen
