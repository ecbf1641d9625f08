"""Depth, alias and token limits, batching off by default, introspection off in production."""

from __future__ import annotations

from pathlib import Path

import httpx

from app.http.app import schema_extensions
from app.platform.config import Settings
from app.schema import build_schema
from tests.support.server import make_settings, run_server

INTROSPECTION = "{ __schema { queryType { name } } }"


async def _post(url: str, body: object) -> httpx.Response:
    async with httpx.AsyncClient(timeout=60) as http:
        return await http.post(url, json=body)


async def test_a_document_deeper_than_the_limit_is_refused_as_too_complex(server) -> None:  # type: ignore[no-untyped-def]
    # The schema has no cycle this deep yet; depth is measured whatever the fields are.
    deep = "{ " + "me { " * 13 + "id" + " }" * 13 + " }"

    body = (await _post(server.graphql_url, {"query": deep})).json()

    assert body["data"] is None
    too_deep = [e for e in body["errors"] if e["extensions"]["code"] == "QUERY_TOO_COMPLEX"]
    assert [e["message"] for e in too_deep] == ["'anonymous' exceeds maximum operation depth of 12"]


async def test_more_aliases_than_the_limit_are_refused_as_too_complex(server) -> None:  # type: ignore[no-untyped-def]
    thirty = "{ " + " ".join(f"a{i}: __typename" for i in range(30)) + " }"
    thirty_one = "{ " + " ".join(f"a{i}: __typename" for i in range(31)) + " }"

    allowed = (await _post(server.graphql_url, {"query": thirty})).json()
    refused = (await _post(server.graphql_url, {"query": thirty_one})).json()

    assert "errors" not in allowed
    assert refused["errors"] == [
        {"message": "31 aliases found. Allowed: 30", "extensions": {"code": "QUERY_TOO_COMPLEX"}}
    ]


async def test_a_document_of_more_tokens_than_the_limit_is_refused_before_parsing_ends(
    server,
) -> None:  # type: ignore[no-untyped-def]
    huge = "{ " + "a " * 5000 + "}"  # 10 KB, under the byte limit; sent without a token

    body = (await _post(server.graphql_url, {"query": huge})).json()

    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert "more than 2000 tokens" in body["errors"][0]["message"]


async def test_a_syntax_error_still_reads_as_a_parse_failure(server) -> None:  # type: ignore[no-untyped-def]
    body = (await _post(server.graphql_url, {"query": "{ me {"})).json()

    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


async def test_a_batch_is_refused_with_a_typed_error_when_batching_is_off(server) -> None:  # type: ignore[no-untyped-def]
    response = await _post(server.graphql_url, [{"query": "{ __typename }"}] * 2)

    assert response.status_code == 400
    assert response.json() == {
        "errors": [{"message": "Batching is not enabled", "extensions": {"code": "BAD_REQUEST"}}]
    }


async def test_a_batch_is_served_when_batching_is_on(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "var", redis_url=None, graphql_batching=True)

    async with run_server(settings) as server:
        response = await _post(server.graphql_url, [{"query": "{ __typename }"}] * 2)

    assert response.status_code == 200
    assert [item["data"] for item in response.json()] == [{"__typename": "Query"}] * 2


def _production(**overrides: object) -> Settings:
    return Settings(
        env="production",
        secret_key="s" * 40,
        database_url="postgres://parley@db/parley",
        redis_url="redis://redis:6379/0",
        cost_analysis=False,  # the schema alone, without a runtime for the budget
        **overrides,  # type: ignore[arg-type]
    )


async def test_introspection_is_refused_in_production() -> None:
    schema = build_schema(schema_extensions(_production()))

    result = await schema.execute(INTROSPECTION)

    assert result.data is None
    assert result.errors
    assert "introspection has been disabled" in result.errors[0].message


async def test_introspection_is_allowed_in_production_when_enabled() -> None:
    schema = build_schema(schema_extensions(_production(introspection=True)))

    result = await schema.execute(INTROSPECTION)

    assert result.errors is None
    assert result.data == {"__schema": {"queryType": {"name": "Query"}}}
