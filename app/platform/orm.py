"""Starting and stopping Tortoise ORM for a process."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

import asyncpg
from asyncpg.exceptions import InternalClientError
from tortoise import Tortoise
from tortoise.connection import get_connections

from app.platform.config import tortoise_config

_users = 0


async def acquire_orm(database_url: str) -> None:
    """Start the ORM, or share the one already started in this process (tests run several
    servers). The global fallback makes it visible to every task, uvicorn's and SAQ's too."""
    global _users
    if _users == 0:
        await Tortoise.init(config=tortoise_config(database_url), _enable_global_fallback=True)
        # One storage for every task: Tortoise keeps connections in a context variable whose
        # default dict is what tasks that never set their own see (uvicorn's request tasks);
        # make this context use that same dict, so every connection is found and closed.
        handler = get_connections()
        shared = contextvars.Context().run(handler._get_storage)
        shared.update(handler._get_storage())
        handler._storage_var.set(shared)
        _skip_pool_reset(handler.get("default"))
    _users += 1


def _skip_pool_reset(client: Any) -> None:
    """asyncpg sends a reset query (advisory locks, cursors, LISTEN, session settings) each
    time a connection goes back to its pool: a round trip after every statement. Parley
    leaves none of that state on a connection, and asyncpg still rolls back a transaction
    left open before calling a custom reset, so the query is skipped. (Set before the pool
    exists: Tortoise creates it on first use, from these keyword arguments.)"""
    if client.capabilities.dialect == "postgres" and isinstance(
        getattr(client, "extra", None), dict
    ):
        client.extra.setdefault("reset", _keep_session)
        client.extra.setdefault("connection_class", KeptConnection)


class KeptConnection(asyncpg.Connection):  # type: ignore[misc]
    """An asyncpg connection that remembers an operation left it in a state no query can
    follow. Without the reset query nothing else would notice: when PostgreSQL goes away
    (a restart), a connection can be left waiting for the end of a failed operation, and
    each next user of it fails with "another operation is in progress"."""

    _broken = False

    async def execute(self, query: str, *args: Any, **kwargs: Any) -> str:
        try:
            return str(await super().execute(query, *args, **kwargs))
        except (InternalClientError, asyncpg.InterfaceError):
            self._broken = True
            raise

    async def _execute(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super()._execute(*args, **kwargs)
        except (InternalClientError, asyncpg.InterfaceError):
            self._broken = True
            raise

    async def _executemany(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super()._executemany(*args, **kwargs)
        except (InternalClientError, asyncpg.InterfaceError):
            self._broken = True
            raise


async def _keep_session(connection: Any) -> None:
    """Nothing to reset; a broken connection is refused, and the pool closes it (it opens a
    new one for the next user)."""
    if getattr(connection, "_broken", False):
        raise asyncpg.ConnectionDoesNotExistError("connection left broken: discarded")


def orm_in_use() -> bool:
    return _users > 0


async def release_orm() -> None:
    global _users
    _users -= 1
    if _users == 0:
        await close_all_connections()


async def close_all_connections() -> None:
    # Tortoise keeps connections in a context variable whose default dict is shared by every
    # task that never set its own (uvicorn's request tasks, aerich's): close those too, or an
    # open SQLite connection's thread keeps the process from exiting.
    try:
        shared = contextvars.Context().run(get_connections()._get_storage)
    except Exception:  # no ORM context: nothing is open
        shared = {}
    await asyncio.gather(*(conn.close() for conn in shared.values()), return_exceptions=True)
    shared.clear()
    await Tortoise.close_connections()
