"""GraphQL over HTTP: content negotiation, the spec's status codes for
application/graphql-response+json, requests that are not GraphQL requests, subscriptions over
plain HTTP, and graphql-http's server audit against the running server."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.node import npm_ci, require_node
from tests.support.server import RunningServer

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
AUDIT_DIR = Path(__file__).resolve().parents[2] / "clients" / "audit"
SUBSCRIPTION = "subscription { conversationEvents { __typename } }"


async def _post(server: RunningServer, body: Any, accept: str | None = None) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if accept is not None:
        headers["accept"] = accept
    async with httpx.AsyncClient() as http:
        return await http.post(server.graphql_url, content=json.dumps(body), headers=headers)


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("application/json", "application/json"),
        (GRAPHQL_RESPONSE_JSON, GRAPHQL_RESPONSE_JSON),
        (f"{GRAPHQL_RESPONSE_JSON}, application/json;q=0.9", GRAPHQL_RESPONSE_JSON),
        (f"application/json, {GRAPHQL_RESPONSE_JSON};q=0.5", "application/json"),
    ],
)
async def test_the_response_media_type_follows_the_accept_header(
    server: RunningServer, accept: str | None, media_type: str
) -> None:
    response = await _post(server, {"query": "{ __typename }"}, accept)

    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == media_type
    assert response.json()["data"] == {"__typename": "Query"}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"query": "{ __typename"}, "GRAPHQL_PARSE_FAILED"),
        ({"query": "{ noSuchField }"}, "GRAPHQL_VALIDATION_FAILED"),
        (
            {
                "query": "query ($first: Int) { devices(first: $first) { __typename } }",
                "variables": {"first": "ten"},
            },
            "BAD_USER_INPUT",
        ),
    ],
    ids=["parse", "validation", "variables"],
)
async def test_a_refused_document_is_a_400_without_data_for_graphql_response_json(
    server: RunningServer, body: dict[str, Any], code: str
) -> None:
    spec = await _post(server, body, GRAPHQL_RESPONSE_JSON)
    legacy = await _post(server, body, "application/json")

    assert spec.status_code == 400
    assert spec.headers["content-type"].startswith(GRAPHQL_RESPONSE_JSON)
    assert "data" not in spec.json()
    assert spec.json()["errors"][0]["extensions"]["code"] == code
    assert legacy.status_code == 200
    assert legacy.json()["data"] is None
    assert legacy.json()["errors"][0]["extensions"]["code"] == code


async def test_a_bad_token_is_a_401_for_graphql_response_json(server: RunningServer) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            server.graphql_url,
            json={"query": "{ __typename }"},
            headers={"accept": GRAPHQL_RESPONSE_JSON, "authorization": "Bearer not-a-token"},
        )

    assert response.status_code == 401
    assert "data" not in response.json()
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("body", ["hello", None, 123, [1, 2], True])
@pytest.mark.parametrize("accept", [None, GRAPHQL_RESPONSE_JSON])
async def test_a_json_body_that_is_not_an_object_is_a_graphql_shaped_400(
    server: RunningServer, body: Any, accept: str | None
) -> None:
    response = await _post(server, body, accept)

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert "JSON object" in error["message"]


@pytest.mark.parametrize(
    "accept",
    [
        None,
        GRAPHQL_RESPONSE_JSON,
        'multipart/mixed;subscriptionSpec="1.0", application/json',
        "text/event-stream",
    ],
)
async def test_a_subscription_over_http_post_says_to_use_the_websocket(
    server: RunningServer, accept: str | None
) -> None:
    response = await _post(server, {"query": SUBSCRIPTION}, accept)

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert "WebSocket" in error["message"] and "graphql-transport-ws" in error["message"]


async def test_a_subscription_over_http_get_says_to_use_the_websocket(
    server: RunningServer,
) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.get(
            server.graphql_url,
            params={"query": SUBSCRIPTION},
            headers={"accept": "application/json"},
        )

    assert response.status_code == 400
    assert "graphql-transport-ws" in response.json()["errors"][0]["message"]


async def test_a_mutation_over_get_is_405_with_allow_post(server: RunningServer) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.get(
            server.graphql_url,
            params={"query": "mutation { __typename }"},
            headers={"accept": "application/json"},
        )

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


async def test_the_graphql_http_server_audit_passes_without_errors_or_warnings(
    server: RunningServer,
) -> None:
    require_node()
    npm_ci(AUDIT_DIR)

    audit = await _run_audit(server.graphql_url)

    summary = json.loads(audit.stdout.strip().splitlines()[-1])
    assert (summary["errors"], summary["warnings"]) == (0, 0), audit.stdout
    assert summary["ok"] > 50


async def _run_audit(url: str) -> subprocess.CompletedProcess[str]:
    # The server runs in this test's event loop: the audit runs in another process, awaited.
    process = await asyncio.create_subprocess_exec(
        "node",
        "audit.mjs",
        url,
        cwd=AUDIT_DIR,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    return subprocess.CompletedProcess(
        ["node", "audit.mjs", url], process.returncode or 0, stdout.decode(), stderr.decode()
    )
