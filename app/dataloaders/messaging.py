"""Batch loaders for the messaging relations; built per operation (per event for
subscriptions) through ``info.context.loaders.get(factory)``.

Loaders fetch by key only; the organization check happens where an id comes from a client
(``app.platform.scope``), since rows reached through a relation are already scoped.

They are on the hot path of every inbox read, so they send parameterized SQL through
Tortoise's connection and build models from the driver's rows as ``_init_from_db`` (what a
queryset does with its rows) would, only faster (``_model_builder``), instead of composing a
queryset per batch: one statement per loader, however many keys.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC
from enum import Enum
from functools import cache
from operator import itemgetter
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader
from tortoise import connections, fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

from app.models.accounts import User
from app.models.messaging import Contact, Conversation, Device, Message, Template
from app.platform.pagination import PageArgs
from app.platform.sql import Binder
from app.platform.sql import columns as select_columns

M = TypeVar("M", bound=Model)
K = TypeVar("K")
V = TypeVar("V")
R = TypeVar("R")


@cache
def _by_id(model: type[M]) -> Any:
    async def load(keys: Sequence[int]) -> list[M | None]:
        connection = connections.get("default")
        bind = Binder(connection)
        sql = (
            f'SELECT {select_columns(model)} FROM "{model._meta.db_table}"'
            f' WHERE "id" {bind.ids(list(set(keys)))}'
        )
        _, rows = await connection.execute_query(sql, bind.params)
        build = _model_builder(model, connection)
        by_id = {instance.pk: instance for instance in map(build, rows)}
        return [by_id.get(key) for key in keys]

    return load


_load_devices = _by_id(Device)
_load_contacts = _by_id(Contact)
_load_conversations = _by_id(Conversation)
_load_messages = _by_id(Message)
_load_templates = _by_id(Template)
_load_users = _by_id(User)


def device_by_id() -> DataLoader[int, Device | None]:
    return DataLoader(load_fn=_load_devices)


def contact_by_id() -> DataLoader[int, Contact | None]:
    return DataLoader(load_fn=_load_contacts)


def conversation_by_id() -> DataLoader[int, Conversation | None]:
    return DataLoader(load_fn=_load_conversations)


def message_by_id() -> DataLoader[int, Message | None]:
    return DataLoader(load_fn=_load_messages)


def template_by_id() -> DataLoader[int, Template | None]:
    return DataLoader(load_fn=_load_templates)


def user_by_id() -> DataLoader[int, User | None]:
    return DataLoader(load_fn=_load_users)


def now_or_later(loader: DataLoader[K, V], key: K, then: Callable[[V], R]) -> Any:
    """``then(value)`` at once when ``loader`` already holds ``key``'s value (primed, or
    loaded ahead), else an awaitable of it.

    A resolver that answers synchronously costs graphql-core no coroutine and no task, and
    an object whose fields all answer synchronously is completed without a gather: on an
    inbox page that is a few hundred tasks a request. Use it from a sync resolver; its
    return annotation stays the plain type (graphql-core awaits what is awaitable).
    """
    future = loader.cache_map.get(key) if loader.cache else None
    done = future is not None and future.done() and not future.cancelled()
    if done and future.exception() is None:  # type: ignore[union-attr]
        return then(future.result())  # type: ignore[union-attr]

    async def later() -> R:
        return then(await loader.load(key))

    return later()


@dataclass(frozen=True, slots=True)
class InboxRow:
    conversation: Conversation
    contact: Contact
    device: Device


async def conversation_page(
    organization_id: int,
    args: PageArgs,
    *,
    status: str | None = None,
    device_id: int | None = None,
    assignee_id: int | None = None,
    label_id: int | None = None,
) -> list[InboxRow]:
    """``args.limit + 1`` conversations of the organization in keyset order (``id``), each
    with its contact and device, in one parameterized statement: the inbox's list. (The
    same page through a Tortoise queryset cost more to compose than to run.)"""
    connection = connections.get("default")
    bind = Binder(connection)
    where = [f'c."organization_id" = {bind(organization_id)}']
    if status is not None:
        where.append(f'c."status" = {bind(status)}')
    if device_id is not None:
        where.append(f'c."device_id" = {bind(device_id)}')
    if assignee_id is not None:
        where.append(f'c."assignee_id" = {bind(assignee_id)}')
    if label_id is not None:
        where.append(
            'EXISTS (SELECT 1 FROM "conversation_labels" AS cl WHERE'
            f' cl."conversation_id" = c."id" AND cl."label_id" = {bind(label_id)})'
        )
    if args.after is not None:
        where.append(f'c."id" > {bind(args.after)}')
    if args.before is not None:
        where.append(f'c."id" < {bind(args.before)}')
    order = "DESC" if args.backwards else "ASC"
    sql = (
        f"SELECT {_aliased(Conversation, 'c')}, {_aliased(Contact, 'ct')},"
        f' {_aliased(Device, "d")} FROM "conversations" AS c'
        ' JOIN "contacts" AS ct ON ct."id" = c."contact_id"'
        ' JOIN "devices" AS d ON d."id" = c."device_id"'
        f' WHERE {" AND ".join(where)} ORDER BY c."id" {order} LIMIT {bind(args.limit + 1)}'
    )
    # The driver's rows as they come (asyncpg records, sqlite3 rows: both read by column
    # name): a dict per row is a copy nobody needs.
    _, rows = await connection.execute_query(sql, bind.params)
    conversation = _model_builder(Conversation, connection, "c")
    contact = _model_builder(Contact, connection, "ct")
    device = _model_builder(Device, connection, "d")
    return [InboxRow(conversation(row), contact(row), device(row)) for row in rows]


@cache
def _aliased(model: type[Model], alias: str) -> str:
    return ", ".join(
        f'{alias}."{column}" AS "{alias}.{column}"'
        for column in model._meta.fields_db_projection.values()
    )


def _model_builder(
    model: type[M], connection: BaseDBAsyncClient, alias: str | None = None
) -> Callable[[Any], M]:
    """Builds ``model`` instances from the driver's rows (read by column name, as
    ``alias.column`` when aliased): what ``Model._init_from_db`` builds, without its four
    attribute writes through ``Model.__setattr__`` and one Tortoise field call per
    enum and time. (On an inbox page: 150 models, ~8 → ~3 µs each.)"""
    key = _builders.get((model, alias, connection.capabilities.dialect))
    if key is not None:
        return key  # type: ignore[return-value]
    meta = model._meta
    custom_generated_pk = meta.db_pk_column not in meta.generated_db_fields
    native = meta.db_native_fields
    default = meta.db_default_fields
    complex_ = meta.db_complex_fields
    column = (lambda name: f"{alias}.{name}") if alias else (lambda name: name)
    attributes = [attribute for _, attribute, _ in native]
    read_native = _getter([column(name) for name, _, _ in native])
    postgres = connection.capabilities.dialect == "postgres"
    converted: list[tuple[str, str, Callable[[Any], Any]]] = [
        (column(name), attribute, field.field_type) for name, attribute, field in default
    ]
    converted += [
        (column(name), attribute, _converter(field, postgres=postgres))
        for name, attribute, field in complex_
    ]
    # Values go straight into the instance's __dict__: only right while no field name is a
    # data descriptor on the class (Tortoise keeps none there); else Tortoise builds it.
    if any(
        hasattr(getattr(model, attribute, None), "__set__")
        for _, attribute, _ in (*native, *default, *complex_)
    ):

        def slow(row: Any) -> M:
            return model._init_from_db(**{name: row[column(name)] for name in meta.db_fields})

        _builders[(model, alias, connection.capabilities.dialect)] = slow
        return slow
    new = object.__new__

    def build(row: Any) -> M:
        instance = new(model)
        values = instance.__dict__
        values["_partial"] = False
        values["_saved_in_db"] = True
        values["_custom_generated_pk"] = custom_generated_pk
        values["_await_when_save"] = {}
        values.update(zip(attributes, read_native(row), strict=True))
        for key, attribute, convert in converted:
            value = row[key]
            values[attribute] = None if value is None else convert(value)
        return instance

    _builders[(model, alias, connection.capabilities.dialect)] = build
    return build


_builders: dict[tuple[type[Model], str | None, str], Callable[[Any], Any]] = {}


def _getter(keys: Sequence[str]) -> Callable[[Any], tuple[Any, ...]]:
    """The row's values under ``keys``, as a tuple, in one C-level call."""
    if len(keys) == 1:
        one = itemgetter(keys[0])
        return lambda row: (one(row),)
    if not keys:
        return lambda row: ()
    return itemgetter(*keys)  # type: ignore[return-value]


