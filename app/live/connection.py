"""One WebSocket's side of app/live, whatever its protocol: bounded sends, group members,
liveness and the access token's expiry.

Strawberry's handlers run one task per operation and await each send. Here a subscription is
a :class:`~app.live.groups.Member` of a group (no task of its own). A frame to a connection is
written at once while its socket takes data and nothing waits before it; otherwise it joins
that connection's queue, drained by a short-lived task. A client that reads slowly only fills
its own queue, and when it is more than ``ws_send_queue_frames`` frames (or
``ws_send_queue_bytes``) behind it is closed with code 4499, without slowing anyone else.
The protocol handlers (:mod:`app.live.handlers`) own a :class:`LiveSocket` each; its
:class:`~app.live.frames.Dialect` is what differs between graphql-transport-ws and the legacy
graphql-ws.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any

import orjson
import structlog

from app.live import metrics
from app.live.frames import Dialect
from app.live.groups import TICK_SLICES, Hub, Member
from app.platform import clock
from app.platform.context import Context, Viewer

if TYPE_CHECKING:
    from starlette.websockets import WebSocket

    from app.live.sharing import Analysis

log = structlog.get_logger("parley.live")

_connection_numbers = itertools.count()

# Close codes (README, "Live subscriptions"); 4400, 4406, 4408, 4409 and 4429 are the protocol's.
CLOSE_TOO_BIG = 1009
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_IDLE = 4498
CLOSE_TOO_SLOW = 4499
CLOSE_TIMEOUT_SECONDS = 10.0


class LiveSocket:
    def __init__(self, hub: Hub, ws: WebSocket, context: Context, dialect: Dialect) -> None:
        self.hub = hub
        self.context = context
        self.dialect = dialect
        settings = context.runtime.settings
        self.queue_limit: int = settings.ws_send_queue_frames
        self.queue_bytes_limit: int = settings.ws_send_queue_bytes
        self.frames: deque[str] = deque()
        self.queued_bytes = 0
        self.sender: asyncio.Task[None] | None = None
        self.closing = False
        self.acknowledged = False
        self.members: dict[str, Member] = {}
        self._loop = asyncio.get_running_loop()
        self.last_received = self._loop.time()
        self._last_pong = 0.0
        self._expiry: asyncio.TimerHandle | None = None
        # Which tenth of the connections this one is pinged with (app.live.groups.Hub._tick).
        self.tick_slice = next(_connection_numbers) % TICK_SLICES
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

    # Life ---------------------------------------------------------------------------------

    def opened(self) -> None:
        self.hub.add_connection(self)

    def received(self) -> None:
        self.last_received = self._loop.time()

    def accepted(self, viewer: Viewer | None) -> None:
        """``connection_init`` was acknowledged: keep-alives flow, and the socket closes with
        4401 when the access token expires (the client refreshes it and reconnects)."""
        self.acknowledged = True
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        if viewer is not None:
            delay = max(0.0, viewer.claims.expires_at - clock.timestamp())
            self._expiry = self._loop.call_later(delay, self.close_expired)

    def ended(self) -> None:
        self.closing = True
        self.hub.remove_connection(self)
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        if self.sender is not None:
            self.sender.cancel()

    def silent_for(self, now: float) -> float | None:
        """Seconds since the client was last heard from; None when that cannot be told."""
        if self.dialect.client_answers_keepalive:
            return now - self.last_received
        # A graphql-ws client sends nothing after `start`; its sign of life is the WebSocket
        # pong to the server's protocol-level ping (uvicorn's websockets-sansio protocol with
        # ws_ping_interval, as `parley serve` and `parley dev` run it). A ping answered has
        # no payload pending; it was answered after it was sent.
        protocol = self._protocol
        if not getattr(protocol, "ping_interval", None):
            return None
        if getattr(protocol, "pending_ping_payload", b"") is None:
            self._last_pong = max(self._last_pong, float(getattr(protocol, "ping_sent_at", 0.0)))
        return now - max(self.last_received, self._last_pong)

    def keepalive(self) -> None:
        # graphql-ws sends `ka` only after `connection_ack`.
        if self.acknowledged or self.dialect.client_answers_keepalive:
            self.send_frame(self.dialect.keepalive_frame)

    # Subscriptions ------------------------------------------------------------------------

    def join(self, operation_id: str, payload: Mapping[str, Any], analysis: Analysis) -> None:
        """The subscription ``operation_id`` joins the group of its document, variables and
        authorization scope (one of its own when it is private or sharing is off)."""
        query: str = payload["query"]
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

    def leave(self, operation_id: str) -> bool:
        """Ends the subscription ``operation_id``; False when it is not one of this socket's."""
        member = self.members.pop(operation_id, None)
        if member is None:
            return False
        if member.group is not None:
            member.group.leave(member)
        return True

    def leave_all(self) -> None:
        for member in list(self.members.values()):
            if member.group is not None:
                member.group.leave(member)
        self.members.clear()

    def forget_member(self, member: Member) -> None:
        if self.members.get(member.id) is member:
            del self.members[member.id]

    # Sending ------------------------------------------------------------------------------

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

    async def flush(self) -> None:
        """Waits until the frames queued so far are written (or dropped)."""
        sender = self.sender
        if sender is not None:
            await asyncio.wait({sender})

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

    # Closing ------------------------------------------------------------------------------

    def close_too_slow(self) -> None:
        metrics.DROPS.inc()
        log.info("ws_consumer_too_slow", queued=len(self.frames))
        self._close_now(CLOSE_TOO_SLOW, "Too slow: the send queue is full")

    def close_idle(self) -> None:
        metrics.CLOSED_IDLE.inc()
        self._close_now(CLOSE_IDLE, "Idle timeout: no message or pong from the client")

    def close_expired(self) -> None:
        self._expiry = None
        self._close_now(CLOSE_UNAUTHENTICATED, "Token expired: refresh it and reconnect")

    def _close_now(self, code: int, reason: str) -> None:
        if self.closing:
            return
        self.closing = True
        self.frames.clear()
        self.queued_bytes = 0
        self.leave_all()
        if self.sender is not None:
            self.sender.cancel()
            self.sender = None
        task = asyncio.create_task(self._close(code, reason))
        task.add_done_callback(_task_done)

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


def _task_done(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()


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
