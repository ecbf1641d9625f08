"""One log line, not a traceback, for each thing a store outage interrupts.

SAQ logs every failure of its upkeep loops and of a job with ``logger.exception``, and so do our
own job steps: while Redis or PostgreSQL restarts, each of them wrote a 60-line traceback that
says only "connection refused". For errors that are a store being away, the line stays and the
traceback goes (``redis_unavailable: <error>`` or ``database_unavailable: <error>`` instead);
any other error keeps its traceback.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from types import TracebackType
from typing import Any, Literal

import asyncpg
from asyncpg.exceptions import InternalClientError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from tortoise.exceptions import DBConnectionError

from app.platform.failures import causes

Store = Literal["redis", "database"]

_REDIS_AWAY = (RedisConnectionError, RedisTimeoutError)
# PostgreSQL ended the session (a restart: 57P01 admin shutdown, 57P02 crash), is starting or
# stopping (57P03), the connection broke (08xxx), or asyncpg found its connection closed.
_DATABASE_AWAY = (
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.ConnectionDoesNotExistError,
    DBConnectionError,
)
# A pooled connection the outage left closed, or half-way through an operation that failed
# (the pool discards it: app.platform.orm.KeptConnection).
_BROKEN_CONNECTION = ("connection is closed", "another operation")
# Refused or cut at the socket: whose socket it was is told by the code that made it.
_SOCKET = (ConnectionRefusedError, ConnectionResetError, BrokenPipeError)
_DATABASE_MODULES = ("asyncpg", "tortoise")


def _from_database_driver(tb: TracebackType | None) -> bool:
    while tb is not None:
        if str(tb.tb_frame.f_globals.get("__name__", "")).startswith(_DATABASE_MODULES):
            return True
        tb = tb.tb_next
    return False


def store_away(error: BaseException | None) -> tuple[Store, BaseException] | None:
    """Which store is away, and the error that says so, if that is what ``error`` is."""
    for link in causes(error):
        if isinstance(link, _DATABASE_AWAY):
            return "database", link
        if isinstance(link, (asyncpg.InterfaceError, InternalClientError)) and any(
            says in str(link) for says in _BROKEN_CONNECTION
        ):
            return "database", link
        if isinstance(link, _REDIS_AWAY):
            return "redis", link
        if isinstance(link, _SOCKET):
            return ("database" if _from_database_driver(link.__traceback__) else "redis"), link
    return None


def redis_away(error: BaseException | None) -> BaseException | None:
    """The Redis-is-away error in ``error``'s chain, if that is what it is."""
    away = store_away(error)
    return away[1] if away is not None and away[0] == "redis" else None


def database_away(error: BaseException | None) -> BaseException | None:
    """The PostgreSQL-is-away error in ``error``'s chain, if that is what it is."""
    away = store_away(error)
    return away[1] if away is not None and away[0] == "database" else None


_SAYS = {"redis": "Redis unavailable", "database": "database unavailable"}


def _short(arg: Any) -> Any:
    """A SAQ job as its short form: the full one carries the previous try's traceback."""
    info = getattr(arg, "info", None)
    if callable(info) and type(arg).__module__.startswith("saq"):
        return info(False)
    return arg


class StoreOutageFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and (away := store_away(record.exc_info[1])) is not None:
            store, error = away
            if isinstance(record.args, tuple):
                record.args = tuple(_short(a) for a in record.args)
            record.msg = f"{record.getMessage()}: {_SAYS[store]} ({type(error).__name__})"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


_FILTER = StoreOutageFilter()


def quiet_store_outages(*loggers: str) -> None:
    """Install the filter on ``loggers`` (SAQ's by default); idempotent."""
    for name in loggers or ("saq",):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def store_outage_processor(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog: before ``format_exc_info``, the same for our lines and foreign ones."""
    exc_info = event_dict.get("exc_info")
    if not exc_info:
        return event_dict
    error = exc_info[1] if isinstance(exc_info, tuple) else exc_info
    if exc_info is True:
        error = sys.exc_info()[1]
    if isinstance(error, BaseException) and (away := store_away(error)) is not None:
        store, cause = away
        event_dict.pop("exc_info")
        event_dict[f"{store}_unavailable"] = type(cause).__name__
    return event_dict
