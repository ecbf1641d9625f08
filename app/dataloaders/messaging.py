"""Batch loaders for the messaging relations; built per operation (per event for
subscriptions) through ``info.context.loaders.get(factory)``.

Loaders fetch by key only; the organization check happens where an id comes from a client
(``app.resolvers.messaging.scope``), since rows reached through a relation are already scoped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader
from tortoise import connections
from tortoise.models import Model

from app.models.accounts import User
from app.models.messaging import Contact, Conversation, Device, Message, Template
from app.schema.pagination import PageArgs

M = TypeVar("M", bound=Model)


def _by_id(model: type[M]) -> Any:
    async def load(keys: Sequence[int]) -> list[M | None]:
        rows = {row.pk: row for row in await model.filter(id__in=list(set(keys)))}
        return [rows.get(key) for key in keys]

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


def _placeholders(dialect: str) -> Any:
    params: list[Any] = []

    def bind(value: Any) -> str:
        params.append(value)
        return "?" if dialect == "sqlite" else f"${len(params)}"

    return params, bind


async def _load_last_messages(keys: Sequence[int]) -> list[Message | None]:
    connection = connections.get("default")
    params, bind = _placeholders(connection.capabilities.dialect)
    ids = ", ".join(bind(key) for key in set(keys))
    rows = await connection.execute_query_dict(
        f"SELECT MAX(id) AS id FROM messages WHERE conversation_id IN ({ids}) "
        "GROUP BY conversation_id",
        params,
    )
    messages = await Message.filter(id__in=[row["id"] for row in rows])
    by_conversation = {message.conversation_id: message for message in messages}
    return [by_conversation.get(key) for key in keys]


def last_message_by_conversation() -> DataLoader[int, Message | None]:
    return DataLoader(load_fn=_load_last_messages)


async def _load_message_pages(
    keys: Sequence[tuple[int, PageArgs]],
) -> list[list[Message]]:
    """``limit + 1`` messages of each conversation in keyset order: two statements per
    distinct page shape, however many conversations."""
    by_args: dict[PageArgs, set[int]] = defaultdict(set)
    for conversation_id, args in keys:
        by_args[args].add(conversation_id)
    pages: dict[tuple[int, PageArgs], list[Message]] = {}
    connection = connections.get("default")
    for args, conversation_ids in by_args.items():
        params, bind = _placeholders(connection.capabilities.dialect)
        where = [f"conversation_id IN ({', '.join(bind(c) for c in conversation_ids)})"]
        if args.after is not None:
            where.append(f"id > {bind(args.after)}")
        if args.before is not None:
            where.append(f"id < {bind(args.before)}")
        order = "DESC" if args.backwards else "ASC"
        rows = await connection.execute_query_dict(
            "SELECT id FROM (SELECT id, ROW_NUMBER() OVER "
            f"(PARTITION BY conversation_id ORDER BY id {order}) AS rn "
            f"FROM messages WHERE {' AND '.join(where)}) AS ranked WHERE rn <= {bind(args.limit + 1)}",
            params,
        )
        messages = await Message.filter(id__in=[row["id"] for row in rows])
        messages.sort(key=lambda m: m.id, reverse=args.backwards)
        grouped: dict[int, list[Message]] = defaultdict(list)
        for message in messages:
            grouped[message.conversation_id].append(message)
        for conversation_id in conversation_ids:
            pages[(conversation_id, args)] = grouped.get(conversation_id, [])
    return [pages[key] for key in keys]


def messages_by_conversation() -> DataLoader[tuple[int, PageArgs], list[Message]]:
    return DataLoader(load_fn=_load_message_pages)
