"""Messaging lists and node fetchers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Any

import strawberry
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
    value_from_ast_untyped,
)

from app.dataloaders import messaging as loaders
from app.models import messaging as models
from app.platform.context import Info
from app.platform.errors import BadUserInput
from app.platform.ids import decode_id
from app.platform.pagination import page_args
from app.platform.scope import in_organization, organization_id
from app.resolvers.messaging import lists
from app.schema.messaging.inbox_queries import ContactFilterInput
from app.schema.messaging.types import (
    Contact,
    ContactImport,
    Conversation,
    ConversationStatus,
    Device,
    Message,
    Template,
)
from app.schema.node import register_node
from app.schema.pagination import Connection, build_connection, paginate
from app.schema.permissions import IsAuthenticated


@strawberry.type
class MessagingQuery:
    @strawberry.field(
        description="The organization's WhatsApp numbers.", permission_classes=[IsAuthenticated]
    )
    async def devices(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Device]:
        return await paginate(lists.devices(info), page_args(first, after), Device.from_model)

    @strawberry.field(
        description="Contacts; `search` matches name or number, `tags` needs all of them, "
        "`filter` adds tags, attribute values, opted-out and last-seen range.",
        permission_classes=[IsAuthenticated],
    )
    async def contacts(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        search: str | None = None,
        tags: list[str] | None = None,
        filter: ContactFilterInput | None = None,
    ) -> Connection[Contact]:
        if filter is not None and filter.search is not None:
            search = filter.search if search is None else search
        where = filter.to_filter() if filter is not None else None
        queryset = lists.contacts(info, search, tags, where)
        return await paginate(queryset, page_args(first, after), Contact.from_model)

    @strawberry.field(description="The inbox.", permission_classes=[IsAuthenticated])
    async def conversations(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: ConversationStatus | None = None,
        device_id: strawberry.ID | None = None,
        assigned_to_me: bool | None = None,
        label_id: strawberry.ID | None = None,
    ) -> Connection[Conversation]:
        args = page_args(first, after)
        label_pk = decode_id(label_id, "Label", field="labelId") if label_id is not None else None
        assignee_id = None
        if assigned_to_me:
            viewer = info.context.viewer
            assert viewer is not None
            assignee_id = viewer.user.id
        device_pk = (
            decode_id(device_id, "Device", field="deviceId") if device_id is not None else None
        )
        if args.limit == 0:
            return build_connection([], args, Conversation.from_model)
        # Contact and device come in the same statement, ready for their loaders.
        found = await loaders.conversation_page(
            organization_id(info),
            args,
            status=status.value if status is not None else None,
            device_id=device_pk,
            assignee_id=assignee_id,
            label_id=label_pk,
        )
        loaders.prime_conversation_parties(info.context.loaders, found)
        rows = [row.conversation for row in found]
        page = build_connection(rows, args, Conversation.from_model)
        await _load_ahead(info, rows[: args.limit])
        return page

    @strawberry.field(
        description="Message templates, optionally of one device.",
        permission_classes=[IsAuthenticated],
    )
    async def templates(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        device_id: strawberry.ID | None = None,
    ) -> Connection[Template]:
        queryset = lists.templates(info, device_id)
        return await paginate(queryset, page_args(first, after), Template.from_model)


async def _load_ahead(info: Info, rows: Sequence[models.Conversation]) -> None:
    """Load, before returning the page, what the query asks of its conversations (assignees,
    message pages): each is one batch either way, and with the values in hand the whole
    page completes synchronously (see ``loaders.now_or_later``). What is not recognised
    here (another path, an invalid page) is simply loaded when resolved, as before."""
    if not rows:
        return
    # The operation's own AST: strawberry's `selected_fields` leave literal arguments as
    # strings. (Strawberry's Info has no public field nodes or fragments.)
    raw = info._raw_info
    fragments, variables = raw.fragments, info.variable_values
    edges = _subfields(raw.field_nodes, "edges", fragments)
    nodes = _subfields(edges, "node", fragments) + _subfields(raw.field_nodes, "nodes", fragments)
    ahead: list[Awaitable[Any]] = []
    if _subfields(nodes, "assignee", fragments):
        assignees = {row.assignee_id for row in rows if row.assignee_id is not None}
        ahead.append(info.context.loaders.get(loaders.user_by_id).load_many(list(assignees)))
    for messages in _subfields(nodes, "messages", fragments):
        arguments = {
            argument.name.value: value_from_ast_untyped(argument.value, variables)
            for argument in messages.arguments or ()
        }
        try:
            args = page_args(
                first=arguments.get("first"),
                after=arguments.get("after"),
                last=arguments.get("last"),
                before=arguments.get("before"),
            )
        except (BadUserInput, TypeError):
            continue
        if args.limit:
            pages = info.context.loaders.get(loaders.messages_by_conversation)
            ahead.append(pages.load_many([(row.id, args) for row in rows]))
    if ahead:
        await asyncio.gather(*ahead)


def _subfields(
    fields: Sequence[FieldNode], name: str, fragments: dict[str, FragmentDefinitionNode]
) -> list[FieldNode]:
    """The fields called ``name`` selected on ``fields``, through fragments."""
    found: list[FieldNode] = []
    for field in fields:
        _walk(field.selection_set, name, fragments, found)
    return found


def _walk(
    selection_set: SelectionSetNode | None,
    name: str,
    fragments: dict[str, FragmentDefinitionNode],
    found: list[FieldNode],
) -> None:
    # A module function, not a closure calling itself: that closure and its cell are a
    # reference cycle left for the cyclic collector on every inbox request.
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, FieldNode):
            if selection.name.value == name:
                found.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            _walk(selection.selection_set, name, fragments, found)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            _walk(fragment.selection_set if fragment else None, name, fragments, found)


def _fetcher(factory: Any, to_node: Any) -> Any:
    async def fetch(info: Info, pks: Sequence[int]) -> list[Any]:
        if info.context.viewer is None or info.context.viewer.organization_id is None:
            return [None for _ in pks]
        rows = await info.context.loaders.get(factory).load_many(list(pks))
        scoped = in_organization(rows, organization_id(info))
        return [to_node(row) if row is not None else None for row in scoped]

    return fetch


register_node("Device", _fetcher(loaders.device_by_id, Device.from_model))
register_node("Contact", _fetcher(loaders.contact_by_id, Contact.from_model))
register_node("Conversation", _fetcher(loaders.conversation_by_id, Conversation.from_model))
register_node("Message", _fetcher(loaders.message_by_id, Message.from_model))
register_node("Template", _fetcher(loaders.template_by_id, Template.from_model))


async def _contact_imports(info: Info, pks: Sequence[int]) -> list[Any]:
    rows = await lists.contact_imports(info, pks)
    return [ContactImport.from_model(row) if row is not None else None for row in rows]


register_node("ContactImport", _contact_imports)
