"""The inbox's queries: labels, canned responses, and the contact filter."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

import strawberry
from strawberry.scalars import JSON

from app.models import inbox as models
from app.platform.context import Info
from app.platform.errors import BadUserInput
from app.platform.pagination import page_args
from app.platform.scope import organization_id
from app.resolvers.messaging import canned, labels, lists
from app.schema.messaging.inbox import CannedResponse, ConversationNote, Label
from app.schema.node import register_node
from app.schema.pagination import Connection, paginate
from app.schema.permissions import IsAuthenticated


@strawberry.input(description="Which contacts: every condition given must hold.")
class ContactFilterInput:
    search: str | None = strawberry.field(
        default=None, description="Part of the name or of the number."
    )
    tags: list[str] | None = strawberry.field(default=None, description="All of these tags.")
    any_tags: list[str] | None = strawberry.field(
        default=None, description="At least one of these tags."
    )
    attributes: JSON | None = strawberry.field(
        default=None,
        description='Custom attributes equal to these values, e.g. `{"plan": "gold"}` '
        "(strings and numbers, compared as text).",
    )
    opted_out: bool | None = strawberry.field(
        default=None, description="true: only opted-out contacts; false: only the others."
    )
    last_seen_after: datetime | None = strawberry.field(
        default=None, description="Wrote at or after this time."
    )
    last_seen_before: datetime | None = strawberry.field(
        default=None, description="Last wrote before this time."
    )
    never_seen: bool | None = strawberry.field(
        default=None, description="true: never wrote; false: wrote at least once."
    )

    def to_filter(self) -> lists.ContactFilter:
        attributes = cast("Any", self.attributes)
        if attributes is not None and not isinstance(attributes, dict):
            raise BadUserInput("`attributes` is a JSON object.", field=["filter", "attributes"])
        return lists.ContactFilter(
            tags=self.tags,
            any_tags=self.any_tags,
            attributes=attributes,
            opted_out=self.opted_out,
            last_seen_after=self.last_seen_after,
            last_seen_before=self.last_seen_before,
            never_seen=self.never_seen,
        )


@strawberry.type
class ConversationWorkQuery:
    @strawberry.field(
        description="The organization's labels, by name.", permission_classes=[IsAuthenticated]
    )
    async def labels(self, info: Info) -> list[Label]:
        return [Label.from_model(row) for row in await labels.labels(info)]

    @strawberry.field(
        description="Canned responses; `search` matches the shortcut (a leading `/` is ignored).",
        permission_classes=[IsAuthenticated],
    )
    async def canned_responses(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        search: str | None = None,
    ) -> Connection[CannedResponse]:
        return await paginate(
            canned.canned(info, search), page_args(first, after), CannedResponse.from_model
        )


def scoped_fetcher(model: Any, to_node: Any) -> Any:
    """A ``node(id:)`` fetcher of ``model`` rows of the caller's organization only."""

    async def fetch(info: Info, pks: Sequence[int]) -> list[Any]:
        if info.context.viewer is None or info.context.viewer.organization_id is None:
            return [None for _ in pks]
        rows = await model.filter(id__in=list(pks), organization_id=organization_id(info))
        by_id = {row.id: row for row in rows}
        return [to_node(by_id[pk]) if pk in by_id else None for pk in pks]

    return fetch


register_node("Label", scoped_fetcher(models.Label, Label.from_model))
register_node(
    "ConversationNote", scoped_fetcher(models.ConversationNote, ConversationNote.from_model)
)
register_node("CannedResponse", scoped_fetcher(models.CannedResponse, CannedResponse.from_model))
