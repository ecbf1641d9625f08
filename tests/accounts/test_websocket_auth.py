from __future__ import annotations

import asyncio

import pytest
from gql import gql
from gql.transport.exceptions import TransportQueryError
from websockets.asyncio.client import connect

from tests.support.accounts import register_user
from tests.support.client import Api
from tests.support.server import RunningServer

MESSAGE_EVENTS = gql("subscription { messageEvents { kind message { id } } }")
LOGOUT = "mutation { logout(input: {}) { revokedSessions userErrors { code } } }"


async def test_a_bad_token_in_connection_init_is_closed_with_4403(server: RunningServer) -> None:
    async with connect(server.ws_url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        await socket.send(
            '{"type": "connection_init", "payload": {"authorization": "Bearer nope"}}'
        )

        with pytest.raises(Exception):  # noqa: B017 - the server closes the socket
            await asyncio.wait_for(socket.recv(), 5)

    assert socket.close_code == 4403


async def test_a_subscription_ends_when_its_session_is_revoked(api: Api) -> None:
    user = await register_user(api)
    received: list[object] = []

    async def listen() -> None:
        async with user.api.websocket() as session:
            async for event in session.subscribe(MESSAGE_EVENTS):
                received.append(event)

    listener = asyncio.create_task(listen())
    await asyncio.sleep(1.0)  # subscribed and idle

    await user.api.data(LOGOUT)

    with pytest.raises(TransportQueryError) as ended:
        await asyncio.wait_for(listener, 10)
    assert ended.value.errors is not None
    assert ended.value.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert received == []
