"""Liveness and readiness: each dependency checked with a time budget."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from tortoise import connections

from app.platform.runtime import Runtime


async def _database(runtime: Runtime) -> dict[str, Any]:
    await connections.get("default").execute_query("SELECT 1")
    return {}


async def _redis(runtime: Runtime) -> dict[str, Any]:
    await runtime.redis.ping()
    return {}


async def _queue(runtime: Runtime) -> dict[str, Any]:
    queue = runtime.queues["default"]
    return {
        "queued": await queue.count("queued"),
        "active": await queue.count("active"),
    }


CHECKS: dict[str, Callable[[Runtime], Awaitable[dict[str, Any]]]] = {
    "database": _database,
    "redis": _redis,
    "queue": _queue,
}


async def _run(name: str, runtime: Runtime) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        details = await asyncio.wait_for(
            CHECKS[name](runtime), timeout=runtime.settings.health_timeout_seconds
        )
        result: dict[str, Any] = {"status": "ok", **details}
    except TimeoutError:
        result = {"status": "fail", "error": "timed out"}
    except Exception as error:
        result = {"status": "fail", "error": type(error).__name__}
    result["durationMs"] = round((time.perf_counter() - started) * 1000, 2)
    return result


async def run_checks(runtime: Runtime) -> dict[str, dict[str, Any]]:
    results = await asyncio.gather(*(_run(name, runtime) for name in CHECKS))
    return dict(zip(CHECKS, results, strict=True))


async def live(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> JSONResponse:
    checks = await run_checks(request.app.state.runtime)
    failing = [name for name, check in checks.items() if check["status"] != "ok"]
    if failing:
        return JSONResponse({"status": "fail", "failing": failing}, status_code=503)
    return JSONResponse({"status": "ok"})


async def health(request: Request) -> JSONResponse:
    checks = await run_checks(request.app.state.runtime)
    ok = all(check["status"] == "ok" for check in checks.values())
    return JSONResponse(
        {"status": "ok" if ok else "fail", "checks": checks},
        status_code=200 if ok else 503,
    )
