"""structlog set-up: JSON lines in production, a readable console in development.

Every line logged while a request is handled carries its request id (bound through
``structlog.contextvars``). The redaction processor runs last before rendering (then only
the size bound), so no processor or caller can put a password, token or secret into a line,
nor a megabyte of someone's input.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

from app.platform.outage_logs import quiet_store_outages, store_outage_processor

_SENSITIVE_KEY = re.compile(
    r"pass(word)?|secret|token|authorization|otp|recovery|api[_-]?key|cookie|credential",
    re.IGNORECASE,
)
# Values that look like secrets wherever they appear in a string: bearer tokens, JWTs and
# URL credentials (`redis://:pw@host`, `postgres://user:pw@host`).
_SENSITIVE_VALUE = re.compile(
    r"(?P<bearer>Bearer\s+)[A-Za-z0-9._~+/=-]+"
    r"|(?P<jwt>eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)"
    r"|(?P<url>://[^/\s:@]*:)[^@\s/]+@"
)
REDACTED = "[redacted]"


def _redact_string(value: str) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group("bearer"):
            return match.group("bearer") + REDACTED
        if match.group("url"):
            return match.group("url") + REDACTED + "@"
        return REDACTED

    return _SENSITIVE_VALUE.sub(replace, value)


def redact(value: Any, key: str | None = None) -> Any:
    if key is not None and _SENSITIVE_KEY.search(key) and value not in (None, "", False, True):
        return REDACTED
    if isinstance(value, str):
        return _redact_string(value)
    if isinstance(value, Mapping):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value


def redact_processor(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key in ("event", "exception"):
            event_dict[key] = redact(event_dict[key])
        else:
            event_dict[key] = redact(event_dict[key], key)
    return event_dict


class _CronJobsAtDebug(logging.Filter):
    """SAQ logs enqueuing, scheduling, processing and finishing every job at INFO. The campaign
    watchdog is a cron job every 5 seconds: those 4 lines a tick would be most of a quiet
    log, so a cron job's are kept for DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or logging.getLogger("saq").isEnabledFor(logging.DEBUG):
            return True
        return not any(_names_cron_jobs(arg) for arg in record.args or ())


def _names_cron_jobs(arg: object) -> bool:
    # "Job<function: …, key: cron:campaign_watchdog, …>", or the ids of scheduled jobs.
    if isinstance(arg, str):
        return "key: cron:" in arg
    if isinstance(arg, list):
        return bool(arg) and all(":cron:" in str(job_id) for job_id in arg)
    return False


# A log line carries what happened, not what was sent: a value, a traceback line and a list
# are cut to these sizes, so an oversized input cannot make an oversized line.
MAX_VALUE = 2_000
MAX_TRACEBACK_LINE = 1_000
MAX_TRACEBACK = 20_000
MAX_ITEMS = 50


def clip(value: str, limit: int = MAX_VALUE) -> str:
    if len(value) <= limit:
        return value
    return f"{value[:limit]}… [{len(value) - limit} more characters]"


def _clip_traceback(text: str) -> str:
    text = "\n".join(clip(line, MAX_TRACEBACK_LINE) for line in text.split("\n"))
    if len(text) <= MAX_TRACEBACK:
        return text
    # The innermost frames and the error itself are at the end.
    head, tail = MAX_TRACEBACK // 4, MAX_TRACEBACK * 3 // 4
    return f"{text[:head]}\n… [{len(text) - head - tail} characters] …\n{text[-tail:]}"


def bound(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return clip(value)
    if depth >= 6 and isinstance(value, (Mapping, list, tuple)):
        return clip(repr(value))
    if isinstance(value, Mapping):
        items = list(value.items())
        bounded = {clip(str(k), 200): bound(v, depth + 1) for k, v in items[:MAX_ITEMS]}
        if len(items) > MAX_ITEMS:
            bounded["…"] = f"{len(items) - MAX_ITEMS} more keys"
        return bounded
    if isinstance(value, (list, tuple)):
        bounded_list = [bound(v, depth + 1) for v in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            bounded_list.append(f"… {len(value) - MAX_ITEMS} more items")
        return bounded_list
    return value


def bound_processor(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Cut every value to size; after redaction, so that no secret is cut past recognition."""
    for key in list(event_dict):
        value = event_dict[key]
        if key == "exception" and isinstance(value, str):
            event_dict[key] = _clip_traceback(value)
        else:
            event_dict[key] = bound(value)
    return event_dict


def configure_logging(*, json_lines: bool, level: str = "INFO") -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # Secrets out first, then every value cut to size (so no secret is cut past recognition).
    tail: list[Any] = [
        store_outage_processor,  # a store outage is one line, not a traceback storm
        structlog.processors.format_exc_info,
        redact_processor,
        bound_processor,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json_lines
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )

    structlog.configure(
        processors=[
            *shared,
            *tail,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            # Lines from the standard library (uvicorn, tortoise, saq) get the same treatment.
            foreign_pre_chain=[*shared, *tail],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    # Replace our own handler on reconfiguration; leave handlers others attached (pytest's).
    root.handlers[:] = [h for h in root.handlers if not getattr(h, "_parley", False)]
    handler._parley = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    quiet_store_outages("saq", "asyncpg")  # asyncpg: its pool refilling while PostgreSQL is away
    root.setLevel(level.upper())
    # uvicorn's own access log is replaced by ours (one line per request, with its ids).
    logging.getLogger("uvicorn.access").disabled = True
    saq = logging.getLogger("saq")
    saq.filters[:] = [f for f in saq.filters if not isinstance(f, _CronJobsAtDebug)]
    saq.addFilter(_CronJobsAtDebug())
    # The AI frameworks log every prompt, answer and tool argument at INFO: customer data.
    for noisy in (
        "tortoise",
        "aiosqlite",
        "asyncio",
        "httpx",
        "httpcore",
        "autogen_core",
        "autogen_agentchat",
        "semantic_kernel",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