def prime_conversation_parties(loaders: Any, rows: Iterable[InboxRow]) -> None:
    """The inbox reads each conversation's contact and device in its own statement and
    hands them to this operation's loaders."""
    contacts = loaders.get(contact_by_id)
    devices = loaders.get(device_by_id)
    for row in rows:
        contacts.prime(row.conversation.contact_id, row.contact)
        devices.prime(row.conversation.device_id, row.device)


def _page_sql(bind: Binder, conversation_ids: Sequence[int], args: PageArgs, limit: int) -> str:
    """``limit`` messages of each conversation in keyset order, in one statement.

    PostgreSQL walks the ``(conversation_id, id)`` index once per conversation and stops
    after ``limit`` rows (``LATERAL … LIMIT``); SQLite ranks with ``ROW_NUMBER()``.
    """
    order = "DESC" if args.backwards else "ASC"
    columns = select_columns(Message)
    # Placeholders are bound in the order they appear: SQLite's `?` are positional.
    if bind.postgres:
        parents = f"unnest({bind(list(conversation_ids))}::bigint[]) AS c(id)"
        bounds = _bounds(bind, args)
        return (
            f"SELECT {select_columns(Message, 'm')} FROM {parents} CROSS JOIN LATERAL"
            f' (SELECT {columns} FROM "messages" WHERE "conversation_id" = c.id{bounds}'
            f' ORDER BY "id" {order} LIMIT {bind(limit)}) AS m'
        )
    parents = f'"conversation_id" {bind.ids(list(conversation_ids))}'
    bounds = _bounds(bind, args)
    return (
        f"SELECT {columns} FROM (SELECT {columns}, ROW_NUMBER() OVER"
        f' (PARTITION BY "conversation_id" ORDER BY "id" {order}) AS "_rank" FROM "messages"'
        f' WHERE {parents}{bounds}) AS ranked WHERE "_rank" <= {bind(limit)}'
    )


