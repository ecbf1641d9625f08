"""The graphql-transport-ws handler: subscriptions join groups, sends go through a bounded queue.

Strawberry's handler runs one task per operation and awaits each send. Here a subscription is
a :class:`~app.live.groups.Member` of a group (no task of its own). A frame to a connection is
written at once while its socket takes data and nothing waits before it; otherwise it joins
that connection's queue, drained by a short-lived task. A client that reads slowly only fills
its own queue, and when it is more than ``ws_send_queue_frames`` frames (or
``ws_send_queue_bytes``) behind it is closed with code 4499, without slowing anyone else.
Queries and mutations sent over the socket keep strawberry's path.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import orjson
import structlog
from graphql import GraphQLError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    CompleteMessage,
    Message,
    SubscribeMessage,
)

from app.context import Context
from app.errors import AppError
from app.live import metrics
from app.live.groups import TICK_SLICES, Hub, Member
from app.persisted import resolve_subscribe_payload

if TYPE_CHECKING:
    from datetime import timedelta

    from strawberry.http.async_base_view import AsyncBaseHTTPView, AsyncWebSocketAdapter
    from strawberry.schema import BaseSchema

log = structlog.get_logger("parley.live")

_connection_numbers = itertools.count()

CLOSE_TOO_SLOW = 4499
CLOSE_IDLE = 4498
CLOSE_TIMEOUT_SECONDS = 10.0


class LiveHandler(BaseGraphQLTransportWSHandler[Context, None]):
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
        self.hub: Hub = view.live_hub  # type: ignore[attr-defined]
        settings = context.runtime.settings
        self.queue_limit: int = settings.ws_send_queue_frames
        self.queue_bytes_limit: int = settings.ws_send_queue_bytes
        self.frames: deque[str] = deque()
        self.queued_bytes = 0
        self.sender: asyncio.Task[None] | None = None
        self.closing = False
        self.members: dict[str, Member] = {}
        self.last_received = asyncio.get_running_loop().time()
        # Which tenth of the connections this one is pinged with (app.live.groups.Hub._tick).
        self.tick_slice = next(_connection_numbers) % TICK_SLICES
        ws = websocket.ws  # type: ignore[attr-defined]
        self._ws = ws
        # The server's own ASGI send (beneath the middlewares) when it can be found: frames
        # skip the per-message wrappers, and a stuck socket can be aborted.
        self._protocol = _find_protocol(ws._send)
        self._send: Callable[[dict[str, Any]], Coroutine[Any, Any, None]] = (
            self._protocol.send if self._protocol is not None else ws.send
        )
        # uvicorn's sans-I/O protocol: set while its transport is below the high-water mark.
        writable = getattr(self._protocol, "writable", None)
        self._writable: asyncio.Event | None = (
            writable if isinstance(writable, asyncio.Event) else None
        )

    # Connection ---------------------------------------------------------------------------

    async def handle(self) -> None:
        self.hub.add_connection(self)
        try:
            await super().handle()
        finally:
            self.closing = True
            self.hub.remove_connection(self)
            if self.sender is not None:
                self.sender.cancel()

    async def shutdown(self) -> None:
        for member in list(self.members.values()):
            if member.group is not None:
                member.group.leave(member)
        self.members.clear()
        await super().shutdown()

    async def handle_message(self, message: Message) -> None:
        self.last_received = asyncio.get_running_loop().time()
        await super().handle_message(message)

    # Sending ------------------------------------------------------------------------------

    async def send_message(self, message: Message) -> None:
        self.send_frame(orjson.dumps(message).decode())

    def send_frame(self, frame: str) -> bool:
        """Queue a text frame; False when the connection is closing or was just closed for
        being too slow."""
        if self.closing:
            return False
        if self.sender is None and self._writable is not None and self._writable.is_set():
            # Nothing waiting and the socket takes data: send now, without a task. The
            # server's send only suspends while the socket is not writable, so this completes
            # at once; should it ever suspend, the frame goes the queued way instead.
            message = {"type": "websocket.send", "text": frame}
            coroutine = self._send(message)
            try:
                coroutine.send(None)
            except StopIteration:
                return True
            except Exception:
                self.closing = True
                return False
            coroutine.close()
        if len(self.frames) >= self.queue_limit or self.queued_bytes > self.queue_bytes_limit:
            self.close_too_slow()
            return False
        self.frames.append(frame)
        self.queued_bytes += len(frame)
        if self.sender is None:
            self.sender = asyncio.create_task(self._drain())
        return True

    async def _drain(self) -> None:
        frames, send = self.frames, self._send
        try:
            while frames:
                frame = frames.popleft()
                self.queued_bytes -= len(frame)
                await send({"type": "websocket.send", "text": frame})
        except asyncio.CancelledError:
            raise
        except Exception:  # the client went away; the receive loop sees it too
            self.closing = True
            frames.clear()
            self.queued_bytes = 0
        finally:
            self.sender = None

    def close_too_slow(self) -> None:
        metrics.DROPS.inc()
        log.info("ws_consumer_too_slow", queued=len(self.frames))
        self._close_now(CLOSE_TOO_SLOW, "Too slow: the send queue is full")

    def close_idle(self) -> None:
        metrics.CLOSED_IDLE.inc()
        self._close_now(CLOSE_IDLE, "Idle timeout: no message or pong from the client")

    def _close_now(self, code: int, reason: str) -> None:
        if self.closing:
            return
        self.closing = True
        self.frames.clear()
        self.queued_bytes = 0
        for member in list(self.members.values()):
            if member.group is not None:
                member.group.leave(member)
        self.members.clear()
        if self.sender is not None:
            self.sender.cancel()
            self.sender = None
        task = asyncio.create_task(self._close(code, reason))
        task.add_done_callback(self._task_done)

    async def _close(self, code: int, reason: str) -> None:
        # The close frame waits behind what the socket already holds; a client that reads
        # nothing never takes it, so after a while the connection is cut.
        try:
            await asyncio.wait_for(
                self._send({"type": "websocket.close", "code": code, "reason": reason}),
                CLOSE_TIMEOUT_SECONDS,
            )
        except Exception:
            transport = getattr(self._protocol, "transport", None)
            if transport is not None:
                transport.abort()

    def forget_member(self, member: Member) -> None:
        if self.members.get(member.id) is member:
            del self.members[member.id]

    # Operations ---------------------------------------------------------------------------

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        payload = message.get("payload") or {}
        if isinstance(payload, dict):
            try:  # sent by hash (trusted documents, APQ): the query from the manifest
                await resolve_subscribe_payload(
                    getattr(self.view, "persisted_documents", None),
                    payload,  # type: ignore[arg-type]
                    self.context.runtime.redis,
                )
            except AppError as refused:
                extensions = {**refused.extensions, "code": refused.code.value}
                self.send_frame(
                    orjson.dumps(
                        {
                            "id": message["id"],
                            "type": "error",
                            "payload": [{"message": refused.message, "extensions": extensions}],
                        }
                    ).decode()
                )
                return
        query = payload.get("query") if isinstance(payload, dict) else None
        analysis = (
            self.hub.analyzer.analyse(query, payload.get("operationName"))
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
        if operation_id in self.operations or operation_id in self.members:
            await self.websocket.close(
                code=4409, reason=f"Subscriber for {operation_id} already exists"
            )
            return
        if (
            self.max_subscriptions_per_connection is not None
            and len(self.operations) + len(self.members) >= self.max_subscriptions_per_connection
        ):
            error = GraphQLError("Subscription limit reached")
            self.send_frame(
                orjson.dumps(
                    {"id": operation_id, "type": "error", "payload": [error.formatted]}
                ).decode()
            )
            return
        variables = payload.get("variables") or None
        operation_name = payload.get("operationName")
        viewer = self.context.viewer
        member = Member(self, operation_id, viewer)
        if self.hub.shared and not analysis.private_arguments:
            scope: Any = (
                viewer.organization_id if viewer else None,
                viewer.role if viewer else None,
                (viewer.user.id, viewer.claims.session_id, viewer.claims.jti)
                if viewer is not None and analysis.viewer_dependent
                else None,
            )
        else:
            scope = member  # a group of its own
        key = (
            query,
            operation_name,
            orjson.dumps(variables, option=orjson.OPT_SORT_KEYS) if variables else b"",
            scope,
        )
        group = self.hub.group_for(
            key,
            query=query,
            variables=variables,
            operation_name=operation_name,
            context=self.context,
        )
        self.members[operation_id] = member
        group.join(member)

    async def handle_complete(self, message: CompleteMessage) -> None:
        member = self.members.pop(message["id"], None)
        if member is not None and member.group is not None:
            member.group.leave(member)
            return
        await super().handle_complete(message)


def _find_protocol(send: Any) -> Any:
    """The server protocol object behind an ASGI ``send`` wrapped by middlewares (bound
    method or closures), or None."""
    seen: set[int] = set()
    todo = [send]
    while todo:
        item = todo.pop()
        if id(item) in seen or len(seen) > 50:
            continue
        seen.add(id(item))
        owner = getattr(item, "__self__", None)
        if owner is not None and hasattr(owner, "transport") and hasattr(owner, "send"):
            return owner
        for cell in getattr(item, "__closure__", None) or ():
            with contextlib.suppress(ValueError):
                if callable(cell.cell_contents):
                    todo.append(cell.cell_contents)
        wrapped = getattr(item, "__wrapped__", None)
        if wrapped is not None:
            todo.append(wrapped)
    return None
