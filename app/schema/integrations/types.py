"""API keys, webhooks and their deliveries as GraphQL types."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.dataloaders import integrations as loaders
from app.models import integrations as models
from app.models.accounts import Role as RoleModel
from app.platform.context import Info
from app.platform.ids import to_global_id
from app.platform.pagination import page_args
from app.schema.accounts.types import Role
from app.schema.node import Node
from app.schema.pagination import Connection, build_connection

WebhookDeliveryStatus = models.WebhookDeliveryStatus
strawberry.enum(
    models.WebhookDeliveryStatus,
    description="PENDING (not attempted yet) → DELIVERED, or FAILED (retrying with backoff) → "
    "DELIVERED or, after the retry window, DEAD (redeliverWebhookDelivery sends it again).",
)


@strawberry.type(
    description="A credential for an integration: acts for the organization with "
    "its role. Sent as `Authorization: Bearer prl_…`."
)
class ApiKey(Node):
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    name: str = strawberry.field(description="A name for people.")
    prefix: str = strawberry.field(
        description="`prl_` and the first characters of the secret, to tell keys apart."
    )
    role: Role = strawberry.field(description="What the key may do (ADMIN at most).")  # type: ignore[valid-type]
    last_used_at: datetime | None = strawberry.field(
        description="When it was last used (to the minute)."
    )
    expires_at: datetime | None = strawberry.field(description="When it stops working.")
    created_at: datetime = strawberry.field(description="When it was created.")
    revoked_at: datetime | None = strawberry.field(description="When it was revoked.")

    @classmethod
    def from_model(cls, row: models.ApiKey) -> ApiKey:
        return cls(
            id=to_global_id("ApiKey", row.id),
            name=row.name,
            prefix=row.prefix,
            role=RoleModel(row.role),
            last_used_at=row.last_used_at,
            expires_at=row.expires_at,
            created_at=row.created_at,
            revoked_at=row.revoked_at,
        )


@strawberry.type(description="One event for one webhook, and where its attempts stand.")
class WebhookDelivery(Node):
    id: strawberry.ID = strawberry.field(
        description="Opaque global id; sent as `X-Parley-Delivery` on every attempt."
    )
    event_id: str = strawberry.field(description="The event's id (the body's `id`).")
    status: WebhookDeliveryStatus = strawberry.field(description="Where it stands.")
    attempts: int = strawberry.field(description="Attempts so far.")
    last_status_code: int | None = strawberry.field(
        description="The HTTP status of the last attempt (null when none came back)."
    )
    last_error: str | None = strawberry.field(description="Why the last attempt failed.")
    last_response: str | None = strawberry.field(
        description="The last response's body, its first 4 KB at most."
    )
    last_latency_ms: int | None = strawberry.field(description="How long the last attempt took.")
    next_attempt_at: datetime | None = strawberry.field(description="When it is tried next.")
    created_at: datetime = strawberry.field(description="When the event was written.")
    delivered_at: datetime | None = strawberry.field(description="When a 2xx came back.")

    @classmethod
    def from_model(cls, row: models.WebhookDelivery) -> WebhookDelivery:
        return cls(
            id=to_global_id("WebhookDelivery", row.id),
            event_id=f"evt_{row.event_id}",
            status=row.status,
            attempts=row.attempts,
            last_status_code=row.last_status_code,
            last_error=row.last_error,
            last_response=row.last_response,
            last_latency_ms=row.last_latency_ms,
            next_attempt_at=row.next_attempt_at,
            created_at=row.created_at,
            delivered_at=row.delivered_at,
        )


@strawberry.type(description="An integrator's URL, sent the result of `query` for each event.")
class Webhook(Node):
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    name: str = strawberry.field(description="A name for people.")
    url: str = strawberry.field(description="Where deliveries are POSTed.")
    query: str = strawberry.field(
        description="The subscription document whose result is each delivery's `data`."
    )
    role: Role = strawberry.field(  # type: ignore[valid-type]
        description="The role the document runs with: it sees what an API key of it would."
    )
    active: bool = strawberry.field(description="False while paused (nothing is sent).")
    paused_reason: str | None = strawberry.field(description="Why it is paused.")
    created_at: datetime = strawberry.field(description="When it was created.")
    row: strawberry.Private[models.Webhook]

    @classmethod
    def from_model(cls, row: models.Webhook) -> Webhook:
        return cls(
            id=to_global_id("Webhook", row.id),
            name=row.name,
            url=row.url,
            query=row.query,
            role=RoleModel(row.role),
            active=row.active,
            paused_reason=row.paused_reason or None,
            created_at=row.created_at,
            row=row,
        )

    @strawberry.field(description="Its deliveries, oldest first; `status` filters them.")
    async def deliveries(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: WebhookDeliveryStatus | None = None,
    ) -> Connection[WebhookDelivery]:
        args = page_args(first, after)
        if args.limit == 0:
            return build_connection([], args, WebhookDelivery.from_model)
        rows = await info.context.loaders.get(loaders.deliveries_by_webhook).load(
            (self.row.id, status, args)
        )
        return build_connection(rows, args, WebhookDelivery.from_model)
