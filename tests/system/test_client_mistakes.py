"""A client's mistake in a document or its variables is answered with graphql-core's own
message and a client code, over HTTP and over graphql-transport-ws; never masked, never logged
as a traceback."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.live.support import Socket
from tests.support.client import Api
from tests.support.messaging import member
from tests.support.server import RunningServer

LOGIN = "mutation ($input: LoginInput!) { login(input: $input) { accessToken } }"
CONVERSATIONS = (
    "query ($status: ConversationStatus) { conversations(status: $status) { __typename } }"
)
CREATE_CAMPAIGN = (
    "mutation ($input: CreateCampaignInput!) { createCampaign(input: $input) { __typename } }"
)
ID = "RGV2aWNlOjE"  # Device:1
LOGIN_INPUT = {"email": "someone@example.com", "password": "secret"}

# (case, document, variables, code, a piece of graphql-core's message)
MISTAKES: list[tuple[str, str, dict[str, Any] | None, str, str]] = [
    (
        "missing required variable",
        LOGIN,
        None,
        "BAD_USER_INPUT",
        "Variable '$input' has invalid value: Expected a value of non-null type 'LoginInput!'",
    ),
    (
        "variable of the wrong type",
        LOGIN,
        {"input": {**LOGIN_INPUT, "email": 1}},
        "BAD_USER_INPUT",
        "Variable '$input' has invalid value at .email: String cannot represent a non string",
    ),
    (
        "unknown input field",
        LOGIN,
        {"input": {**LOGIN_INPUT, "otpCode": "123456"}},
        "BAD_USER_INPUT",
        "not to include unknown field 'otpCode'",
    ),
    (
        "bad enum value",
        CONVERSATIONS,
        {"status": "SHUT"},
        "BAD_USER_INPUT",
        "Variable '$status' has invalid value: Value 'SHUT' does not exist in "
        "'ConversationStatus' enum.",
    ),
    (
        "bad DateTime",
        CREATE_CAMPAIGN,
        {"input": {"name": "Spring", "deviceId": ID, "text": "Hi", "scheduledAt": "tomorrow"}},
        "BAD_USER_INPUT",
        "Variable '$input' has invalid value at .scheduledAt: Value cannot represent a DateTime",
    ),
    (
        "bad enum literal",
        "{ conversations(status: SHUT) { __typename } }",
        None,
        "GRAPHQL_VALIDATION_FAILED",
        "Value 'SHUT' does not exist in 'ConversationStatus' enum.",
    ),
    (
        "variable never declared",
        "{ conversations(status: $status) { __typename } }",
        None,
        "GRAPHQL_VALIDATION_FAILED",
        "Variable '$status' is not defined.",
    ),
]


def _assert_a_client_mistake(errors: list[dict[str, Any]], code: str, message: str) -> None:
    assert errors, "expected an error"
    assert {e["extensions"]["code"] for e in errors} == {code}, errors
    assert message in errors[0]["message"], errors
    assert "traceId" not in errors[0]["extensions"]


each_mistake = pytest.mark.parametrize(
    ("document", "variables", "code", "message"),
    [case[1:] for case in MISTAKES],
    ids=[case[0] for case in MISTAKES],
)


@each_mistake
async def test_a_client_mistake_over_http_has_its_own_code_and_message(
    server: RunningServer,
    log_lines,  # type: ignore[no-untyped-def]
    document: str,
    variables: dict[str, Any] | None,
    code: str,
    message: str,
) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            server.graphql_url, json={"query": document, "variables": variables}
        )

    assert response.status_code == 200
    assert response.json()["data"] is None
    _assert_a_client_mistake(response.json()["errors"], code, message)
    assert not [e for e in log_lines.events() if e.get("event") == "unhandled_error"]


@each_mistake
async def test_a_client_mistake_over_graphql_transport_ws_has_its_own_code_and_message(
    server: RunningServer,
    log_lines,  # type: ignore[no-untyped-def]
    document: str,
    variables: dict[str, Any] | None,
    code: str,
    message: str,
) -> None:
    # A WebSocket signs in at connection_init (an anonymous one is closed with 4401).
    who = await member(server, Api(server.graphql_url))
    socket = await Socket.open(server, who.token)
    try:
        await socket.subscribe("1", document, variables)
        answer = await socket.receive()
    finally:
        await socket.close()

    # graphql-transport-ws: a refused operation is an `error` message (its payload the
    # errors); one that ran answers `next` with them.
    assert answer["type"] in ("error", "next"), answer
    errors = answer["payload"] if answer["type"] == "error" else answer["payload"]["errors"]
    _assert_a_client_mistake(errors, code, message)
    assert not [e for e in log_lines.events() if e.get("event") == "unhandled_error"]
