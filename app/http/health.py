"""Liveness, readiness and the detailed health: each dependency checked with a time budget.

Readiness (``/health/ready``) checks only what makes this process useless without it: the
database, Redis and the job queue. ``/health`` also checks what only some features need, the AI
endpoint and object storage, and reports them without failing: ``"degraded"`` (HTTP 200) when
only those fail, ``"fail"`` (503) when a readiness check does.
"""

from __future__ import annotations

import asyncio
import io
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse
from tortoise import connections

from app.ai.config import is_configured, model_config
from app.media.storage import StorageError, storage_for
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


class CheckFailed(Exception):
    """A check's answer that says what is wrong (its message is shown as the error)."""


async def _ai_endpoint(runtime: Runtime) -> dict[str, Any]:
    """The OpenAI-compatible endpoint answers its model list with our key."""
    settings = runtime.settings
    if not is_configured(settings):
        return {"status": "skipped", "reason": "no AI endpoint configured"}
    config = model_config(settings)
    base_url = (config.base_url or "https://api.openai.com/v1").rstrip("/")
    async with httpx.AsyncClient(timeout=settings.health_timeout_seconds) as client:
        answer = await client.get(
            f"{base_url}/models", headers={"Authorization": f"Bearer {config.api_key}"}
        )
    if answer.status_code != 200:
        raise CheckFailed(f"HTTP {answer.status_code}")
    return {"model": config.model}


async def check_storage(runtime: Runtime) -> dict[str, Any]:
    """The media store (PARLEY_STORAGE_URL: a folder or S3) takes a small object, has it, and
    lets it go again."""
    storage = storage_for(runtime.settings)
    key = f".health/{secrets.token_hex(8)}"
    await storage.put(key, io.BytesIO(b"ok"), "text/plain")
    try:
        if not await storage.exists(key):
            raise StorageError("an object just written is not there")
    finally:
        await storage.delete(key)
    return {"backend": "s3" if storage.signs_urls else "filesystem"}


Check = Callable[[Runtime], Awaitable[dict[str, Any]]]

# What makes the process useless: readiness fails on these.
CHECKS: dict[str, Check] = {
    "database": _database,
    "redis": _redis,
    "queue": _queue,
}
# What some features need: /health reports them, readiness ignores them.
DETAIL_CHECKS: dict[str, Check] = {
    "ai": _ai_endpoint,
    "storage": check_storage,
}


async def _run(check: Check, runtime: Runtime) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        details = await asyncio.wait_for(
            check(runtime), timeout=runtime.settings.health_timeout_seconds
        )
        result: dict[str, Any] = {"status": "ok", **details}
    except TimeoutError:
        result = {"status": "fail", "error": "timed out"}
    except CheckFailed as error:
        result = {"status": "fail", "error": str(error)}
    except Exception as error:
        result = {"status": "fail", "error": type(error).__name__}
    result["durationMs"] = round((time.perf_counter() - started) * 1000, 2)
    return result


async def run_checks(
    runtime: Runtime, checks: dict[str, Check] = CHECKS
) -> dict[str, dict[str, Any]]:
    results = await asyncio.gather(*(_run(check, runtime) for check in checks.values()))
    return dict(zip(checks, results, strict=True))


async def live(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> JSONResponse:
    checks = await run_checks(request.app.state.runtime)
    failing = [name for name, check in checks.items() if check["status"] != "ok"]
    if failing:
        return JSONResponse({"status": "fail", "failing": failing}, status_code=503)
    return JSONResponse({"status": "ok"})


async def health(request: Request) -> JSONResponse:
    runtime = request.app.state.runtime
    essential, detail = await asyncio.gather(
        run_checks(runtime), run_checks(runtime, DETAIL_CHECKS)
    )
    ok = all(check["status"] == "ok" for check in essential.values())
    degraded = any(check["status"] == "fail" for check in detail.values())
    status = "fail" if not ok else "degraded" if degraded else "ok"
    return JSONResponse(
        {"status": status, "checks": {**essential, **detail}},
        status_code=200 if ok else 503,
    )
