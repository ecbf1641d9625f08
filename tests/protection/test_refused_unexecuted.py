"""A query over the cost maximum is refused before anything runs: not one SQL statement of
its own reaches the database (the must-show of issue 6, through HTTP against a real server)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.support.client import Api
from tests.support.messaging import member
from tests.support.server import make_settings, run_server
from tests.support.sql import statements_by_request

# Five connections nested in one another, 20 items each (the default page):
# conversations > messages > conversation.messages > ... > messages.
_INNER = "messages { nodes { id } }"
for _ in range(3):
    _INNER = f"messages {{ nodes {{ conversation {{ {_INNER} }} }} }}"
FIVE_LEVELS = f"{{ conversations {{ nodes {{ id {_INNER} }} }} }}"
SMALL = "{ conversations(first: 1) { nodes { id } } }"


async def _post(url: str, token: str, query: str, request_id: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}", "X-Request-Id": request_id}
    async with httpx.AsyncClient(timeout=60) as http:
        response = await http.post(url, json={"query": query}, headers=headers)
    return response.json()  # type: ignore[no-any-return]


def _reads_inbox(statements: list[str]) -> bool:
    return any('"conversations"' in sql or '"messages"' in sql for sql in statements)


async def test_a_five_level_nested_connection_query_is_refused_without_touching_the_database(
    tmp_path: Path,
) -> None:
    # A depth limit high enough to let the document through to the cost analysis.
    settings = make_settings(tmp_path / "var", graphql_max_depth=40, redis_url=None)
    async with run_server(settings) as server:
        owner = await member(server, Api(server.graphql_url))
        allowed_id, refused_id = uuid.uuid4().hex, uuid.uuid4().hex

        with statements_by_request() as statements:
            allowed = await _post(server.graphql_url, owner.token, SMALL, allowed_id)
            refused = await _post(server.graphql_url, owner.token, FIVE_LEVELS, refused_id)

    # A connection costs 2 + 20 × its row; a row costs 1, its conversation 1 more.
    cost = 2 + 20 * 1
    for _ in range(3):
        cost = 2 + 20 * (1 + 1 + cost)
    cost = 2 + 20 * (1 + cost)
    assert "errors" not in allowed
    assert _reads_inbox(statements[allowed_id])  # the counter sees a query that runs
    assert refused["data"] is None
    [error] = refused["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["extensions"]["cost"]["requestedQueryCost"] == cost == 3_873_662
    assert not _reads_inbox(statements[refused_id])
