"""Relay global ids and the ``Node`` interface.

A global id is ``base64url("<TypeName>:<primary key>")``: opaque to clients, decodable here.
Each node type registers a fetcher that loads many ids at once, scoped to the caller's
organization, so ``node``/``nodes`` answer an id of another organization exactly like an id
that does not exist.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import strawberry

from app.platform.context import Info
from app.platform.ids import InvalidId, KeyOutOfRange, from_global_id

NodeFetcher = Callable[[Info, Sequence[int]], Awaitable[Sequence[Any | None]]]
_FETCHERS: dict[str, NodeFetcher] = {}


def register_node(type_name: str, fetch: NodeFetcher) -> None:
    _FETCHERS[type_name] = fetch


@strawberry.interface(description="An object with a global id, fetchable with `node(id:)`.")
class Node:
    id: strawberry.ID = strawberry.field(description="Opaque global id.")


async def resolve_nodes(info: Info, ids: Sequence[str], field: str) -> list[Any | None]:
    """The objects of ``ids``, None for an id that names none (Relay: ``node`` answers null
    for what it cannot fetch), except a number beyond 64 bits: BAD_USER_INPUT, as everywhere.
    ``field`` is the argument: ``ids`` have their index in the error's path."""
    decoded: list[tuple[str, int] | None] = []
    for index, global_id in enumerate(ids):
        path: list[str | int] = [field] if field == "id" else [field, index]
        try:
            decoded.append(from_global_id(global_id, field=path))
        except KeyOutOfRange:
            raise
        except InvalidId:
            decoded.append(None)
    by_type: dict[str, list[int]] = {}
    for item in decoded:
        if item is not None and item[0] in _FETCHERS:
            by_type.setdefault(item[0], []).append(item[1])
    found: dict[tuple[str, int], Any] = {}
    for type_name, pks in by_type.items():
        for pk, obj in zip(pks, await _FETCHERS[type_name](info, pks), strict=True):
            if obj is not None:
                found[(type_name, pk)] = obj
    return [found.get(item) if item is not None else None for item in decoded]
