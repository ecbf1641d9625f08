from __future__ import annotations

from pathlib import Path

import httpx

from app.platform.redis import EmbeddedRedis
from tests.fakes.openai_server import FakeOpenAI
from tests.support.server import RunningServer, make_settings, run_server, worker_database_url


async def test_health_reports_every_check_ok_with_a_duration(server: RunningServer) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{server.url}/health")

    body = response.json()
    assert response.status_code == 200
    assert set(body["checks"]) == {"database", "redis", "queue", "ai", "storage"}
    assert body["checks"]["ai"]["status"] == "skipped"  # the suite's server has no AI endpoint
    for name, check in body["checks"].items():
        assert check["status"] == "ok" or name == "ai"
        assert check["durationMs"] >= 0


async def test_ready_and_live_answer_200_when_all_is_well(server: RunningServer) -> None:
    async with httpx.AsyncClient() as http:
        ready = await http.get(f"{server.url}/health/ready")
        live = await http.get(f"{server.url}/health/live")

    assert (ready.status_code, live.status_code) == (200, 200)


async def test_in_production_with_redis_stopped_ready_is_503_naming_redis(tmp_path: Path) -> None:
    redis_server = EmbeddedRedis(tmp_path / "redis" / "redis.sock")
    await redis_server.start()
    settings = make_settings(
        tmp_path / "var",
        env="production",
        secret_key="a-production-secret-that-is-long-enough-123",
        database_url=worker_database_url() or f"sqlite://{tmp_path / 'prod.sqlite3'}",
        redis_url=redis_server.url,
        run_worker_in_process=False,
        health_timeout_seconds=0.5,
    )
    async with run_server(settings) as server, httpx.AsyncClient() as http:
        await redis_server.stop()

        ready = await http.get(f"{server.url}/health/ready")
        live = await http.get(f"{server.url}/health/live")
        query = await http.post(server.graphql_url, json={"query": "{ __typename }"})
        query = await http.post(server.graphql_url, json={"query": "{ __typename }"})

    assert ready.status_code == 503
    assert "redis" in ready.json()["failing"]
    assert "database" not in ready.json()["failing"]
    assert live.status_code == 200
    # Limits and budgets fail open: what needs no Redis is still served, never a 500.
    assert query.status_code == 200
    assert query.json()["data"] == {"__typename": "Query"}


async def test_health_checks_the_ai_endpoint_and_storage_without_failing_readiness(
    tmp_path: Path,
) -> None:
    async with FakeOpenAI(api_key="sk-right") as ai:
        good = make_settings(tmp_path / "good", ai_base_url=ai.base_url, ai_api_key="sk-right")
        async with run_server(good) as server, httpx.AsyncClient() as http:
            healthy = (await http.get(f"{server.url}/health")).json()
        bad = make_settings(tmp_path / "bad", ai_base_url=ai.base_url, ai_api_key="sk-wrong")
        async with run_server(bad) as server, httpx.AsyncClient() as http:
            degraded = await http.get(f"{server.url}/health")
            ready = await http.get(f"{server.url}/health/ready")

    assert healthy["status"] == "ok"
    assert healthy["checks"]["ai"]["status"] == "ok" and healthy["checks"]["ai"]["durationMs"] > 0
    assert healthy["checks"]["storage"] == {
        "status": "ok",
        "backend": "filesystem",
        "durationMs": healthy["checks"]["storage"]["durationMs"],
    }
    assert degraded.status_code == 200 and degraded.json()["status"] == "degraded"
    assert degraded.json()["checks"]["ai"]["error"] == "HTTP 401"
    assert ready.status_code == 200
