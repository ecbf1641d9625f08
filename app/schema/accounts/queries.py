"""Accounts queries (`me`, `organization`, `auditEvents`) and node fetchers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import strawberry

from app.models import accounts as models
from app.platform.context import Info
from app.platform.pagination import page_args
from app.resolvers.accounts import members, nodes
from app.schema.accounts.types import AuditEventType, MemberType, OrganizationType, UserType
from app.schema.node import NodeFetcher, register_node
from app.schema.pagination import Connection, paginate
from app.schema.permissions import HasRole

_ADMIN = HasRole(models.Role.ADMIN)

Row = TypeVar("Row")


@strawberry.type
class AccountsQuery:
    @strawberry.field(description="The signed-in user; null when not signed in.")
    def me(self, info: Info) -> UserType | None:
        viewer = info.context.viewer
        return UserType.from_model(viewer.user) if viewer else None

    @strawberry.field(
        description="The organization selected by the `X-Organization-Id` header (a global "
        "id), or the user's first organization; null when not signed in."
    )
    def organization(self, info: Info) -> OrganizationType | None:
        viewer = info.context.viewer
        organization = viewer.organization if viewer else None
        return OrganizationType.from_model(organization) if organization else None

    @strawberry.field(
        description="Security and administration events of the organization, oldest first "
        "(OWNER and ADMIN).",
        permission_classes=[_ADMIN],
    )
    async def audit_events(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[AuditEventType]:
        args = page_args(first, after)
        return await paginate(members.audit_events(info), args, AuditEventType.from_model)


def _fetcher(
    rows_of: Callable[[Info, Sequence[int]], Awaitable[dict[int, Row]]],
    to_node: Callable[[Row], object],
) -> NodeFetcher:
    async def fetch(info: Info, ids: Sequence[int]) -> list[object | None]:
        rows = await rows_of(info, ids)
        return [to_node(rows[i]) if i in rows else None for i in ids]

    return fetch


register_node("Member", _fetcher(nodes.members, MemberType.from_model))
register_node("User", _fetcher(nodes.users, UserType.from_model))
register_node("Organization", _fetcher(nodes.organizations, OrganizationType.from_model))
