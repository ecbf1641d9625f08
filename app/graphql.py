"""The GraphQL endpoint: strawberry's ASGI view with Parley's context, auth and JSON."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import strawberry
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.extensions import SchemaExtension
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.types import ExecutionResult

from app import graphiql
from app.authentication import authenticate
from app.context import Context
from app.errors import AppError, ErrorCode
from app.graphql_limits import DocumentGate
from app.live.connection import LiveHandler
from app.live.groups import Hub
from app.persisted import PersistedDocuments
from app.runtime import Runtime


class RefuseBadCredentials(SchemaExtension):
    """An operation sent with a bad token is refused before any resolver runs."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context.context
        error = getattr(context, "auth_error", None)
        if error is not None:
            self.execution_context.result = GraphQLExecutionResult(
                data=None, errors=[GraphQLError(str(error), original_error=error)]
            )
        yield


class GraphQLView(GraphQL[Context, None]):
    # graphql-transport-ws: subscriptions executed once per group, bounded sends (app/live).
    graphql_transport_ws_handler_class = LiveHandler

    def __init__(
        self,
        schema: strawberry.Schema,
        runtime: Runtime,
        persisted_documents: PersistedDocuments | None = None,
        document_gate: DocumentGate | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(schema, **kwargs)
        self.runtime = runtime
        self.persisted_documents = persisted_documents
        self.document_gate = document_gate
        self._live_hub: Hub | None = None

    @property
    def live_hub(self) -> Hub:
        """The process's subscription groups and connections (made on the first socket)."""
        if self._live_hub is None:
            settings = self.runtime.settings
            self._live_hub = Hub(
                self.schema,
                shared=settings.live_shared_execution,
                keepalive=settings.ws_keepalive_seconds,
                idle=settings.ws_idle_timeout_seconds,
                gate=self.document_gate,
            )
        return self._live_hub

    async def close_live(self) -> None:
        if self._live_hub is not None:
            await self._live_hub.close()

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        context = Context(request=request, response=response, runtime=self.runtime)
        if isinstance(request, Request):
            # A bad token on HTTP is an error of the whole operation (UNAUTHENTICATED);
            # resolving it here lets `process_result` report it without executing anything.
            try:
                context.viewer = await authenticate(
                    self.runtime,
                    request.headers.get("authorization"),
                    request.headers.get("x-organization-id"),
                )
            except AppError as error:
                context.auth_error = error
        return context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        try:
            response = await self.run(request)
        except HTTPException as error:
            # Strawberry answers these in plain text; clients expect a GraphQL error body.
            code = "METHOD_NOT_ALLOWED" if error.status_code == 405 else "BAD_REQUEST"
            response = _error_response(error.reason, {"code": code}, error.status_code)
        except AppError as error:
            # Raised before execution (persisted documents). An unknown hash is a normal
            # step of APQ, answered 200 like Apollo Server so clients retry with the query.
            status = 200 if error.code is ErrorCode.PERSISTED_QUERY_NOT_FOUND else 400
            response = _error_response(
                error.message, {**error.extensions, "code": error.code.value}, status
            )
        await response(scope, receive, send)

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        parsed = await super().parse_http_body(request)
        if self.persisted_documents is not None:
            for item in parsed if isinstance(parsed, list) else [parsed]:
                await self.persisted_documents.resolve(item, self.runtime.redis)
        return parsed

    async def on_ws_connect(self, context: Context) -> Any:
        params = context.connection_params or {}
        authorization = params.get("authorization") or params.get("Authorization")
        if authorization is None:
            return None
        try:
            context.viewer = await authenticate(
                self.runtime, str(authorization), params.get("organizationId")
            )
        except AppError:
            raise ConnectionRejectionError() from None
        return None

    async def render_graphql_ide(self, request: Request) -> Response:
        # Strawberry's page loads its scripts from a CDN; ours come from this server (app/graphiql).
        return HTMLResponse(graphiql.render(self.graphql_ide_html))

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        response: GraphQLHTTPResponse = {"data": result.data}
        if result.errors:
            response["errors"] = [e.formatted for e in result.errors]
        if result.extensions:
            response["extensions"] = result.extensions
        return response

    def encode_json(self, data: object) -> str:
        # A str, because WebSocket frames must be text frames for GraphQL clients.
        return orjson.dumps(data).decode()

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)


def _error_response(message: str, extensions: dict[str, Any], status_code: int) -> Response:
    return Response(
        orjson.dumps({"errors": [{"message": message, "extensions": extensions}]}),
        status_code=status_code,
        media_type="application/json",
    )


__all__ = ["GraphQLView", "Response"]
