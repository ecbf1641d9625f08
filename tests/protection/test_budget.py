from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from tests.support.server import make_settings, run_server


async def _post(http: httpx.AsyncClient, url: str, query: str) -> dict:  # type: ignore[type-arg]
    response = await http.post(url, json={"query": query})
    return response.json()  # type: ignore[no-any-return]


async def test_every_response_carries_its_cost_and_the_throttle_status(server) -> None:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(timeout=60) as http:
        body = await _post(http, server.graphql_url, '{ __typename node(id: "eA") { id } }')

    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 1
    assert cost["actualQueryCost"] == 1  # a null object still cost its resolver
    assert cost["throttleStatus"]["maximumAvailable"] == server.settings.cost_budget_maximum
    assert cost["throttleStatus"]["restoreRate"] == server.settings.cost_budget_restore_rate


async def test_a_client_over_its_budget_is_throttled_then_served_after_retry_after(
    tmp_path: Path,
) -> None:
    # A budget of 600 points restored at 100/s; a query costing 200 (200 aliased objects,
    # so that what it returns costs as much as it asked for).
    settings = make_settings(
        tmp_path / "var",
        redis_url=None,
        cost_budget_maximum=600,
        cost_budget_restore_rate=100.0,
        graphql_max_aliases=200,
        graphql_max_tokens_anonymous=5000,  # 200 aliased objects are ~2,000 tokens
    )
    expensive = "{ " + " ".join(f'n{i}: node(id: "eA") {{ id }}' for i in range(200)) + " }"

    async with run_server(settings) as server, httpx.AsyncClient(timeout=60) as http:
        # A client that keeps sending: bounded, and robust to a slow machine refilling a bit.
        answers = []
        for _ in range(12):
            answers.append(await _post(http, server.graphql_url, expensive))
            if "errors" in answers[-1]:
                break
        throttled = answers[-1]["errors"][0]
        # The point: waiting as long as retryAfter says is enough.
        await asyncio.sleep(throttled["extensions"]["retryAfter"])
        after_wait = await _post(http, server.graphql_url, expensive)

    served = answers[:-1]
    assert len(served) >= 3
    assert all(a["extensions"]["cost"]["requestedQueryCost"] == 200 for a in served)
    assert all("errors" not in a for a in served)
    assert throttled["extensions"]["code"] == "RATE_LIMITED"
    assert throttled["extensions"]["retryAfter"] >= 1
    assert answers[-1]["data"] is None
    assert "errors" not in after_wait


async def test_a_query_over_the_maximum_cost_is_refused_unexecuted(server) -> None:  # type: ignore[no-untyped-def]
    # Few selections (well within the document limits), a large cost: ten pages of 100
    # contacts with their ids, 10 × (2 + 100 × 1) = 1,020 points.
    query = (
        "{ "
        + " ".join(f"c{i}: contacts(first: 100) {{ nodes {{ id }} }}" for i in range(10))
        + " }"
    )

    async with httpx.AsyncClient(timeout=60) as http:
        body = await _post(http, server.graphql_url, query)

    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert body["errors"][0]["extensions"]["cost"]["requestedQueryCost"] == 1020


async def test_rate_limit_is_queryable(server) -> None:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(timeout=60) as http:
        body = await _post(
            http,
            server.graphql_url,
            "{ rateLimit { maximumAvailable currentlyAvailable restoreRate resetAt } }",
        )

    limit = body["data"]["rateLimit"]
    assert limit["maximumAvailable"] == server.settings.cost_budget_maximum
    assert 0 <= limit["currentlyAvailable"] <= limit["maximumAvailable"]
