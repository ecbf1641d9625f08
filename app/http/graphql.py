"""The GraphQL endpoint: strawberry's ASGI view with Parley's context, auth and JSON.

Over HTTP it speaks GraphQL over HTTP: a client that asks for
``application/graphql-response+json`` gets it, with the spec's status codes (a request that
was refused before execution has no ``data`` and a 4xx); any other client gets
``application/json`` and 200 for every well-formed request, as before. Subscriptions are
served over the WebSocket only.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

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
from strawberry.exceptions import MissingQueryError
from strawberry.extensions import SchemaExtension
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.exceptions import (
    CannotGetOperationTypeError,
    InvalidOperationTypeError,
)
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from app.documents.limits import DocumentGate
from app.documents.persisted import PersistedDocuments
from app.http import graphiql
from app.http.authentication import authenticate
from app.live.groups import Hub
from app.live.handlers import (
    ConnectionRefused,
    LegacyLiveHandler,
    LiveHandler,
    LiveWebSocketAdapter,
)
from app.platform.context import Context
from app.platform.errors import AppError, ErrorCode, Unauthenticated
from app.platform.runtime import Runtime

JSON = "application/json"
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"

SUBSCRIPTIONS_USE_WEBSOCKET = (
    "Subscriptions are served over WebSocket: connect to /graphql with the "
    "graphql-transport-ws protocol."
)
NOT_AN_OBJECT = (
    'A GraphQL request is a JSON object: {"query": ...} with optional `variables`, '
    "`operationName` and `extensions`."
)
# The status of a request refused before execution, for application/graphql-response+json.
_REFUSAL_STATUS = {
    ErrorCode.UNAUTHENTICATED.value: 401,
    ErrorCode.FORBIDDEN.value: 403,
    ErrorCode.RATE_LIMITED.value: 429,
    ErrorCode.INTERNAL_SERVER_ERROR.value: 500,
}


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
    # Both WebSocket protocols: subscriptions executed once per group, bounded sends, idle
    # and token expiry closes, capped messages (app/live).
    graphql_transport_ws_handler_class = LiveHandler
    graphql_ws_handler_class = LegacyLiveHandler
    websocket_adapter_class = LiveWebSocketAdapter  # type: ignore[assignment]

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
                    ip=request.client.host if request.client else "",
                )
            except AppError as error:
                context.auth_error = error
        return context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        media_type = request.state.graphql_media_type = response_media_type(
            request.headers.get("accept")
        )
        if refused := await self._refuse_anonymous_upload(request):
            await refused(scope, receive, send)
            return
        try:
            response = await self.run(request)
        except HTTPException as error:
            # Strawberry answers these in plain text; clients expect a GraphQL error body.
            code = "METHOD_NOT_ALLOWED" if error.status_code == 405 else "BAD_REQUEST"
            response = _error_response(error.reason, {"code": code}, error.status_code)
            if error.status_code == 405:
                response.headers["allow"] = "POST"
        except AppError as error:
            # Raised before execution (persisted documents). An unknown hash is a normal
            # step of APQ, answered 200 like Apollo Server so clients retry with the query.
            status = 200 if error.code is ErrorCode.PERSISTED_QUERY_NOT_FOUND else 400
            response = _error_response(
                error.message, {**error.extensions, "code": error.code.value}, status
            )
        if media_type == GRAPHQL_RESPONSE_JSON and response.media_type == JSON:
            response.headers["content-type"] = f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
        await response(scope, receive, send)

    async def _refuse_anonymous_upload(self, request: Request) -> Response | None:
        """A multipart request (a file) is signed in before its body is read: an anonymous
        caller never gets to write up to the upload limit to the server's disk."""
        content_type = request.headers.get("content-type", "").lower()
        if request.method != "POST" or not content_type.startswith("multipart/form-data"):
            return None
        try:
            viewer = await authenticate(
                self.runtime,
                request.headers.get("authorization"),
                request.headers.get("x-organization-id"),
            )
            if viewer is None:
                raise Unauthenticated("Sign in to upload files.")
        except AppError as error:
            status = _REFUSAL_STATUS.get(error.code.value, 400)
            return _error_response(
                error.message, {**error.extensions, "code": error.code.value}, status
            )
        return None

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        parsed = await super().parse_http_body(request)
        if self.persisted_documents is not None:
            for item in parsed if isinstance(parsed, list) else [parsed]:
                await self.persisted_documents.resolve(item, self.runtime.redis)
        return parsed

    def parse_json(self, data: str | bytes) -> Any:
        # The body of a POST (each item of a batch) and the `variables` and `extensions` of a
        # GET; anything but an object would fail later, far from the client's mistake.
        parsed = super().parse_json(data)
        items = parsed if isinstance(parsed, list) else [parsed]
        if not all(isinstance(item, dict) for item in items):
            raise HTTPException(400, NOT_AN_OBJECT)
        return parsed

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        # Strawberry would run a subscription over plain HTTP as if it were a query, which
        # fails deep in execution: it is refused here, with where to go instead.
        allowed = {OperationType.QUERY}
        if request_adapter.method == "POST":
            allowed.add(OperationType.MUTATION)
        try:
            return await self.schema.execute(
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=allowed,
                operation_extensions=request_data.extensions,
            )
        except InvalidOperationTypeError as error:
            if error.operation_type is OperationType.SUBSCRIPTION:
                raise HTTPException(400, SUBSCRIPTIONS_USE_WEBSOCKET) from error
            # A mutation over GET: GraphQL over HTTP asks for 405.
            raise HTTPException(405, error.as_http_error_reason(request_adapter.method)) from error
        except CannotGetOperationTypeError as error:
            raise HTTPException(400, error.as_http_error_reason()) from error
        except MissingQueryError as error:
            raise HTTPException(400, "No GraphQL query found in the request") from error

    async def on_ws_connect(self, context: Context) -> Any:
        """Signs the socket in from the `connection_init` payload: `authorization`
        (`Bearer <access token>`) and, optionally, `organizationId` (a global id, like the
        `X-Organization-Id` header). Refused with 4401 without a valid token, 4403 for an
        organization the user is not a member of (app.live.handlers.ConnectionRefused)."""
        params = context.connection_params or {}
        authorization = params.get("authorization") or params.get("Authorization")
        organization = params.get("organizationId")
        try:
            if not authorization:
                raise Unauthenticated(
                    "Sign in: connection_init needs `authorization: Bearer <access token>`."
                )
            context.viewer = await authenticate(
                self.runtime,
                str(authorization),
                str(organization) if organization is not None else None,
                ip=context.request.client.host if context.request.client else "",
            )
        except AppError as error:
            raise ConnectionRefused(error) from None
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
            if (
                result.data is None
                and request.state.graphql_media_type == GRAPHQL_RESPONSE_JSON
                and all(e.path is None for e in result.errors)
            ):
                # Refused before any field ran (a document or variables refused, bad
                # credentials, a limit): GraphQL over HTTP has no `data` for it, and a 4xx.
                del response["data"]
        if result.extensions:
            response["extensions"] = result.extensions
        return response

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        if isinstance(response_data, dict) and "data" not in response_data:
            [first, *_] = cast("list[dict[str, Any]]", response_data["errors"])
            response.status_code = _REFUSAL_STATUS.get(first.get("extensions", {}).get("code"), 400)
        return response

    def encode_json(self, data: object) -> str:
        # A str, because WebSocket frames must be text frames for GraphQL clients.
        return orjson.dumps(data).decode()

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)


def response_media_type(accept: str | None) -> str:
    """``application/graphql-response+json`` when the client's Accept prefers it over
    ``application/json``; ``application/json`` otherwise (a missing Accept, ``*/*``)."""
    best, best_q = JSON, 0.0
    for item in (accept or "").split(","):
        media_type, *params = (part.strip() for part in item.split(";"))
        if media_type.lower() not in (JSON, GRAPHQL_RESPONSE_JSON):
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        # The first of equal preferences wins.
        if q > best_q:
            best, best_q = media_type.lower(), q
    return best


def _error_response(message: str, extensions: dict[str, Any], status_code: int) -> Response:
    return Response(
        orjson.dumps({"errors": [{"message": message, "extensions": extensions}]}),
        status_code=status_code,
        media_type="application/json",
    )


__all__ = ["GraphQLView", "Response"]
