"""Browser pages on other origins: CORS on HTTP, the Origin check on WebSocket upgrades."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.support.server import RunningServer, make_settings, run_server

QUERY = {"query": "{ __typename }"}
CLIENT_HEADERS = "authorization, content-type, x-organization-id, x-request-id"


def preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": CLIENT_HEADERS,
    }


async def websocket_status(server: RunningServer, origin: str | None) -> int:
    try:
        async with connect(server.ws_url, origin=origin, subprotocols=["graphql-transport-ws"]):  # type: ignore[arg-type]
            return 101
    except InvalidStatus as refused:
        return refused.response.status_code


@pytest.fixture(scope="module")
async def exact_origins(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningServer]:
    settings = make_settings(
        tmp_path_factory.mktemp("var"), cors_origins=["https://app.example.com"]
    )
    async with run_server(settings, migrate=True) as running:
        yield running


async def test_a_page_on_a_development_origin_passes_the_preflight_and_reads_the_answer(
    server: RunningServer,
) -> None:
    origin = "http://localhost:5173"
    async with httpx.AsyncClient() as client:
        allowed = await client.options(server.graphql_url, headers=preflight(origin))
        answer = await client.post(server.graphql_url, json=QUERY, headers={"Origin": origin})

    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == origin
    assert {"POST", "GET"} <= set(allowed.headers["access-control-allow-methods"].split(", "))
    allowed_headers = allowed.headers["access-control-allow-headers"].lower().split(", ")
    assert set(CLIENT_HEADERS.split(", ")) <= set(allowed_headers)
    assert int(allowed.headers["access-control-max-age"]) >= 600
    assert answer.json()["data"] == {"__typename": "Query"}
    assert answer.headers["access-control-allow-origin"] == origin
    exposed = answer.headers["access-control-expose-headers"].lower().split(", ")
    assert {"retry-after", "x-request-id"} <= set(exposed)


async def test_any_port_of_127_0_0_1_is_a_development_origin(server: RunningServer) -> None:
    async with httpx.AsyncClient() as client:
        allowed = await client.options(
            server.graphql_url, headers=preflight("http://127.0.0.1:3000")
        )

    assert allowed.headers["access-control-allow-origin"] == "http://127.0.0.1:3000"


async def test_a_page_on_another_origin_is_refused(server: RunningServer) -> None:
    origin = "https://evil.example"
    async with httpx.AsyncClient() as client:
        refused = await client.options(server.graphql_url, headers=preflight(origin))
        answer = await client.post(server.graphql_url, json=QUERY, headers={"Origin": origin})

    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    # The request itself is served (a non-browser may send anything), but a browser gets no
    # header that lets the page read the answer.
    assert "access-control-allow-origin" not in answer.headers


async def test_configured_origins_are_exact_and_replace_the_development_ones(
    exact_origins: RunningServer,
) -> None:
    async with httpx.AsyncClient() as client:
        app = await client.options(
            exact_origins.graphql_url, headers=preflight("https://app.example.com")
        )
        sub = await client.options(
            exact_origins.graphql_url, headers=preflight("https://x.app.example.com")
        )
        local = await client.options(
            exact_origins.graphql_url, headers=preflight("http://localhost:5173")
        )

    assert app.headers["access-control-allow-origin"] == "https://app.example.com"
    assert (sub.status_code, local.status_code) == (400, 400)


async def test_websocket_upgrades_from_a_disallowed_origin_are_denied_before_accept(
    server: RunningServer, exact_origins: RunningServer
) -> None:
    assert await websocket_status(server, "http://localhost:5173") == 101
    assert await websocket_status(server, "https://evil.example") == 403
    assert await websocket_status(exact_origins, "https://app.example.com") == 101
    assert await websocket_status(exact_origins, "http://localhost:5173") == 403


async def test_clients_that_send_no_origin_are_not_browsers_and_may_connect(
    exact_origins: RunningServer,
) -> None:
    assert await websocket_status(exact_origins, None) == 101


async def test_a_page_served_by_the_api_itself_may_open_a_websocket(
    exact_origins: RunningServer,
) -> None:
    own = exact_origins.url  # GraphiQL, served at /graphql

    assert await websocket_status(exact_origins, own) == 101


def test_origins_must_be_exact(tmp_path: Path) -> None:
    for bad in ("https://app.example.com/", "https://*.example.com", "*", "app.example.com"):
        with pytest.raises(ValueError, match="is not an origin"):
            make_settings(tmp_path, cors_origins=[bad])
