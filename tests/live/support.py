"""A raw graphql-transport-ws or graphql-ws client (websockets), and /metrics readings."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import orjson
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection, connect

from tests.support.server import RunningServer

METRICS_TOKEN = "live-tests-metrics-token"


class Socket:
    """One connection; ``frames`` are the JSON messages received, pings answered or not."""

    def __init__(self, connection: ClientConnection, protocol: str) -> None:
        self.connection = connection
        self.protocol = protocol

    @classmethod
    async def open(
        cls,
        server: RunningServer,
        token: str | None,
        *,
        init: bool = True,
        receive_buffer: int | None = None,
        max_queue: int | None = 16,
        organization_id: str | None = None,
        protocol: str = "graphql-transport-ws",
    ) -> Socket:
        sock = None
        if receive_buffer is not None:
            # A client that reads nothing: tiny kernel buffer, so the server feels it soon.
            host, port = server.url.removeprefix("http://").split(":")
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
        connection = await connect(
            server.ws_url,
            subprotocols=[protocol],  # type: ignore[list-item]
            sock=sock,
            max_queue=max_queue,
            ping_interval=None,
        )
        client = cls(connection, protocol)
        if init:
            payload = {"authorization": f"Bearer {token}"} if token else {}
            if organization_id is not None:
                payload["organizationId"] = organization_id
            await client.send({"type": "connection_init", "payload": payload})
            ack = await client.receive()
            assert ack["type"] == "connection_ack", ack
        return client

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(orjson.dumps(message).decode())

    async def receive(self, timeout: float = 10) -> dict[str, Any]:  # noqa: ASYNC109
        """The next message that is not a ping or `ka`, within ``timeout`` (pings are
        answered)."""
        async with asyncio.timeout(timeout):
            while True:
                message: dict[str, Any] = orjson.loads(await self.connection.recv())
                if message.get("type") == "ping":
                    await self.send({"type": "pong"})
                    continue
                if message.get("type") == "ka":
                    continue
                return message

    async def subscribe(
        self, operation_id: str, query: str, variables: dict[str, Any] | None = None
    ) -> None:
        payload: dict[str, Any] = {"query": query}
        if variables:
            payload["variables"] = variables
        kind = "start" if self.protocol == "graphql-ws" else "subscribe"
        await self.send({"id": operation_id, "type": kind, "payload": payload})

    async def close(self) -> None:
        await self.connection.close()


async def metrics(server: RunningServer) -> dict[str, float]:
    """The server's Prometheus samples, by name (labels ignored: these have none)."""
    async with httpx.AsyncClient() as client:
        response = await client.get(
            f"{server.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
        )
    assert response.status_code == 200, response.text
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
