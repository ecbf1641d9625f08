"""The two GraphQL WebSocket protocols, served by the same app/live machinery.

graphql-transport-ws (:class:`LiveHandler`) and the legacy graphql-ws of
subscriptions-transport-ws (:class:`LegacyLiveHandler`, Python gql's default, older Apollo
clients) both send through a :class:`~app.live.connection.LiveSocket`: the same groups, send
queue (4499), idle timeout (4498), token expiry (4401) and metrics. Queries and mutations over
either run in a task of their own. Received messages are capped like request bodies (1009).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Mapping
from json import JSONDecodeError
from typing import TYPE_CHECKING, Any

import orjson
from graphql import GraphQLError
from starlette.websockets import WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import NonJsonMessageReceived, NonTextMessageReceived
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    CompleteMessage,
    ConnectionInitMessage,
    Message,
    SubscribeMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import (
    ConnectionInitMessage as LegacyConnectionInitMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.types import (
    OperationMessage,
    StartMessage,
    StopMessage,
)
from strawberry.types.execution import ExecutionResult, PreExecutionError
from strawberry.utils.aio import aclosing

from app.documents.persisted import resolve_subscribe_payload
from app.live.connection import (
    CLOSE_FORBIDDEN,
    CLOSE_TOO_BIG,
    CLOSE_UNAUTHENTICATED,
    LiveSocket,
)
from app.live.frames import LEGACY_WS, TRANSPORT_WS, complete_frame
from app.platform.context import Context
from app.platform.errors import AppError, ErrorCode

if TYPE_CHECKING:
    from datetime import timedelta

    from starlette.websockets import WebSocket
    from strawberry.http.async_base_view import AsyncBaseHTTPView, AsyncWebSocketAdapter
    from strawberry.schema import BaseSchema


class ConnectionRefused(Exception):
    """``connection_init`` refused: 4401 when the client should sign in or refresh its token
    and reconnect, 4403 when that would not help (an organization it is not a member of)."""

    def __init__(self, error: AppError) -> None:
        super().__init__(error.message)
        unauthenticated = error.code is ErrorCode.UNAUTHENTICATED
        self.code = CLOSE_UNAUTHENTICATED if unauthenticated else CLOSE_FORBIDDEN
        # A close reason holds at most 123 bytes.
        self.reason = error.message.encode()[:123].decode(errors="ignore")
        self.payload = {
            "message": error.message,
            "extensions": {**error.extensions, "code": error.code.value},
        }


class LiveWebSocketAdapter(ASGIWebSocketAdapter):
    """Strawberry's adapter, with each received message capped at PARLEY_MAX_BODY_BYTES like
    a request body: a larger one closes the socket with 1009. uvicorn is given the same cap
    (``ws_max_size``, app.cli) and refuses the frame before reading it all; this holds the
    limit under any server."""

    def __init__(self, view: Any, request: WebSocket, response: WebSocket) -> None:
        super().__init__(view, request, response)
        self.max_bytes: int = view.runtime.settings.max_body_bytes

    async def iter_json(
        self, *, ignore_parsing_errors: bool = False
    ) -> AsyncGenerator[object, None]:
        try:
            while self.ws.application_state != WebSocketState.DISCONNECTED:
                text = await self.ws.receive_text()
                if _too_big(text, self.max_bytes):
                    await self.close(CLOSE_TOO_BIG, f"Message too big: over {self.max_bytes} bytes")
                    return
                try:
                    message = self.view.decode_json(text)
                except JSONDecodeError as error:
                    if ignore_parsing_errors:
                        continue
                    raise NonJsonMessageReceived from error
                yield message
        except KeyError as error:  # a binary message
            raise NonTextMessageReceived from error
        except WebSocketDisconnect:
            pass


def _too_big(text: str, max_bytes: int) -> bool:
    return len(text) > max_bytes or (not text.isascii() and len(text.encode()) > max_bytes)


class LiveHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws."""

    def __init__(
        self,
        view: AsyncBaseHTTPView[Any, Any, Any, Any, Any, Context, None],
        websocket: AsyncWebSocketAdapter,
        context: Context,
        root_value: None,
        schema: BaseSchema,
        connection_init_wait_timeout: timedelta,
        max_subscriptions_per_connection: int | None = None,
    ) -> None:
        super().__init__(
            view,
            websocket,
            context,
            root_value,
            schema,
            connection_init_wait_timeout,
            max_subscriptions_per_connection,
        )
        self.live = LiveSocket(
            view.live_hub,  # type: ignore[attr-defined]
            websocket.ws,  # type: ignore[attr-defined]
            context,
            TRANSPORT_WS,
        )

    async def handle(self) -> None:
        self.live.opened()
        try:
            await super().handle()
        finally:
            self.live.ended()

    async def shutdown(self) -> None:
        self.live.leave_all()
        await super().shutdown()

    async def handle_message(self, message: Message) -> None:
        self.live.received()
        if not isinstance(message, dict):
            await self.handle_invalid_message("Failed to parse message")
            return
        await super().handle_message(message)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        acknowledged = self.connection_acknowledged
        try:
            await super().handle_connection_init(message)
        except ConnectionRefused as refused:
            await self.websocket.close(code=refused.code, reason=refused.reason)
            return
        if self.connection_acknowledged and not acknowledged:
            self.live.accepted(self.context.viewer)

    async def send_message(self, message: Message) -> None:
        self.live.send_frame(orjson.dumps(message).decode())

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        payload = message.get("payload") or {}
        if isinstance(payload, dict) and not await self._resolve_persisted(
            message["id"],
            payload,  # type: ignore[arg-type]
        ):
            return
        query = payload.get("query") if isinstance(payload, dict) else None
        analysis = (
            self.live.hub.analyzer.analyse(query, payload.get("operationName"))
            if isinstance(query, str)
            else None
        )
        if analysis is None or not analysis.is_subscription:
            await super().handle_subscribe(message)
            return
        if not self.connection_acknowledged:
            await self.websocket.close(code=4401, reason="Unauthorized")
            return
        operation_id = message["id"]
        if operation_id in self.operations or operation_id in self.live.members:
            await self.websocket.close(
                code=4409, reason=f"Subscriber for {operation_id} already exists"
            )
            return
        if (
            self.max_subscriptions_per_connection is not None
            and len(self.operations) + len(self.live.members)
            >= self.max_subscriptions_per_connection
        ):
            error = GraphQLError("Subscription limit reached")
            self.live.send_frame(TRANSPORT_WS.error_frame(operation_id, [error.formatted]))
            return
        self.live.join(operation_id, payload, analysis)

    async def handle_complete(self, message: CompleteMessage) -> None:
        if not self.live.leave(message["id"]):
            await super().handle_complete(message)

    async def _resolve_persisted(self, operation_id: str, payload: dict[str, Any]) -> bool:
        """A subscribe sent by hash (trusted documents, APQ) gets its query from the manifest;
        False (with an `error` frame sent) when the hash is unknown."""
        try:
            await resolve_subscribe_payload(
                getattr(self.view, "persisted_documents", None),
                payload,  # type: ignore[arg-type]
                self.context.runtime.redis,
            )
        except AppError as refused:
            extensions = {**refused.extensions, "code": refused.code.value}
            error = {"message": refused.message, "extensions": extensions}
            self.live.send_frame(TRANSPORT_WS.error_frame(operation_id, [error]))
            return False
        return True


