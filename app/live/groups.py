"""Subscription groups: one execution per event, the same frame to every member.

Members of a group share the document, the variables and the authorization scope (see
:mod:`app.live.sharing`), so executing an event once for the group is executing it for each of
them. The group's execution runs with the context of the member that created it; every member
is still authorized on its own on each event (its session not revoked, still a member with the
same role) by :meth:`Group.authorize`, which the event streams call.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import orjson
import structlog
from graphql import GraphQLError
from strawberry.types.execution import ExecutionResult, PreExecutionError
from strawberry.utils.aio import aclosing

from app.live import metrics
from app.live.frames import Dialect, complete_frame
from app.models.accounts import Membership, Role
from app.platform.context import Context, Viewer
from app.platform.errors import AppError, Unauthenticated
from app.platform.security import revoked_jti_key, revoked_session_key

if TYPE_CHECKING:
    from strawberry.schema import BaseSchema

    from app.documents.limits import DocumentGate

log = structlog.get_logger("parley.live")

GroupKey = tuple[Any, ...]


class Socket(Protocol):
    """What members and the hub need of a WebSocket connection
    (:class:`app.live.connection.LiveSocket`, which builds on this module)."""

    dialect: Dialect
    # Which tenth of the connections the hub pings this one with.
    tick_slice: int

    def send_frame(self, frame: str) -> bool: ...

    def forget_member(self, member: Member) -> None: ...

    def silent_for(self, now: float) -> float | None: ...

    def keepalive(self) -> None: ...

    def close_idle(self) -> None: ...


@dataclass(eq=False)
class GroupContext(Context):
    """The context a group executes with: its creator's, plus the group itself."""

    live_group: Group | None = None


class Member:
    """One subscription (an operation id on a connection) in a group."""

    __slots__ = ("connection", "group", "id", "prefix", "revoked_keys", "role", "user_id")

    def __init__(self, connection: Socket, operation_id: str, viewer: Viewer | None) -> None:
        self.connection = connection
        self.id = operation_id
        # Each `next` (graphql-ws: `data`) frame is this prefix, the group's encoded payload
        # and a closing brace: one group serves the sockets of both protocols.
        self.prefix = (
            '{"id":'
            + orjson.dumps(operation_id).decode()
            + ',"type":"'
            + connection.dialect.next_type
            + '","payload":'
        )
        self.group: Group | None = None
        self.user_id = viewer.user.id if viewer is not None else None
        self.role = viewer.role if viewer is not None else None
        keys: list[str] = []
        if viewer is not None:
            keys.append(revoked_jti_key(viewer.claims.jti))
            if viewer.claims.session_id is not None:
                keys.append(revoked_session_key(viewer.claims.session_id))
        self.revoked_keys = tuple(keys)


