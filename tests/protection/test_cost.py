from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from enum import Enum
from types import SimpleNamespace
from typing import Any

import pytest
import strawberry
from graphql import build_schema, parse
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from app.cost import (
    Cost,
    PageSizeOutOfRange,
    QueryCost,
    QueryCostExtension,
    actual_cost,
    compute_cost,
)


@dataclass
class Context:
    resolver_calls: int = 0
    cost: QueryCost | None = None


Info = strawberry.Info[Context, None]


@strawberry.interface
class Node:
    id: strawberry.ID


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Contact(Node):
    name: str


@strawberry.type
class Summary:
    text: str

    @strawberry.field
    def author(self, info: Info) -> Contact:
        info.context.resolver_calls += 1
        return Contact(id=strawberry.ID("contact-ai"), name="AI")


@strawberry.type
class Message(Node):
    body: str

    @strawberry.field
    def author(self, info: Info) -> Contact:
        info.context.resolver_calls += 1
        return Contact(id=strawberry.ID(f"author-{self.id}"), name="Ana")

    @strawberry.field
    def replies(
        self, info: Info, first: int | None = None, last: int | None = None
    ) -> "MessageConnection":
        return _messages(info, prefix=f"{self.id}-reply", available=0)


@strawberry.type
class MessageEdge:
    cursor: str
    node: Message


@strawberry.type
class MessageConnection:
    edges: list[MessageEdge]
    page_info: PageInfo
    total_count: int


@strawberry.enum
class ConversationStatus(Enum):
    OPEN = "open"
    CLOSED = "closed"


@strawberry.type
class Conversation(Node):
    status: ConversationStatus

    @strawberry.field
    def contact(self, info: Info) -> Contact:
        info.context.resolver_calls += 1
        return Contact(id=strawberry.ID(f"contact-{self.id}"), name="Bruno")

    @strawberry.field
    def messages(
        self, info: Info, first: int | None = None, last: int | None = None
    ) -> MessageConnection:
        return _messages(info, prefix=f"{self.id}-message", available=2)

    @strawberry.field(directives=[Cost(weight=5)])
    def summary(self, info: Info) -> Summary:
        info.context.resolver_calls += 1
        return Summary(text="Asked for a refund.")


@strawberry.type
class ConversationEdge:
    cursor: str
    node: Conversation


@strawberry.type
class ConversationConnection:
    edges: list[ConversationEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type
class Organization(Node):
    name: str

    @strawberry.field
    def conversations(
        self,
        info: Info,
        first: int | None = None,
        last: int | None = None,
        after: str | None = None,
    ) -> ConversationConnection:
        info.context.resolver_calls += 1
        conversations = [
            Conversation(id=strawberry.ID(f"conversation-{n}"), status=ConversationStatus.OPEN)
            for n in range(3)
        ]
        return ConversationConnection(
            edges=[ConversationEdge(cursor=c.id, node=c) for c in conversations],
            page_info=PageInfo(has_next_page=False, end_cursor=None),
            total_count=len(conversations),
        )

    @strawberry.field(directives=[Cost(weight=5)])
    def search_messages(
        self, info: Info, query: str, first: int | None = None
    ) -> MessageConnection:
        return _messages(info, prefix="search", available=1)


def _messages(info: Info, *, prefix: str, available: int) -> MessageConnection:
    info.context.resolver_calls += 1
    messages = [Message(id=strawberry.ID(f"{prefix}-{n}"), body="hi") for n in range(available)]
    return MessageConnection(
        edges=[MessageEdge(cursor=m.id, node=m) for m in messages],
        page_info=PageInfo(has_next_page=False, end_cursor=None),
        total_count=len(messages),
    )


@strawberry.type
class Query:
    @strawberry.field
    def organization(self, info: Info) -> Organization:
        info.context.resolver_calls += 1
        return Organization(id=strawberry.ID("organization-1"), name="Acme")

    @strawberry.field
    def node(self, info: Info, id: strawberry.ID) -> Node | None:
        info.context.resolver_calls += 1
        return Conversation(id=id, status=ConversationStatus.OPEN)


@strawberry.input
class SendMessageInput:
    conversation_id: strawberry.ID
    body: str


@strawberry.type
class UserError:
    field: list[str] | None
    message: str
    code: str


@strawberry.type
class SendMessagePayload:
    message: Message | None
    user_errors: list[UserError]


@strawberry.type
class Mutation:
    @strawberry.mutation
    def send_message(self, info: Info, input: SendMessageInput) -> SendMessagePayload:
        info.context.resolver_calls += 1
        message = Message(id=strawberry.ID("message-new"), body=input.body)
        return SendMessagePayload(message=message, user_errors=[])


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def message_created(
        self, info: Info, conversation_id: strawberry.ID
    ) -> AsyncGenerator[Message, None]:
        info.context.resolver_calls += 1
        yield Message(id=strawberry.ID("message-live"), body="hello")


def make_schema(**extension_options: Any) -> strawberry.Schema:
    extensions = [lambda: QueryCostExtension(**extension_options)] if extension_options else []
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Contact, Conversation, Message],
        extensions=extensions,
    )


