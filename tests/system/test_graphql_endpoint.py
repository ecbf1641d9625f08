from __future__ import annotations

import httpx
from gql import gql
from gql.transport.websockets import WebsocketsTransport

from tests.support.accounts import register_user
from tests.support.client import Api
from tests.support.server import RunningServer


async def test_typename_answers_over_http_post(server: RunningServer) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(server.graphql_url, json={"query": "{ __typename }"})

    assert response.status_code == 200
    assert response.json()["data"] == {"__typename": "Query"}
    assert "errors" not in response.json()


async def test_queries_are_served_over_http_get(server: RunningServer) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.get(server.graphql_url, params={"query": "{ __typename }"})

    assert response.json()["data"] == {"__typename": "Query"}


async def test_mutations_are_refused_over_get(server: RunningServer) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.get(server.graphql_url, params={"query": "mutation { __typename }"})

    assert response.status_code in (400, 405)
    assert response.headers["content-type"].startswith("application/json")


async def test_queries_run_over_graphql_transport_ws(api: Api) -> None:
    user = await register_user(api)

    async with user.api.websocket(
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL]
    ) as session:
        result = await session.execute(gql("{ __typename }"))

    assert result == {"__typename": "Query"}


async def test_queries_run_over_the_legacy_graphql_ws_protocol(api: Api) -> None:
    user = await register_user(api)

    async with user.api.websocket(subprotocols=[WebsocketsTransport.APOLLO_SUBPROTOCOL]) as session:
        result = await session.execute(gql("{ __typename }"))

    assert session.transport.subprotocol == WebsocketsTransport.APOLLO_SUBPROTOCOL
    assert result == {"__typename": "Query"}


async def test_a_malformed_query_is_a_parse_error(api: Api) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(api.graphql_url, json={"query": "{ __typename"})

    body = response.json()
    assert response.status_code == 200
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert "Traceback" not in response.text


async def test_an_unknown_field_is_a_validation_error(api: Api) -> None:
    result = await api.call("{ noSuchField }")

    assert result["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "noSuchField" in result["errors"][0]["message"]


async def test_a_body_that_is_not_json_is_a_typed_400(server: RunningServer) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            server.graphql_url, content=b"{not json", headers={"content-type": "application/json"}
        )

    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_a_body_over_the_limit_is_refused_with_413(server: RunningServer) -> None:
    huge = "{ __typename }" + " " * (server.settings.max_body_bytes + 1)

    async with httpx.AsyncClient() as http:
        response = await http.post(server.graphql_url, json={"query": huge})

    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_bad_bearer_token_is_unauthenticated(api: Api) -> None:
    result = await api.as_user("not-a-token").call("{ __typename }")

    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert result["data"] is None


async def test_a_request_id_is_echoed_or_generated(server: RunningServer) -> None:
    async with httpx.AsyncClient() as http:
        given = await http.get(f"{server.url}/health/live", headers={"X-Request-ID": "abc-123"})
        generated = await http.get(f"{server.url}/health/live")

    assert given.headers["x-request-id"] == "abc-123"
    assert len(generated.headers["x-request-id"]) == 32


async def test_each_request_writes_one_access_line_with_its_request_id(
    server: RunningServer, log_lines
) -> None:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient() as http:
        await http.post(
            server.graphql_url,
            json={"query": "query Probe { __typename }", "operationName": "Probe"},
            headers={"X-Request-ID": "req-probe-1"},
        )

    access = [
        e
        for e in log_lines.events()
        if e.get("event") == "request" and e.get("request_id") == "req-probe-1"
    ]
    assert len(access) == 1
    assert access[0]["status"] == 200
    assert access[0]["operation"] == "Probe"
    assert "duration_ms" in access[0]


async def test_an_id_that_is_not_a_global_id_is_bad_user_input(api: Api) -> None:
    result = await api.call('{ node(id: "%%%") { id } }')

    assert result["data"] == {"node": None}
    assert result["errors"] == []
