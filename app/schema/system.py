from __future__ import annotations

import strawberry

from app.platform.context import Info
from app.platform.errors import BadUserInput
from app.schema.node import Node, resolve_nodes


@strawberry.type
class SystemQuery:
    @strawberry.field(description="Fetch any object by its global id; null when not visible.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return (await resolve_nodes(info, [id], field="id"))[0]

    @strawberry.field(description="Fetch objects by global ids, in order; null where not visible.")
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        if len(ids) > 100:
            raise BadUserInput("At most 100 ids at once.", field=["ids"])
        return await resolve_nodes(info, ids, field="ids")