SCHEMA = make_schema()

CONVERSATION_PARTS = """
fragment ConversationParts on Conversation {
  contact { name }
  summary { text author { name } }
}
"""

COSTS = [
    pytest.param("{ organization { id name } }", None, 1, id="object"),
    pytest.param("{ __typename organization { __typename id } }", None, 1, id="typename is free"),
    pytest.param(
        "{ organization { conversations(first: 10) { totalCount } } }",
        None,
        1 + 2,
        id="connection without items",
    ),
    pytest.param(
        """{ organization { conversations(first: 10) {
             edges { cursor node { id status } } pageInfo { hasNextPage } } } }""",
        None,
        1 + 2 + 10 * 1,  # edges and pageInfo are free wrappers; each node costs 1
        id="connection with edges and page info",
    ),
    pytest.param(
        "{ organization { conversations { edges { node { id } } } } }",
        None,
        1 + 2 + 20 * 1,
        id="default page size",
    ),
    pytest.param(
        "{ organization { conversations(last: 5) { edges { node { contact { name } } } } } }",
        None,
        1 + 2 + 5 * 2,
        id="last",
    ),
    pytest.param(
        "{ organization { conversations(first: 0) { edges { node { id } } } } }",
        None,
        1 + 2,
        id="empty page",
    ),
    pytest.param(
        """{ organization { conversations(first: 10) { edges { node {
             messages(first: 50) { edges { node { body } } } } } } } }""",
        None,
        1 + 2 + 10 * (1 + (2 + 50 * 1)),
        id="nested connections multiply",
    ),
    pytest.param(
        "query ($n: Int!) { organization { conversations(first: $n) { edges { node { id } } } } }",
        {"n": 7},
        1 + 2 + 7 * 1,
        id="first from a variable",
    ),
    pytest.param(
        "query ($n: Int = 3) { organization { conversations(first: $n) { edges { node { id } } } } }",
        None,
        1 + 2 + 3 * 1,
        id="first from a variable default",
    ),
    pytest.param(
        """{ organization {
             open: conversations(first: 5) { totalCount }
             closed: conversations(first: 5) { totalCount } } }""",
        None,
        1 + 2 + 2,
        id="each alias counts",
    ),
    pytest.param(
        """{ organization { conversations(first: 2) { edges { node { ...ConversationParts } } } }
             node(id: "conversation-1") { ... on Conversation { ...ConversationParts } } }"""
        + CONVERSATION_PARTS,
        None,
        (1 + 2 + 2 * (1 + 7)) + (1 + 7),
        id="named fragment spread twice",
    ),
    pytest.param(
        """{ node(id: "conversation-1") { id
             ... on Conversation { contact { name } }
             ... on Message { author { name } } } }""",
        None,
        1 + 1 + 1,
        id="inline fragments on an interface are summed",
    ),
    pytest.param(
        """{ organization { id conversations(first: 10) @skip(if: true) { totalCount } }
             node(id: "conversation-1") @include(if: false) { id } }""",
        None,
        1,
        id="skip and include literals",
    ),
    pytest.param(
        """query ($withMessages: Boolean!) { node(id: "conversation-1") { ... on Conversation {
             messages(first: 10) @include(if: $withMessages) { edges { node { id } } } } } }""",
        {"withMessages": True},
        1 + 2 + 10 * 1,
        id="include variable true",
    ),
    pytest.param(
        """query ($withMessages: Boolean!) { node(id: "conversation-1") { ... on Conversation {
             messages(first: 10) @include(if: $withMessages) { edges { node { id } } } } } }""",
        {"withMessages": False},
        1,
        id="include variable false",
    ),
    pytest.param(
        '{ node(id: "conversation-1") { ...ConversationParts @skip(if: true) } }'
        + CONVERSATION_PARTS,
        None,
        1,
        id="skipped fragment spread",
    ),
    pytest.param(
        """{ node(id: "conversation-1") { ... on Conversation {
             summary { text author { name } } } } }""",
        None,
        1 + 5 + 1,
        id="cost directive replaces the field cost and children still add",
    ),
    pytest.param(
        """{ organization { searchMessages(query: "refund", first: 10) {
             edges { node { id } } } } }""",
        None,
        1 + 5 + 10 * 1,
        id="cost directive on a connection is still multiplied",
    ),
    pytest.param(
        """mutation { sendMessage(input: {conversationId: "c1", body: "hi"}) {
             message { id author { name } } userErrors { field message code } } }""",
        None,
        10 + 1 + 1 + 1,
        id="mutation",
    ),
    pytest.param(
        """mutation {
             a: sendMessage(input: {conversationId: "c1", body: "hi"}) { userErrors { message } }
             b: sendMessage(input: {conversationId: "c1", body: "hi"}) { message { id } } }""",
        None,
        (10 + 1) + (10 + 1),
        id="aliased mutations",
    ),
    pytest.param(
        'subscription { messageCreated(conversationId: "c1") { id author { name } } }',
        None,
        1 + 1,
        id="subscription",
    ),
    pytest.param(
        '{ __schema { types { name fields { name } } } __type(name: "Query") { name } }',
        None,
        0,
        id="introspection is free",
    ),
]


