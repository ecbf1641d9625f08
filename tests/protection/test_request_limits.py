"""Request-level limits on /graphql: per ip when anonymous, per user with a token."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from app.platform.security import issue_access_token
from tests.support.server import make_settings, run_server

QUERY = {"query": "{ __typename }"}


async def test_an_anonymous_client_over_its_limit_gets_429_with_retry_after_then_is_served(
    tmp_path: Path,
) -> None:
    settings = make_settings(
        tmp_path / "var", redis_url=None, request_limit_anonymous="3/2 seconds"
    )

    async with run_server(settings) as server, httpx.AsyncClient(timeout=60) as http:
        allowed = [await http.post(server.graphql_url, json=QUERY) for _ in range(3)]
        refused = await http.post(server.graphql_url, json=QUERY)
        # The point: waiting as long as Retry-After says is enough.
        await asyncio.sleep(int(refused.headers["retry-after"]))
        after_wait = await http.post(server.graphql_url, json=QUERY)

    assert [r.status_code for r in allowed] == [200, 200, 200]
    assert refused.status_code == 429
    retry_after = int(refused.headers["retry-after"])
    assert 1 <= retry_after <= 2
    error = refused.json()["errors"][0]
    assert error["extensions"] == {"code": "RATE_LIMITED", "retryAfter": retry_after}
    assert after_wait.status_code == 200
    assert after_wait.json()["data"] == {"__typename": "Query"}


async def test_a_signed_in_user_is_limited_per_user_across_ips_not_per_ip(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path / "var",
        redis_url=None,
        request_limit_anonymous="2/minute",
        request_limit_user="2/minute",
    )
    token, _ = issue_access_token(settings, user_id=4242, organization_id=None)
    as_user = {"Authorization": f"Bearer {token}"}

    async with run_server(settings) as server, httpx.AsyncClient(timeout=60) as http:

        async def post(ip: str, headers: dict[str, str] | None = None) -> int:
            response = await http.post(
                server.graphql_url, json=QUERY, headers={"X-Forwarded-For": ip, **(headers or {})}
            )
            return response.status_code

        user_from_two_ips = [await post("10.9.0.1", as_user), await post("10.9.0.2", as_user)]
        user_third = await post("10.9.0.3", as_user)
        anonymous_from_the_same_ip = await post("10.9.0.1")
        bad_token_counts_against_its_ip = [
            await post("10.9.0.1", {"Authorization": "Bearer forged"}),
            await post("10.9.0.1", {"Authorization": "Bearer forged"}),
        ]

    assert user_from_two_ips == [200, 200]
    assert user_third == 429
    assert anonymous_from_the_same_ip == 200
    assert bad_token_counts_against_its_ip == [200, 429]


async def test_other_routes_are_not_counted(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "var", redis_url=None, request_limit_anonymous="1/minute")

    async with run_server(settings) as server, httpx.AsyncClient(timeout=60) as http:
        health = [(await http.get(f"{server.url}/health/live")).status_code for _ in range(3)]
        graphql = (await http.post(server.graphql_url, json=QUERY)).status_code

    assert health == [200, 200, 200]
    assert graphql == 200
