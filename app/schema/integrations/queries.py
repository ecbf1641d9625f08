"""The organization's API keys and webhooks (ADMIN+)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import strawberry

from app.models.accounts import Role as RoleModel
from app.platform.context import Info
from app.platform.pagination import page_args
from app.resolvers import integrations as resolvers
from app.schema.integrations.types import ApiKey, Webhook, WebhookDelivery
from app.schema.node import register_node
from app.schema.pagination import Connection, paginate
from app.schema.permissions import HasRole

ADMIN = [HasRole(RoleModel.ADMIN)]


@strawberry.type
class IntegrationsQuery:
    @strawberry.field(
        description="The organization's API keys, oldest first, revoked ones too (ADMIN+).",
        permission_classes=ADMIN,
    )
    async def api_keys(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[ApiKey]:
        return await paginate(
            resolvers.api_keys_of(info), page_args(first, after), ApiKey.from_model
        )

    @strawberry.field(
        description="The organization's webhooks, oldest first (ADMIN+).", permission_classes=ADMIN
    )
    async def webhooks(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Webhook]:
        return await paginate(
            resolvers.webhooks_of(info), page_args(first, after), Webhook.from_model
        )


def _may_manage(info: Info) -> bool:
    viewer = info.context.viewer
    return viewer is not None and viewer.role is not None and viewer.role.at_least(RoleModel.ADMIN)


async def _fetch_api_keys(info: Info, pks: Sequence[int]) -> Sequence[Any | None]:
    if not _may_manage(info):
        return [None] * len(pks)
    return [ApiKey.from_model(r) if r else None for r in await resolvers.api_keys_by_id(info, pks)]


async def _fetch_webhooks(info: Info, pks: Sequence[int]) -> Sequence[Any | None]:
    if not _may_manage(info):
        return [None] * len(pks)
    return [Webhook.from_model(r) if r else None for r in await resolvers.webhooks_by_id(info, pks)]


async def _fetch_deliveries(info: Info, pks: Sequence[int]) -> Sequence[Any | None]:
    if not _may_manage(info):
        return [None] * len(pks)
    rows = await resolvers.deliveries_by_id(info, pks)
    return [WebhookDelivery.from_model(r) if r else None for r in rows]


register_node("ApiKey", _fetch_api_keys)
register_node("Webhook", _fetch_webhooks)
register_node("WebhookDelivery", _fetch_deliveries)