class LegacyLiveHandler(BaseGraphQLWSHandler[Context, None]):
    """graphql-ws (subscriptions-transport-ws): ``start``/``stop``, ``data``, ``ka``."""

    def __init__(
        self,
        view: AsyncBaseHTTPView[Any, Any, Any, Any, Any, Context, None],
        websocket: AsyncWebSocketAdapter,
        context: Context,
        root_value: None,
        schema: BaseSchema,
        keep_alive: bool,
        keep_alive_interval: float | None,
        max_subscriptions_per_connection: int | None = None,
    ) -> None:
        # The hub's ticker sends `ka` (LiveSocket.keepalive): strawberry's task stays off.
        super().__init__(
            view,
            websocket,
            context,
            root_value,
            schema,
            False,
            None,
            max_subscriptions_per_connection,
        )
        self.live = LiveSocket(
            view.live_hub,  # type: ignore[attr-defined]
            websocket.ws,  # type: ignore[attr-defined]
            context,
            LEGACY_WS,
        )

    async def handle(self) -> None:
        self.live.opened()
        try:
            await super().handle()
        finally:
            self.live.ended()

    async def cleanup(self) -> None:
        self.live.leave_all()
        await super().cleanup()

    async def handle_message(self, message: OperationMessage) -> None:
        self.live.received()
        if isinstance(message, dict) and "type" in message:  # graphql-ws ignores the rest
            await super().handle_message(message)

    async def handle_connection_init(self, message: LegacyConnectionInitMessage) -> None:
        acknowledged = self.connection_acknowledged
        try:
            await super().handle_connection_init(message)
        except ConnectionRefused as refused:
            self.live.send_frame(
                orjson.dumps({"type": "connection_error", "payload": refused.payload}).decode()
            )
            await self.live.flush()
            await self.websocket.close(code=refused.code, reason=refused.reason)
            return
        if self.connection_acknowledged and not acknowledged:
            self.live.accepted(self.context.viewer)

    async def send_message(self, message: OperationMessage) -> None:
        self.live.send_frame(orjson.dumps(message).decode())

    async def handle_start(self, message: StartMessage) -> None:
        if not self.connection_acknowledged:
            await self.websocket.close(code=4401, reason="Unauthorized")
            return
        operation_id = message.get("id")
        payload = message.get("payload")
        if not isinstance(operation_id, str):
            return  # nothing to answer to
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            error = GraphQLError("A `start` payload needs a `query` string.")
            self.live.send_frame(LEGACY_WS.error_frame(operation_id, [error.formatted]))
            return
        # A `start` with the id of a running operation replaces it (as strawberry does).
        self.live.leave(operation_id)
        await self.cleanup_operation(operation_id)
        if (
            self.max_subscriptions_per_connection is not None
            and len(self.tasks) + len(self.live.members) >= self.max_subscriptions_per_connection
        ):
            error = GraphQLError("Subscription limit reached")
            self.live.send_frame(LEGACY_WS.error_frame(operation_id, [error.formatted]))
            return
        analysis = self.live.hub.analyzer.analyse(payload["query"], payload.get("operationName"))
        if analysis is not None and analysis.is_subscription:
            self.live.join(operation_id, payload, analysis)
            return
        task = asyncio.create_task(self._execute(operation_id, payload))
        self.tasks[operation_id] = task

    async def _execute(self, operation_id: str, payload: Mapping[str, Any]) -> None:
        """A query or mutation (or a document that fails before execution): its result as
        `data`, then `complete`; an error before execution as `error`."""
        try:
            source = await self.schema.stream(
                payload["query"],
                variable_values=payload.get("variables") or None,
                context_value=self.context,
                root_value=None,
                operation_name=payload.get("operationName"),
            )
            async with aclosing(source):
                async for result in source:
                    if isinstance(result, PreExecutionError):
                        errors = [error.formatted for error in result.errors or ()]
                        self.live.send_frame(LEGACY_WS.error_frame(operation_id, errors))
                        return
                    if not isinstance(result, ExecutionResult):
                        error = GraphQLError(
                            "Incremental delivery is not supported over graphql-ws"
                        )
                        self.live.send_frame(LEGACY_WS.error_frame(operation_id, [error.formatted]))
                        return
                    self.live.send_frame(_data_frame(operation_id, result))
            self.live.send_frame(complete_frame(operation_id))
        finally:
            if self.tasks.get(operation_id) is asyncio.current_task():
                del self.tasks[operation_id]

    async def handle_stop(self, message: StopMessage) -> None:
        operation_id = message.get("id")
        if not isinstance(operation_id, str):
            return
        known = operation_id in self.tasks or operation_id in self.live.members
        self.live.leave(operation_id)
        await self.cleanup_operation(operation_id)
        if known:
            # subscriptions-transport-ws clients wait for it after `stop`.
            self.live.send_frame(complete_frame(operation_id))


def _data_frame(operation_id: str, result: ExecutionResult) -> str:
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [error.formatted for error in result.errors]
    if result.extensions:
        payload["extensions"] = result.extensions
    return orjson.dumps({"id": operation_id, "type": "data", "payload": payload}).decode()