class Group:
    def __init__(
        self,
        hub: Hub,
        key: GroupKey,
        *,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        context: Context,
    ) -> None:
        self.hub = hub
        self.key = key
        self.query = query
        self.variables = variables
        self.operation_name = operation_name
        self.context = GroupContext(
            request=context.request,
            response=context.response,
            runtime=context.runtime,
            viewer=context.viewer,
            connection_params=context.connection_params,
            live_group=self,
        )
        self.members: dict[Member, None] = {}
        self.closed = False
        self.task: asyncio.Task[None] | None = None

    # Membership ---------------------------------------------------------------------------

    def join(self, member: Member) -> None:
        member.group = self
        self.members[member] = None
        metrics.SUBSCRIPTIONS.inc()
        if self.task is None:
            self.task = asyncio.create_task(self._run(), name="live-group")

    def leave(self, member: Member) -> None:
        """The member's client completed it or went away: nothing more is sent to it."""
        self._remove(member)
        if not self.members and self.task is not None and self.task is not asyncio.current_task():
            self.task.cancel()
            self._close()

    def _remove(self, member: Member) -> None:
        if self.members.pop(member, False) is None:
            metrics.SUBSCRIPTIONS.dec()
            member.connection.forget_member(member)

    def end_member(self, member: Member, error: AppError | None = None) -> None:
        """End one member's subscription: with an ``error`` message, or ``complete``."""
        if member not in self.members:
            return
        self._remove(member)
        if error is None:
            member.connection.send_frame(complete_frame(member.id))
        else:
            formatted = GraphQLError(
                error.message, extensions={**error.extensions, "code": error.code.value}
            ).formatted
            member.connection.send_frame(
                member.connection.dialect.error_frame(member.id, [formatted])
            )

    # Authorization, per member ------------------------------------------------------------

    async def authorize(self, organization_id: int, *, membership: bool) -> bool:
        """End the members whose session or token was revoked (UNAUTHENTICATED) and, with
        ``membership``, those no longer members of the organization with the same role.
        False when no member is left."""
        redis = self.context.runtime.redis
        members = list(self.members)
        keys = {key for member in members for key in member.revoked_keys}
        # One EXISTS for the whole group; only when something is revoked, find whose.
        if keys and await redis.exists(*keys):
            for member in members:
                if member.revoked_keys and await redis.exists(*member.revoked_keys):
                    self.end_member(member, Unauthenticated("The session has been revoked."))
        if membership:
            members = list(self.members)
            user_ids = {m.user_id for m in members if m.user_id is not None}
            roles: dict[int, Role] = {}
            if user_ids:
                rows = await Membership.filter(
                    organization_id=organization_id, user_id__in=sorted(user_ids)
                ).values_list("user_id", "role")
                roles = {int(user_id): Role(role) for user_id, role in rows}
            for member in members:
                if member.user_id is not None and roles.get(member.user_id) != member.role:
                    # Removed, or a role change: the client resubscribes in its new scope.
                    self.end_member(member)
        return bool(self.members)

    # Execution ----------------------------------------------------------------------------

    async def _run(self) -> None:
        schema: BaseSchema = self.hub.schema
        try:
            source = await schema.stream(  # type: ignore[attr-defined]
                self.query,
                variable_values=self.variables,
                context_value=self.context,
                root_value=None,
                operation_name=self.operation_name,
            )
            first = True
            async with aclosing(source):
                async for result in source:
                    if first and isinstance(result, PreExecutionError):
                        self._error_all([e.formatted for e in result.errors or ()])
                        return
                    first = False
                    if not isinstance(result, ExecutionResult):
                        message = "Incremental delivery is not supported over graphql-transport-ws"
                        self._error_all([GraphQLError(message).formatted])
                        return
                    self._deliver(result)
                    if not self.members:
                        return
            for member in list(self.members):
                self.end_member(member)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("live_group_failed")
            self._error_all([GraphQLError("Internal server error").formatted])
        finally:
            self._close()

    def _deliver(self, result: ExecutionResult) -> None:
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            payload["errors"] = [error.formatted for error in result.errors]
        if result.extensions:
            payload["extensions"] = _shared_extensions(result.extensions)
        text = orjson.dumps(payload).decode() + "}"
        metrics.EXECUTIONS.inc()
        delivered = 0
        for member in list(self.members):
            if member.connection.send_frame(member.prefix + text):
                delivered += 1
        metrics.DELIVERIES.inc(delivered)

    def _error_all(self, errors: list[Any]) -> None:
        for member in list(self.members):
            self._remove(member)
            member.connection.send_frame(member.connection.dialect.error_frame(member.id, errors))

    def _close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.hub.forget_group(self)
        for member in list(self.members):
            self._remove(member)


def _shared_extensions(extensions: dict[str, Any]) -> dict[str, Any]:
    """The extensions every member may see: the cost of the document, not the budget left to
    the member whose context the group executes with."""
    cost = extensions.get("cost")
    if isinstance(cost, dict) and "throttleStatus" in cost:
        cost = {key: value for key, value in cost.items() if key != "throttleStatus"}
        return {**extensions, "cost": cost}
    return extensions


class Hub:
    """The process's groups and live connections, and the keep-alive ticker."""

    def __init__(
        self,
        schema: BaseSchema,
        *,
        shared: bool,
        keepalive: float,
        idle: float,
        gate: DocumentGate | None = None,
    ) -> None:
        self.schema = schema
        self.shared = shared
        self.keepalive = keepalive
        self.idle = idle
        self.groups: dict[GroupKey, Group] = {}
        self.connections: set[Socket] = set()
        self._ticker: asyncio.Task[None] | None = None
        from app.live.sharing import DocumentAnalyzer

        self.analyzer = DocumentAnalyzer(schema._schema, gate=gate)  # type: ignore[attr-defined]

    def group_for(
        self,
        key: GroupKey,
        *,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        context: Context,
    ) -> Group:
        group = self.groups.get(key)
        if group is None or group.closed:
            group = Group(
                self,
                key,
                query=query,
                variables=variables,
                operation_name=operation_name,
                context=context,
            )
            self.groups[key] = group
            metrics.GROUPS.inc()
        return group

    def forget_group(self, group: Group) -> None:
        if self.groups.get(group.key) is group:
            del self.groups[group.key]
            metrics.GROUPS.dec()

    def add_connection(self, connection: Socket) -> None:
        self.connections.add(connection)
        metrics.CONNECTIONS.inc()
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.create_task(self._tick(), name="live-keepalive")

    def remove_connection(self, connection: Socket) -> None:
        if connection in self.connections:
            self.connections.discard(connection)
            metrics.CONNECTIONS.dec()

    async def _tick(self) -> None:
        """Pings every connection each ``keepalive`` seconds and closes those silent too long,
        a tenth of them at a time, so thousands of pings (and their pongs) do not all land at
        once in front of the events."""
        loop = asyncio.get_running_loop()
        slice_number = 0
        while self.connections:
            await asyncio.sleep(self.keepalive / TICK_SLICES)
            now = loop.time()
            for connection in list(self.connections):
                if connection.tick_slice != slice_number:
                    continue
                silent = connection.silent_for(now)
                if silent is not None and silent > self.idle:
                    connection.close_idle()
                else:
                    connection.keepalive()
            slice_number = (slice_number + 1) % TICK_SLICES

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker


TICK_SLICES = 10