# The business's reactions show on the message they react to (``Message.reactions``), not
# in the thread.
_NOT_OUTBOUND_REACTION = " AND NOT (\"type\" = 'REACTION' AND \"direction\" = 'OUTBOUND')"


def _bounds(bind: Binder, args: PageArgs) -> str:
    bounds = _NOT_OUTBOUND_REACTION
    if args.after is not None:
        bounds += f' AND "id" > {bind(args.after)}'
    if args.before is not None:
        bounds += f' AND "id" < {bind(args.before)}'
    return bounds


class MessageRow(tuple):  # type: ignore[type-arg]
    """A message as the hot page loaders read it: every attribute of ``Message`` (converted
    as Tortoise converts it), without building a model. Read-only: it has no ``save``.

    On an inbox page (500 messages) building models was the largest cost after GraphQL
    execution; most of it was converting enums, times and JSON one Tortoise field call at
    a time, which a lookup table, an identity check and a decoder do here. A row is a
    tuple of the statement's columns (``select_columns(Message)``, in ``fields_db_projection``
    order) read by name through C-level properties: building one is one list and one
    tuple, where an instance dict cost as much again as everything else (550 rows
    ~1.05 → ~0.45 ms).
    """

    __slots__ = ()


def _message_row_builder(connection: BaseDBAsyncClient) -> Callable[[Any], Any]:
    """Builds ``MessageRow``s (which stand in for ``Message`` models) from the driver's rows
    of ``select_columns(Message)``."""
    dialect = connection.capabilities.dialect
    cached = _row_builders.get(dialect)
    if cached is not None:
        return cached
    meta = Message._meta
    attributes = list(meta.fields_db_projection)  # the order of select_columns(Message)
    _name_row_columns(attributes)
    position = {column: index for index, column in enumerate(meta.fields_db_projection.values())}
    converted: list[tuple[int, Callable[[Any], Any]]] = [
        (position[key], field.field_type) for key, _, field in meta.db_default_fields
    ]
    postgres = dialect == "postgres"
    converted += [
        (position[key], _converter(field, postgres=postgres))
        for key, _, field in meta.db_complex_fields
    ]
    width = len(attributes)
    new = tuple.__new__

    def build(row: Any) -> Any:
        values = list(row)
        if len(values) != width:
            raise ValueError(f"a message row has {width} columns, not {len(values)}")
        for index, convert in converted:
            value = values[index]
            if value is not None:
                values[index] = convert(value)
        return new(MessageRow, values)

    _row_builders[dialect] = build
    return build


