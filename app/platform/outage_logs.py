"""One log line, not a traceback, for each thing a Redis outage interrupts.

SAQ logs every failure of its upkeep loops and of a job with ``logger.exception``, and so do our
own job steps: while Redis restarts, each of them wrote a 60-line traceback that says only
"connection refused". For errors that are Redis being away, the line stays and the traceback
goes (``redis_unavailable: <error>`` instead); any other error keeps its traceback.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

_AWAY = (RedisConnectionError, RedisTimeoutError, ConnectionRefusedError)


def redis_away(error: BaseException | None) -> BaseException | None:
    """The Redis-is-away error in ``error``'s chain, if that is what it is."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, _AWAY):
            return error
        error = error.__cause__ or error.__context__
        seen += 1
    return None


class RedisOutageFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and (away := redis_away(record.exc_info[1])) is not None:
            record.msg = f"{record.getMessage()}: Redis unavailable ({type(away).__name__})"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


_FILTER = RedisOutageFilter()


def quiet_redis_outages(*loggers: str) -> None:
    """Install the filter on ``loggers`` (SAQ's by default); idempotent."""
    for name in loggers or ("saq",):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def redis_outage_processor(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog: before ``format_exc_info``, the same for our lines and foreign ones."""
    exc_info = event_dict.get("exc_info")
    if not exc_info:
        return event_dict
    error = exc_info[1] if isinstance(exc_info, tuple) else exc_info
    if exc_info is True:
        error = sys.exc_info()[1]
    if isinstance(error, BaseException) and (away := redis_away(error)) is not None:
        event_dict.pop("exc_info")
        event_dict["redis_unavailable"] = type(away).__name__
    return event_dict
