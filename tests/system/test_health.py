from __future__ import annotations

from pathlib import Path

import httpx

from app.platform.redis import EmbeddedRedis
from tests.support.server import RunningServer, make_settings, run_server, worker_database_url


async def test_health_reports_every_check_ok_with_a_duration(server: RunningServer) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{server.url}/health")

    body = response.json()
    assert response.status_code == 200
    assert set(body["checks"]) == {"database", "redis", "queue"}
    for check in body["checks"].values():
        assert check["status"] == "ok"
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