_row_builders: dict[str, Callable[[Any], Any]] = {}


def _name_row_columns(attributes: Sequence[str]) -> None:
    """Each attribute of ``Message`` a property of ``MessageRow`` reading its column."""
    for index, attribute in enumerate(attributes):
        existing = MessageRow.__dict__.get(attribute)
        if existing is None:
            if hasattr(tuple, attribute):
                raise TypeError(f"Message.{attribute} would hide tuple.{attribute}")
            setattr(MessageRow, attribute, property(itemgetter(index)))
        elif repr(existing.fget) != repr(itemgetter(index)):
            raise TypeError(f"MessageRow.{attribute} reads another column")


def _converter(field: Any, *, postgres: bool) -> Callable[[Any], Any]:
    enum_type = getattr(field, "enum_type", None)
    if isinstance(enum_type, type) and issubclass(enum_type, Enum):
        members = {member.value: member for member in enum_type}
        slow = field.to_python_value
        return lambda value: members[value] if value in members else slow(value)
    if postgres and isinstance(field, fields.DatetimeField):
        # asyncpg returns timestamptz as an aware UTC datetime already: what Tortoise's
        # conversion (to the configured UTC) would give, to the microsecond.
        convert = field.to_python_value
        return lambda value: value if value.tzinfo is UTC else convert(value)
    return field.to_python_value  # type: ignore[no-any-return]


async def _load_last_messages(keys: Sequence[int]) -> list[Message | None]:
    pages = await _load_message_pages([(key, _LAST_ONE) for key in keys])
    return [page[0] if page else None for page in pages]


_LAST_ONE = PageArgs(first=None, after=None, last=1, before=None)


def last_message_by_conversation() -> DataLoader[int, Message | None]:
    return DataLoader(load_fn=_load_last_messages)


async def _load_message_pages(
    keys: Sequence[tuple[int, PageArgs]],
) -> list[list[Message]]:
    """``limit + 1`` messages of each conversation in keyset order (newest first for
    ``last``): one statement per distinct page shape, however many conversations."""
    by_args: dict[PageArgs, set[int]] = defaultdict(set)
    for conversation_id, args in keys:
        by_args[args].add(conversation_id)
    pages: dict[tuple[int, PageArgs], list[Message]] = {}
    connection = connections.get("default")
    init = _message_row_builder(connection)
    for args, conversation_ids in by_args.items():
        bind = Binder(connection)
        sql = _page_sql(bind, sorted(conversation_ids), args, args.limit + 1)
        _, rows = await connection.execute_query(sql, bind.params)
        grouped: dict[int, list[Message]] = defaultdict(list)
        for row in sorted(rows, key=lambda row: row["id"], reverse=args.backwards):
            grouped[row["conversation_id"]].append(init(row))
        for conversation_id in conversation_ids:
            pages[(conversation_id, args)] = grouped.get(conversation_id, [])
    return [pages[key] for key in keys]


def messages_by_conversation() -> DataLoader[tuple[int, PageArgs], list[Message]]:
    return DataLoader(load_fn=_load_message_pages)
