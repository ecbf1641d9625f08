"""GraphQL clients for tests: gql over HTTP and over WebSocket, against the running server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from gql import Client, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport


class Api:
    """Runs documents with gql; returns ``{"data", "errors", "extensions"}`` like the wire."""

    def __init__(
        self, graphql_url: str, token: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        self.graphql_url = graphql_url
        self.token = token
        self.headers = dict(headers or {})

    def as_user(self, token: str | None) -> Api:
        return Api(self.graphql_url, token, self.headers)

    def _headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    async def call(
        self, document: str, variables: dict[str, Any] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        transport = HTTPXAsyncTransport(url=self.graphql_url, headers=self._headers(), timeout=30)
        async with Client(transport=transport, fetch_schema_from_transport=False) as session:
            try:
                result = await session.execute(
                    gql(document), variable_values=variables, get_execution_result=True, **kwargs
                )
            except TransportQueryError as error:
                return {
                    "data": error.data,
                    "errors": error.errors or [],
                    "extensions": getattr(error, "extensions", None),
                }
        return {"data": result.data, "errors": [], "extensions": result.extensions}

    async def data(
        self, document: str, variables: dict[str, Any] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """The ``data`` of a document that must succeed.

        Like a well-behaved client, a ``RATE_LIMITED`` refusal is retried after its
        ``retryAfter`` (a few times): a long test may spend its caller's cost budget.
        Tests of the limits themselves use :meth:`call`.
        """
        result = await self.call(document, variables, **kwargs)
        for _ in range(5):
            retry_after = _retry_after(result["errors"])
            if retry_after is None:
                break
            await asyncio.sleep(retry_after)
            result = await self.call(document, variables, **kwargs)
        assert not result["errors"], result["errors"]
        assert result["data"] is not None
        return result["data"]

    @contextlib.asynccontextmanager
    async def websocket(
        self, *, subprotocols: list[str] | None = None, init_payload: dict[str, Any] | None = None
    ) -> AsyncIterator[Any]:
        payload = (
            init_payload
            if init_payload is not None
            else ({"authorization": f"Bearer {self.token}"} if self.token else {})
        )
        transport = WebsocketsTransport(
            url=self.graphql_url.replace("http://", "ws://", 1),
            init_payload=payload,
            subprotocols=subprotocols or [WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        )
        async with Client(transport=transport, fetch_schema_from_transport=False) as session:
            yield session


def _retry_after(errors: list[dict[str, Any]]) -> float | None:
    for error in errors:
        extensions = error.get("extensions") or {}
        if extensions.get("code") == "RATE_LIMITED":
            return float(extensions.get("retryAfter") or 1)
    return None
