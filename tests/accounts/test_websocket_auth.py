"""WebSocket sign-in a client can act on: 4401 means sign in or refresh the token and
reconnect, 4403 forbidden; an open socket closes with 4401 when its token expires (issue 16,
item 6; issue 15, item 8)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import orjson
import pytest
from gql import gql
from gql.transport.exceptions import TransportQueryError, TransportServerError
from gql.transport.websockets import WebsocketsTransport
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app.platform.events import MESSAGES, channel
from app.platform.ids import from_global_id
from app.platform.security import issue_access_token
from tests.support.accounts import register_user
from tests.support.client import Api
from tests.support.messaging import wait_for_subscribers
from tests.support.server import RunningServer, make_settings, run_server

MESSAGE_EVENTS = gql("subscription { messageEvents { kind message { id } } }")
LOGOUT = "mutation { logout(input: {}) { revokedSessions userErrors { code } } }"
PROTOCOLS = ["graphql-transport-ws", "graphql-ws"]


async def _refused(
    server: RunningServer, protocol: str, payload: dict[str, str]
) -> ClientConnection:
    """Sends `connection_init` with ``payload`` and reads until the server closes."""
    async with connect(server.ws_url, subprotocols=[protocol]) as socket:  # type: ignore[list-item]
        await socket.send(orjson.dumps({"type": "connection_init", "payload": payload}).decode())
        with pytest.raises(ConnectionClosed):
            while True:
                await asyncio.wait_for(socket.recv(), 5)
    return socket


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_connection_init_without_a_token_is_closed_with_4401(
    server: RunningServer, protocol: str
) -> None:
    socket = await _refused(server, protocol, {})

    assert socket.close_code == 4401


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_bad_token_in_connection_init_is_closed_with_4401(
    server: RunningServer, protocol: str
) -> None:
    socket = await _refused(server, protocol, {"authorization": "Bearer nope"})

    assert socket.close_code == 4401
    assert "invalid or expired" in (socket.close_reason or "")


async def test_an_expired_token_in_connection_init_is_closed_with_4401(
    server: RunningServer, api: Api
) -> None:
    user = await register_user(api)
    me = await user.api.data("{ me { id } }")
    expired, _ = issue_access_token(
        server.settings,
        user_id=from_global_id(me["me"]["id"])[1],
        organization_id=from_global_id(user.organization_id)[1],
        ttl_seconds=-60,
    )

    socket = await _refused(server, "graphql-transport-ws", {"authorization": f"Bearer {expired}"})

    assert socket.close_code == 4401


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_an_organization_the_user_is_not_a_member_of_is_closed_with_4403(
    server: RunningServer, api: Api, protocol: str
) -> None:
    user = await register_user(api)
    stranger = await register_user(api)

    socket = await _refused(
        server,
        protocol,
        {
            "authorization": f"Bearer {user.access_token}",
            "organizationId": stranger.organization_id,
        },
    )

    assert socket.close_code == 4403


async def test_gql_on_graphql_ws_gets_a_connection_error_with_the_code(api: Api) -> None:
    with pytest.raises(TransportServerError) as refused:
        async with api.as_user("nope").websocket(
            subprotocols=[WebsocketsTransport.APOLLO_SUBPROTOCOL]
        ):
            pass

    assert "UNAUTHENTICATED" in str(refused.value)


async def test_a_subscription_ends_when_its_session_is_revoked(
    server: RunningServer, api: Api
) -> None:
    user = await register_user(api)
    received: list[object] = []

    async def listen() -> None:
        async with user.api.websocket() as session:
            async for event in session.subscribe(MESSAGE_EVENTS):
                received.append(event)

    listener = asyncio.create_task(listen())
    organization_pk = from_global_id(user.organization_id)[1]
    await wait_for_subscribers(server, channel(organization_pk, MESSAGES))  # subscribed, idle

    await user.api.data(LOGOUT)

    with pytest.raises(TransportQueryError) as ended:
        await asyncio.wait_for(listener, 10)
    assert ended.value.errors is not None
    assert ended.value.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert received == []


@pytest.fixture(scope="module")
async def short_tokens(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningServer]:
    settings = make_settings(tmp_path_factory.mktemp("short-tokens"), access_token_ttl_seconds=6)
    async with run_server(settings) as running:
        yield running


@pytest.mark.parametrize(
    "subprotocol",
    [WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL, WebsocketsTransport.APOLLO_SUBPROTOCOL],
)
async def test_a_subscribed_socket_is_closed_with_4401_when_its_token_expires(
    short_tokens: RunningServer, subprotocol: str
) -> None:
    # Before signing up: the token's expiry is a whole second (its issue time rounded down),
    # so taken after, this could be up to a second later than the token's own start.
    signed_in = time.time()
    user = await register_user(Api(short_tokens.graphql_url))
    sockets: list[ClientConnection] = []

    async def listen() -> None:
        async with user.api.websocket(subprotocols=[subprotocol]) as session:
            sockets.append(session.transport.adapter.websocket)
            async for _ in session.subscribe(MESSAGE_EVENTS):
                pass

    with pytest.raises(Exception):  # noqa: B017 - gql reports the closed connection
        await asyncio.wait_for(listen(), 20)

    assert sockets[0].close_code == 4401
    assert "expired" in (sockets[0].close_reason or "")
    assert time.time() - signed_in >= 5  # not before the token's own end