@pytest.mark.parametrize(("query", "variables", "expected"), COSTS)
def test_static_cost_of_an_operation(
    query: str, variables: dict[str, Any] | None, expected: int
) -> None:
    document = parse(query)

    cost = compute_cost(SCHEMA._schema, document, variables, None)

    assert cost == expected


def test_compute_cost_costs_the_named_operation() -> None:
    document = parse(
        """
        query Cheap { organization { id } }
        query Expensive { organization { conversations(first: 100) { edges { node { id } } } } }
        """
    )

    cheap = compute_cost(SCHEMA._schema, document, None, "Cheap")
    expensive = compute_cost(SCHEMA._schema, document, None, "Expensive")

    assert (cheap, expensive) == (1, 1 + 2 + 100 * 1)


def test_page_size_error_carries_what_was_requested_and_the_maximum() -> None:
    document = parse("{ organization { conversations(first: 500) { totalCount } } }")

    with pytest.raises(PageSizeOutOfRange) as raised:
        compute_cost(SCHEMA._schema, document)

    assert (raised.value.argument, raised.value.requested, raised.value.maximum) == (
        "first",
        500,
        100,
    )


def test_compute_cost_reads_the_cost_directive_from_sdl() -> None:
    schema = build_schema(
        """
        directive @cost(weight: Int!) on FIELD_DEFINITION
        type Query { report: Report @cost(weight: 30) }
        type Report { rows(first: Int): RowConnection }
        type RowConnection { total: Int }
        """
    )

    cost = compute_cost(schema, parse("{ report { rows(first: 5) { total } } }"))

    assert cost == 30 + 2


def test_cost_directive_is_printed_in_the_sdl() -> None:
    sdl = SCHEMA.as_str()

    assert "directive @cost(weight: Int!) on FIELD_DEFINITION" in sdl
    assert "summary: Summary! @cost(weight: 5)" in sdl


NESTED_FIVE_CONNECTIONS = """
{ organization { conversations { edges { node {
    messages { edges { node {
      replies { edges { node {
        replies { edges { node {
          replies { edges { node { id } } }
        } } }
      } } }
    } } }
} } } } }
"""


async def test_over_the_maximum_is_refused_without_running_a_resolver() -> None:
    schema = make_schema(maximum=1000)
    context = Context()

    result = await schema.execute(NESTED_FIVE_CONNECTIONS, context_value=context)

    # 20 items (the default) at each of the 5 levels, each item adding its node.
    connection = 2 + 20 * 1
    for _ in range(4):
        connection = 2 + 20 * (1 + connection)
    requested = 1 + connection
    assert requested == 3_705_263
    assert result.data is None
    assert result.errors is not None
    [error] = result.errors
    assert error.extensions == {
        "code": "QUERY_TOO_COMPLEX",
        "cost": {"requestedQueryCost": requested, "maximum": 1000},
    }
    assert error.message.startswith("Query cost 3705263 exceeds the maximum of 1000.")
    assert context.resolver_calls == 0


