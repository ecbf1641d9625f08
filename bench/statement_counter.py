"""Counts the SQL statements a server process sends through asyncpg (benchmarks only)."""

from __future__ import annotations

import os
import sys
from typing import Any

from asyncpg.connection import Connection
from starlette.requests import Request
from starlette.responses import JSONResponse

_count = 0
_resets = 0
_log = bool(os.environ.get("BENCH_LOG_STATEMENTS"))
# What asyncpg's pool sends when a connection goes back to it: a round trip, not a query.
_RESET_PREFIX = "SELECT pg_advisory_unlock_all()"


def _seen(query: Any) -> None:
    global _count, _resets
    if str(query).startswith(_RESET_PREFIX):
        _resets += 1
    else:
        _count += 1
    if _log:
        print(f"SQL: {str(query)[:200]!r}", file=sys.stderr, flush=True)


def count_statements() -> None:
    """Patch asyncpg's execute paths: every statement the process sends adds one."""
    execute = Connection._execute
    execute_script = Connection.execute
    execute_many = Connection._executemany

    async def counted_execute(self: Connection, *args: Any, **kwargs: Any) -> Any:
        _seen(args[0] if args else kwargs.get("query"))
        return await execute(self, *args, **kwargs)

    async def counted_script(self: Connection, query: str, *args: Any, **kwargs: Any) -> Any:
        if not args:  # with arguments, `execute` goes through `_execute`, counted there
            _seen(query)
        return await execute_script(self, query, *args, **kwargs)

    async def counted_many(self: Connection, *args: Any, **kwargs: Any) -> Any:
        _seen(args[0] if args else kwargs.get("command"))
        return await execute_many(self, *args, **kwargs)

    Connection._execute = counted_execute  # type: ignore[method-assign]
    Connection.execute = counted_script  # type: ignore[method-assign]
    Connection._executemany = counted_many  # type: ignore[method-assign]


async def statements_route(request: Request) -> JSONResponse:
    return JSONResponse({"statements": _count, "pool_resets": _resets})
