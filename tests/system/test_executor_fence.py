"""The fence around app/schema/executor.py and app/live/connection.py.

Both reach below the public APIs of graphql-core, strawberry, starlette and uvicorn. What they
rely on is pinned here (signatures, attributes, and the source of the functions the executor
re-implements), so that an upgrade that changes any of it fails here, naming the member, rather
than somewhere in the inbox. ``PARLEY_FAST_EXECUTOR=false`` is the way back: strawberry's stock
execution, with the same answers.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import textwrap
from collections.abc import Callable
from enum import Enum
from typing import Any, ClassVar

import httpx
import pytest
import strawberry
import websockets
from graphql import (
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLID,
    GraphQLResolveInfoHelpers,
    GraphQLString,
    MiddlewareManager,
)
from graphql.execution.executor import Executor, to_nodes
from graphql.execution.incremental.incremental_executor import IncrementalExecutor
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path, gather_with_cancel
from starlette.routing import Route
from starlette.websockets import WebSocket
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter, get_arguments
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.types.arguments import convert_arguments
from strawberry.types.base import StrawberryMaybe, StrawberryOptional
from strawberry.types.field import StrawberryField
from strawberry.types.fields.resolver import StrawberryResolver
from uvicorn.config import WS_PROTOCOLS
from uvicorn.protocols.websockets.auto import AutoWebSocketsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from app.live.handlers import LiveHandler
from app.models.accounts import Role
from app.schema.executor import ParleyExecutor
from tests.support.client import Api
from tests.support.messaging import member, sandbox_device, simulate, unique_phone
from tests.support.server import RunningServer, make_settings, run_server

EXECUTOR = "app/schema/executor.py"
LIVE = "app/live/connection.py"

# (member, signature it had when pinned, who relies on it)
SIGNATURES: list[tuple[Any, str, str]] = [
    (
        StrawberryGraphQLCoreExecutionContext.__init__,
        "(self, *args: 'Any', **kwargs: 'Any') -> 'None'",
        f"{EXECUTOR} subclasses it",
    ),
    (
        Executor.execute_fields,
        "(self, parent_type: 'GraphQLObjectType', source_value: 'Any', path: 'Path | None', "
        "grouped_field_set: 'GroupedFieldSet', position_context: 'TContext | None') "
        "-> 'AwaitableOrValue[dict[str, Any]]'",
        f"{EXECUTOR} overrides it",
    ),
    (
        Executor.execute_field,
        "(self, parent_type: 'GraphQLObjectType', source: 'Any', field_details_list: "
        "'FieldDetailsList', path: 'Path', position_context: 'TContext | None') "
        "-> 'AwaitableOrValue[Any] | UndefinedType'",
        f"{EXECUTOR} falls back to it",
    ),
    (
        StrawberryGraphQLCoreExecutionContext.build_resolve_info,
        "(self, field_def: 'GraphQLField', field_nodes: 'list[FieldNode]', parent_type: "
        "'GraphQLObjectType', path: 'Path') -> 'GraphQLResolveInfo'",
        f"{EXECUTOR} builds the info of plain resolvers with it",
    ),
    (
        Executor.complete_value,
        "(self, return_type: 'GraphQLOutputType', field_details_list: 'FieldDetailsList', "
        "info: 'GraphQLResolveInfo', path: 'Path', result: 'Any', position_context: "
        "'TContext | None') -> 'AwaitableOrValue[Any]'",
        f"{EXECUTOR} overrides and calls it",
    ),
    (
        Executor.complete_awaitable_value,
        "(self, return_type: 'GraphQLOutputType', field_details_list: 'FieldDetailsList', "
        "info: 'GraphQLResolveInfo', path: 'Path', result: 'Any', position_context: "
        "'TContext | None') -> 'Any'",
        f"{EXECUTOR} completes an awaitable resolver result with it",
    ),
    (
        Executor.handle_field_error,
        "(self, raw_error: 'Exception', return_type: 'GraphQLOutputType', field_details_list: "
        "'FieldDetailsList', path: 'Path') -> 'None'",
        f"{EXECUTOR} reports field errors with it",
    ),
    (
        Executor.collect_subfields,
        "(self, return_type: 'GraphQLObjectType', field_details_list: 'FieldDetailsList') "
        "-> 'CollectedFields'",
        f"{EXECUTOR} unpacks its (grouped_field_set, new_defer_usages, _) result",
    ),
    (
        IncrementalExecutor.execute_collected_subfields,
        "(self, parent_type: 'GraphQLObjectType', source_value: 'Any', path: 'Path', "
        "grouped_field_set: 'GroupedFieldSet', new_defer_usages: 'Sequence[DeferUsage]', "
        "delivery_group_map: 'DeliveryGroupMap | None') -> 'AwaitableOrValue[dict[str, Any]]'",
        f"{EXECUTOR} completes a deferred object with it",
    ),
    (
        Executor.collect_and_execute_subfields,
        "(self, return_type: 'GraphQLObjectType', field_details_list: 'FieldDetailsList', "
        "path: 'Path', result: 'Any', position_context: 'TContext | None') "
        "-> 'AwaitableOrValue[dict[str, Any]]'",
        f"{EXECUTOR} completes an object of its declared type with it",
    ),
    (
        IncrementalExecutor.build_response,
        "(self, data: 'dict[str, Any] | None') "
        "-> 'ExecutionResult | ExperimentalIncrementalExecutionResults'",
        f"{EXECUTOR} overrides it (drops the resolver helpers of a complete operation)",
    ),
    (
        Executor.build_per_event_executor,
        "(self, payload: 'Any') -> 'Executor'",
        f"{EXECUTOR} overrides it (a fresh memo per subscription event)",
    ),
    (
        Executor.settle_in_background,
        "(self, awaitables: 'list[Awaitable[Any]]') -> 'None'",
        f"{EXECUTOR} settles the awaitables of a failed object with it",
    ),
    (to_nodes, "(field_details_list: 'FieldDetailsList') -> 'list[FieldNode]'", EXECUTOR),
    (
        get_argument_values,
        "(type_def: 'GraphQLField | GraphQLDirective', node: 'FieldNode | DirectiveNode', "
        "variable_values: 'VariableValues | None' = None, fragment_variable_values: "
        "'FragmentVariableValues | None' = None, hide_suggestions: 'bool' = False) "
        "-> 'dict[str, Any]'",
        f"{EXECUTOR} coerces a plain resolver's arguments with it",
    ),
    (gather_with_cancel, "(*awaitables: 'Awaitable[Any]') -> 'list[Any]'", EXECUTOR),
    (
        GraphQLEnumType.coerce_output_value,
        "(self, output_value: 'Any') -> 'str'",
        f"{EXECUTOR} builds its enum tables with it",
    ),
    (
        strawberry.Info,
        "(_raw_info: 'GraphQLResolveInfo', _field: 'StrawberryField') -> None",
        f"{EXECUTOR} builds a plain resolver's Info as strawberry does",
    ),
    (
        BaseGraphQLTransportWSHandler.__init__,
        "(self, view: 'AsyncBaseHTTPView[Any, Any, Any, Any, Any, Context, RootValue]', "
        "websocket: 'AsyncWebSocketAdapter', context: 'Context', root_value: "
        "'RootValue | None', schema: 'BaseSchema', connection_init_wait_timeout: 'timedelta', "
        "max_subscriptions_per_connection: 'int | None' = None) -> 'None'",
        f"{LIVE} subclasses it",
    ),
    *(
        (getattr(BaseGraphQLTransportWSHandler, name), signature, f"{LIVE} overrides it")
        for name, signature in (
            ("handle", "(self) -> 'None'"),
            ("shutdown", "(self) -> 'None'"),
            ("handle_message", "(self, message: 'Message') -> 'None'"),
            ("send_message", "(self, message: 'Message') -> 'None'"),
            ("handle_subscribe", "(self, message: 'SubscribeMessage') -> 'None'"),
            ("handle_complete", "(self, message: 'CompleteMessage') -> 'None'"),
        )
    ),
    (
        BaseGraphQLTransportWSHandler._task_done,
        "(self, task: 'asyncio.Task') -> 'None'",
        f"{LIVE} hands its close task to it",
    ),
    (
        ASGIWebSocketAdapter.__init__,
        "(self, view: 'AsyncBaseHTTPView', request: 'WebSocket', response: 'WebSocket') -> 'None'",
        f"{LIVE} reads its .ws",
    ),
    (
        WebSocket.__init__,
        "(self, scope: 'Scope', receive: 'Receive', send: 'Send') -> 'None'",
        f"{LIVE} reads its ._send",
    ),
    (
        WebSocketsSansIOProtocol.send,
        "(self, message: 'ASGISendEvent') -> 'None'",
        f"{LIVE} sends frames with it, stepping the coroutine once",
    ),
]

# The source of what the fast executor re-implements or assumes, as sha256[:16] of the
# dedented source. A change means: read the new code, port it to the file named, re-pin.
SOURCES: list[tuple[Any, str, str]] = [
    (Executor.__init__, "0beefb10b56b5270", f"{EXECUTOR}: async_helpers (the cycle), the memo"),
    (Executor.execute_fields, "9a241b5415503bfb", f"{EXECUTOR}: ParleyExecutor.execute_fields"),
    (
        Executor.execute_field,
        "55e3e73fe60bcaf2",
        f"{EXECUTOR}: _execute_plain_resolver, _execute_plain_composite",
    ),
    (Executor.complete_value, "50a89bc339df9a07", f"{EXECUTOR}: ParleyExecutor.complete_value"),
    (
        Executor.complete_list_value,
        "9c990167dc00ae3d",
        f"{EXECUTOR}: _complete_plain_composite",
    ),
    (
        Executor.complete_iterable_value,
        "1977e8514773d223",
        f"{EXECUTOR}: _complete_plain_composite",
    ),
    (
        Executor.complete_object_value,
        "25b357a79a6be1e8",
        f"{EXECUTOR}: complete_value, _complete_plain_composite (is_type_of skipped)",
    ),
    (
        Executor.collect_and_execute_subfields,
        "b29c22bc1a3bc43b",
        f"{EXECUTOR}: _complete_object",
    ),
    (
        IncrementalExecutor.execute_collected_subfields,
        "96b4da7d55f50ddb",
        f"{EXECUTOR}: _complete_plain_composite calls execute_fields directly",
    ),
    (
        Executor.build_per_event_executor,
        "7cc9071077ce0e95",
        f"{EXECUTOR}: build_per_event_executor (the memo leak it works around)",
    ),
    (
        StrawberryGraphQLCoreExecutionContext.build_resolve_info,
        "c960ce66143618d3",
        f"{EXECUTOR}: _execute_plain_resolver",
    ),
    (
        GraphQLCoreConverter.from_resolver,
        "7f3336bf8073d24c",
        f"{EXECUTOR}: _plain_leaf, _plain_resolver (strawberry's resolver chain)",
    ),
    (get_arguments, "622f5399b812e9e2", f"{EXECUTOR}: _execute_plain_resolver"),
    (convert_arguments, "c1f343b7611e0f78", f"{EXECUTOR}: _SCALAR_ARGUMENTS pass unconverted"),
    (StrawberryField.get_result, "19e9930e49c346b3", f"{EXECUTOR}: _execute_plain_resolver"),
    (StrawberryField.is_basic_field.fget, "b4ea6424d2d5dc96", f"{EXECUTOR}: _plain_leaf"),
    (StrawberryResolver.__call__, "74955265ac8635c6", f"{EXECUTOR}: _execute_plain_resolver"),
    (WebSocketsSansIOProtocol.send, "560baa5c639d3a4c", f"{LIVE}: send_frame, _close"),
    (WebSocketsSansIOProtocol.pause_writing, "706981ee7dc59872", f"{LIVE}: _writable"),
    (WebSocketsSansIOProtocol.resume_writing, "0c0d433fc901eba0", f"{LIVE}: _writable"),
]


def _name(member: Any) -> str:
    return f"{member.__module__}.{member.__qualname__}"


def _source_hash(member: Any) -> str:
    source = textwrap.dedent(inspect.getsource(member))
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def test_the_members_the_fast_executor_and_the_live_handler_call_keep_their_signatures() -> None:
    changed = [
        f"{_name(member)}{inspect.signature(member)} (was {expected}): {user}"
        for member, expected, user in SIGNATURES
        if str(inspect.signature(member)) != expected
    ]

    assert not changed, "signatures changed:\n" + "\n".join(changed)


def test_the_code_the_fast_executor_re_implements_is_the_code_it_was_written_against() -> None:
    changed = [
        f"{_name(member)} (source {_source_hash(member)}, pinned {expected}): "
        f"re-read it and port the change to {user}"
        for member, expected, user in SOURCES
        if _source_hash(member) != expected
    ]

    assert not changed, "re-implemented code changed upstream:\n" + "\n".join(changed)


class _Capturing(StrawberryGraphQLCoreExecutionContext):
    made: ClassVar[list[Any]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _Capturing.made.append(self)


@strawberry.enum
class FenceMood(Enum):
    GOOD = "good"


@strawberry.type
class FenceThing:
    name: str
    mood: FenceMood

    @strawberry.field
    def greet(self, info: strawberry.Info, times: int, word: str | None = None) -> str:
        return (word or self.name) * times


@strawberry.type
class FenceQuery:
    @strawberry.field
    def thing(self) -> FenceThing:
        return FenceThing(name="a", mood=FenceMood.GOOD)


def _missing(what: str, checks: dict[str, Callable[[], object]]) -> list[str]:
    """The checks that fail or raise, each named."""
    failed = []
    for name, check in checks.items():
        try:
            ok = check()
        except Exception as error:
            ok, name = False, f"{name} ({type(error).__name__}: {error})"
        if not ok:
            failed.append(f"{what}: {name}")
    return failed


def test_an_executor_and_strawberrys_definitions_hold_what_the_fast_executor_reads() -> None:
    schema = strawberry.Schema(query=FenceQuery, execution_context_class=_Capturing)
    result = schema.execute_sync("{ thing { name mood greet(times: 2) } }")
    assert result.errors is None
    executor = _Capturing.made[-1]
    graphql_schema = schema._schema
    thing = graphql_schema.type_map["FenceThing"]
    mood = graphql_schema.type_map["FenceMood"]
    name, greet = thing.fields["name"], thing.fields["greet"]
    name_definition = name.extensions.get("strawberry-definition")
    greet_definition = greet.extensions.get("strawberry-definition")
    resolver = greet_definition.base_resolver
    [times, word] = greet_definition.arguments

    missing = _missing(
        "graphql-core's Executor",
        {
            "schema": lambda: executor.schema is graphql_schema,
            "variable_values": lambda: hasattr(executor, "variable_values"),
            "hide_suggestions": lambda: isinstance(executor.hide_suggestions, bool),
            "middleware_manager": lambda: (
                executor.middleware_manager is None
                or isinstance(executor.middleware_manager.middlewares, (list, tuple))
            ),
            "MiddlewareManager().middlewares": lambda: hasattr(MiddlewareManager(), "middlewares"),
            "is_awaitable": lambda: callable(executor.is_awaitable),
            "async_helpers: GraphQLResolveInfoHelpers": lambda: (
                type(executor.async_helpers) is GraphQLResolveInfoHelpers
            ),
            "GraphQLResolveInfoHelpers(gather, track)": lambda: (
                GraphQLResolveInfoHelpers._fields == ("gather", "track")
            ),
            "_relevant_sub_fields: dict": lambda: type(executor._relevant_sub_fields) is dict,
            "Path(prev, key, typename)": lambda: Path._fields == ("prev", "key", "typename"),
            "String, ID and Boolean return a str/bool as it is": lambda: (
                GraphQLString.coerce_output_value("x") == "x"
                and GraphQLID.coerce_output_value("x") == "x"
                and GraphQLBoolean.coerce_output_value(True) is True
            ),
        },
    ) + _missing(
        "strawberry",
        {
            "the default execution context": lambda: (
                strawberry.Schema(query=FenceQuery).execution_context_class
                is StrawberryGraphQLCoreExecutionContext
            ),
            "ParleyExecutor subclasses it": lambda: issubclass(
                ParleyExecutor, StrawberryGraphQLCoreExecutionContext
            ),
            "DEFINITION_BACKREF": lambda: (
                GraphQLCoreConverter.DEFINITION_BACKREF == "strawberry-definition"
            ),
            "GraphQLSchema._strawberry_schema": lambda: graphql_schema._strawberry_schema is schema,
            "Schema.exception_handlers": lambda: schema.exception_handlers == (),
            "config.info_class": lambda: schema.config.info_class is strawberry.Info,
            "config.name_converter.from_argument": lambda: (
                schema.config.name_converter.from_argument(times) == "times"
            ),
            "object type definition .origin": lambda: (
                thing.extensions["strawberry-definition"].origin is FenceThing
            ),
            "enum type .wrapped_cls": lambda: mood.wrapped_cls is FenceMood,
            "basic field: is_basic_field, python_name, base_resolver None": lambda: (
                name_definition.is_basic_field
                and name_definition.python_name == "name"
                and name_definition.base_resolver is None
            ),
            "basic field: default_resolver is getattr": lambda: (
                name_definition.default_resolver is getattr
            ),
            "basic field: resolve._is_default": lambda: name.resolve._is_default is True,
            "field: extensions, is_subscription": lambda: (
                greet_definition.extensions == [] and greet_definition.is_subscription is False
            ),
            "resolver: is_async, wrapped_func": lambda: (
                resolver.is_async is False and resolver.wrapped_func.__name__ == "greet"
            ),
            "resolver: self/info/root/parent parameters": lambda: (
                resolver.self_parameter.name == "self"
                and resolver.info_parameter.name == "info"
                and resolver.root_parameter is None
                and resolver.parent_parameter is None
            ),
            "argument: type, python_name": lambda: (
                times.type is int and times.python_name == "times"
            ),
            "optional argument: StrawberryOptional.of_type": lambda: (
                isinstance(word.type, StrawberryOptional) and word.type.of_type is str
            ),
            "StrawberryMaybe is a StrawberryOptional": lambda: issubclass(
                StrawberryMaybe, StrawberryOptional
            ),
        },
    )

    assert not missing, "no longer there or different:\n" + "\n".join(missing)


def test_the_server_protocol_beneath_the_live_handler_is_the_one_it_reaches_into() -> None:
    send, request = object(), object()
    websocket = WebSocket({"type": "websocket"}, receive=None, send=send)  # type: ignore[arg-type]
    adapter = ASGIWebSocketAdapter(None, request, websocket)  # type: ignore[arg-type]

    missing = _missing(
        "starlette, strawberry, uvicorn",
        {
            "starlette WebSocket._send": lambda: websocket._send is send,
            "strawberry ASGIWebSocketAdapter.ws": lambda: adapter.ws is websocket,
            "uvicorn's ws='auto' is the sans-I/O protocol": lambda: (
                AutoWebSocketsProtocol is WebSocketsSansIOProtocol
            ),
            "uvicorn's ws='websockets-sansio' (parley serve)": lambda: (
                WS_PROTOCOLS["websockets-sansio"]
                == "uvicorn.protocols.websockets.websockets_sansio_impl:WebSocketsSansIOProtocol"
            ),
            "LiveHandler subclasses strawberry's handler": lambda: issubclass(
                LiveHandler, BaseGraphQLTransportWSHandler
            ),
        },
    )

    assert not missing, "no longer there or different:\n" + "\n".join(missing)


async def test_a_live_connection_finds_uvicorns_protocol_beneath_the_middlewares(
    server: RunningServer,
) -> None:
    # Without it a connection still works, on ws.send through every middleware, but frames
    # always take a task and a stuck socket can no longer be cut: a silent degradation.
    [view] = [
        route.endpoint
        for route in server.app.routes
        if isinstance(route, Route) and route.path == "/graphql"
    ]
    before = set(view.live_hub.connections)

    who = await member(server, Api(server.graphql_url))
    init = {"type": "connection_init", "payload": {"authorization": f"Bearer {who.token}"}}
    async with websockets.connect(server.ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps(init))
        assert "connection_ack" in await asyncio.wait_for(ws.recv(), 5)
        [connection] = set(view.live_hub.connections) - before
        protocol = connection._protocol
        # What the live socket (app/live/connection.py) sets up from strawberry's handler.
        assert connection.acknowledged is True
        assert connection.members == {}
        assert connection.context.runtime is server.runtime

    assert type(protocol) is WebSocketsSansIOProtocol
    assert isinstance(protocol.writable, asyncio.Event)
    assert protocol.transport is not None
    assert connection._send == protocol.send


# With the fast executor off ------------------------------------------------------------------

INBOX = """
query Inbox($n: Int!, $id: ID!) {
  conversations(first: 10) {
    edges {
      cursor
      node {
        id status unreadCount aiEnabled lastMessageAt serviceWindowOpen
        contact { id phoneNumber name }
        device { id name status provider }
        assignee { id name }
        lastMessage { body direction }
        messages(last: $n) {
          pageInfo { hasPreviousPage startCursor }
          edges { cursor node { id body direction status type createdAt } }
        }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
  broken: nodes(ids: [$id]) {
    id
    ... on Conversation { unreadCount both: messages(first: 1, last: 1) { nodes { id } } }
  }
}
"""
AUDIT = "{ auditEvents(first: 5) { edges { node { id } } } }"
ASSIGN = """
mutation Assign($input: AssignConversationInput!) {
  assignConversation(input: $input) {
    conversation { id assignee { id name } unreadCount contact { phoneNumber } }
    userErrors { field message code }
  }
}
"""


async def _post(url: str, token: str, query: str, variables: dict[str, Any]) -> Any:
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(
            url,
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 200, response.text
    body = response.json()
    return {"data": body.get("data"), "errors": body.get("errors")}


async def test_with_the_fast_executor_off_strawberry_executes_with_the_same_answers(
    server: RunningServer, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = await member(server, api, Role.OWNER)
    agent = await member(server, api, Role.AGENT, owner.organization_id)
    device_id = await sandbox_device(owner)
    first = await simulate(owner, device_id, unique_phone(), "one")
    second_phone = unique_phone()
    for text in ("two", "three"):
        await simulate(owner, device_id, second_phone, text)
    conversation_id = first["conversation"]["id"]
    owner_id = (await owner.api.data("{ me { id } }"))["me"]["id"]
    assign = {"input": {"conversationId": conversation_id, "assigneeId": owner_id}}
    await owner.api.data(ASSIGN, assign)  # assigning again changes nothing
    made: list[bool] = []
    parley_init = ParleyExecutor.__init__

    def counting_init(self: ParleyExecutor, *args: Any, **kwargs: Any) -> None:
        made.append(True)
        parley_init(self, *args, **kwargs)

    monkeypatch.setattr(ParleyExecutor, "__init__", counting_init)
    # A twin of the session server on the same stores, with the other executor.
    twin_settings = make_settings(
        server.settings.var_dir,
        fast_executor=not server.settings.fast_executor,
        run_worker_in_process=False,
    )
    answers: dict[bool, list[Any]] = {}
    used: dict[bool, int] = {}

    async with run_server(twin_settings, migrate=False, session_redis=True) as twin:
        for running in (server, twin):
            made.clear()
            url, fast = running.graphql_url, running.settings.fast_executor
            answers[fast] = [
                await _post(url, owner.token, INBOX, {"n": 2, "id": conversation_id}),
                await _post(url, agent.token, AUDIT, {}),
                await _post(url, owner.token, ASSIGN, assign),
                await _post(url, owner.token, ASSIGN, {"input": {"conversationId": "nope"}}),
            ]
            used[fast] = len(made)

    inbox, audit, assigned, refused = answers[False]
    assert len(inbox["data"]["conversations"]["edges"]) == 2
    assert inbox["data"]["broken"] == [None] and inbox["errors"]
    assert audit["data"] is None and audit["errors"]
    assert assigned["data"]["assignConversation"]["conversation"]["assignee"]["id"] == owner_id
    assert refused["errors"], refused
    assert answers[False] == answers[True]
    assert used == {False: 0, True: 4}