async def test_an_over_the_maximum_subscription_is_refused_without_subscribing() -> None:
    schema = make_schema(maximum=1)
    context = Context()

    results = await schema.subscribe(
        'subscription { messageCreated(conversationId: "c1") { id author { name } } }',
        context_value=context,
    )
    [result] = [result async for result in results]

    assert result.errors is not None
    assert result.errors[0].extensions is not None
    assert result.errors[0].extensions["code"] == "QUERY_TOO_COMPLEX"
    assert context.resolver_calls == 0


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        pytest.param(
            "{ organization { conversations(first: 101) { totalCount } } }",
            None,
            id="literal",
        ),
        pytest.param(
            "query ($n: Int) { organization { conversations(first: $n) { totalCount } } }",
            {"n": 101},
            id="variable",
        ),
        pytest.param(
            "{ organization { conversations(last: -1) { totalCount } } }",
            None,
            id="negative",
        ),
    ],
)
async def test_page_size_out_of_range_is_refused_before_execution(
    query: str, variables: dict[str, Any] | None
) -> None:
    schema = make_schema(maximum=1_000_000)
    context = Context()

    result = await schema.execute(query, variable_values=variables, context_value=context)

    assert result.data is None
    assert result.errors is not None
    [error] = result.errors
    assert error.extensions == {"code": "BAD_USER_INPUT"}
    assert "between 0 and 100" in error.message
    assert context.resolver_calls == 0


async def test_within_the_maximum_runs_and_leaves_the_cost_on_the_context() -> None:
    schema = make_schema(maximum=50)
    context = Context()

    result = await schema.execute(
        "{ organization { conversations(first: 10) { edges { node { id } } } } }",
        context_value=context,
    )

    assert result.errors is None
    assert context.cost == QueryCost(requested=1 + 2 + 10 * 1, maximum=50)
    assert context.resolver_calls > 0


async def test_a_cost_mapping_on_the_context_gets_the_requested_query_cost() -> None:
    @dataclass
    class AppContext:
        resolver_calls: int = 0
        cost: dict[str, Any] = field(default_factory=dict)

    schema = make_schema(maximum=50)
    context = AppContext()

    result = await schema.execute("{ organization { id } }", context_value=context)

    assert result.errors is None
    assert context.cost == {"requestedQueryCost": 1}


async def test_without_a_cost_on_the_context_the_extension_keeps_it() -> None:
    extensions: list[QueryCostExtension] = []

    def cost_extension() -> QueryCostExtension:
        extensions.append(QueryCostExtension(maximum=50))
        return extensions[-1]

    schema = strawberry.Schema(query=Query, extensions=[cost_extension])

    context = SimpleNamespace(resolver_calls=0)

    result = await schema.execute("{ organization { id } }", context_value=context)

    assert result.errors is None
    assert not hasattr(context, "cost")
    assert extensions[0].cost == QueryCost(requested=1, maximum=50)


async def test_maximum_can_depend_on_the_operation() -> None:
    def maximum(execution_context: ExecutionContext) -> int:
        return 12 if execution_context.operation_type is OperationType.MUTATION else 1000

    schema = make_schema(maximum=maximum)

    query = await schema.execute(
        "{ organization { conversations(first: 50) { edges { node { id } } } } }",
        context_value=Context(),
    )
    mutation = await schema.execute(
        """mutation { sendMessage(input: {conversationId: "c1", body: "hi"}) {
             message { id author { name } } userErrors { message } } }""",
        context_value=Context(),
    )

    assert query.errors is None
    assert mutation.errors is not None
    assert mutation.errors[0].extensions is not None
    assert mutation.errors[0].extensions["cost"] == {
        "requestedQueryCost": 13,
        "maximum": 12,
    }


async def test_actual_cost_counts_the_items_returned() -> None:
    query = """
    { organization {
        conversations(first: 10) {
          edges { node { id messages(first: 50) { edges { node { body } } pageInfo { hasNextPage } } } }
          totalCount
        }
    } }
    """
    document = parse(query)

    result = await SCHEMA.execute(query, context_value=Context())

    # 3 conversations of 2 messages each: messages = 2 + 2 × node (edges, pageInfo are free).
    messages = 2 + 2 * 1
    assert result.errors is None
    assert actual_cost(result.data, document, SCHEMA._schema) == 1 + 2 + 3 * (1 + messages)
    assert compute_cost(SCHEMA._schema, document) == 1 + 2 + 10 * (1 + 2 + 50 * 1)


async def test_actual_cost_equals_the_requested_cost_for_full_pages() -> None:
    query = """
    query ($first: Int!, $withContact: Boolean!) { organization {
        conversations(first: $first) {
          edges { node { contact @include(if: $withContact) { name } ...Status } }
          pageInfo { hasNextPage }
        }
    } }
    fragment Status on Conversation { status summary { text } }
    """
    variables = {"first": 3, "withContact": False}
    document = parse(query)

    result = await SCHEMA.execute(query, variable_values=variables, context_value=Context())

    assert result.errors is None
    requested = compute_cost(SCHEMA._schema, document, variables)
    actual = actual_cost(result.data, document, SCHEMA._schema, variables=variables)
    assert actual == requested == 1 + 2 + 3 * (1 + 5)
