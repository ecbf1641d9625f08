"""WebSocket messages are capped like request bodies (PARLEY_MAX_BODY_BYTES): a larger one
closes the socket with 1009, under uvicorn's own cap and under any server (issue 15, item 8)."""

from __future__ import annotations

from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from tests.live.support import Socket
from tests.support.client import Api
from tests.support.messaging import member
from tests.support.server import RunningServer, make_settings, run_server


async def _send_padded(socket: Socket, size: int) -> None:
    # A ping whose payload pads the message to `size` bytes.
    head, tail = '{"type":"ping","payload":{"pad":"', '"}}'
    await socket.connection.send(head + "x" * (size - len(head) - len(tail)) + tail)


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_a_message_over_the_body_limit_is_closed_with_1009(
    live_server: RunningServer, protocol: str
) -> None:
    owner = await member(live_server, Api(live_server.graphql_url))
    socket = await Socket.open(live_server, owner.token, protocol=protocol)

    await _send_padded(socket, 2_000_000)

    with pytest.raises(ConnectionClosed):
        await socket.receive(timeout=10)
    assert socket.connection.close_code == 1009


async def test_a_message_within_the_limit_is_served(live_server: RunningServer) -> None:
    owner = await member(live_server, Api(live_server.graphql_url))
    socket = await Socket.open(live_server, owner.token)

    await _send_padded(socket, live_server.settings.max_body_bytes)

    assert (await socket.receive())["type"] == "pong"
    await socket.close()


async def test_the_cap_holds_under_a_server_that_allows_larger_messages(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "var", max_body_bytes=100_000)
    async with run_server(settings, ws_max_size=16 * 1024 * 1024) as server:
        owner = await member(server, Api(server.graphql_url))
        socket = await Socket.open(server, owner.token)

        await _send_padded(socket, 200_000)

        with pytest.raises(ConnectionClosed):
            await socket.receive(timeout=10)
    assert socket.connection.close_code == 1009
    assert "too big" in (socket.connection.close_reason or "")
