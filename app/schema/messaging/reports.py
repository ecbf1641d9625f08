"""Orders, ad referrals and (staff) inbound webhook deliveries, for reports and support."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from app.dataloaders import messaging as loaders
from app.models import inbox as inbox_models
from app.models import messaging as models
from app.models.accounts import Role
from app.platform.context import Info
from app.platform.ids import to_global_id
from app.platform.pagination import page_args
from app.resolvers.messaging import reports
from app.schema.messaging.inbox_queries import scoped_fetcher
from app.schema.messaging.types import Contact, Device, Message
from app.schema.node import Node, register_node
from app.schema.pagination import Connection, paginate
from app.schema.permissions import HasRole, IsAuthenticated

WebhookEventStatus = models.WebhookEventStatus
strawberry.enum(
    models.WebhookEventStatus,
    name="InboundWebhookStatus",
    description="RECEIVED (not applied yet), PROCESSED (every item applied), PARTIAL (some "
    "items refused, see `errors`) or FAILED (none applied).",
)


async def _contact(info: Info, pk: int) -> Contact:
    row = await info.context.loaders.get(loaders.contact_by_id).load(pk)
    assert row is not None
    return Contact.from_model(row)


async def _message(info: Info, pk: int) -> Message:
    row = await info.context.loaders.get(loaders.message_by_id).load(pk)
    assert row is not None
    return Message.from_model(row)


@strawberry.type(description="A product line of an order.")
class OrderItem:
    product_retailer_id: str | None = strawberry.field(description="The product's id.")
    quantity: int | None = strawberry.field(description="How many.")
    item_price: float | None = strawberry.field(description="The price of one.")
    currency: str | None = strawberry.field(description="ISO 4217 code, e.g. `USD`.")


@strawberry.type(description="A customer's order from a catalog (an inbound ORDER message).")
class Order(Node):
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    catalog_id: str | None = strawberry.field(description="The catalog ordered from.")
    items: list[OrderItem] = strawberry.field(description="The product lines.")
    item_count: int = strawberry.field(description="The sum of the quantities.")
    total: float | None = strawberry.field(
        description="The sum of quantity × price; null when the lines are in several currencies."
    )
    currency: str | None = strawberry.field(description="The currency of `total`.")
    created_at: datetime = strawberry.field(description="When it was received.")
    row: strawberry.Private[inbox_models.Order]

    @classmethod
    def from_model(cls, row: inbox_models.Order) -> Order:
        return cls(
            id=to_global_id("Order", row.id),
            catalog_id=row.catalog_id,
            items=[
                OrderItem(
                    product_retailer_id=_get(item, "product_retailer_id", str),
                    quantity=_get(item, "quantity", int),
                    item_price=_get(item, "item_price", float),
                    currency=_get(item, "currency", str),
                )
                for item in row.items or []
            ],
            item_count=row.item_count,
            total=row.total,
            currency=row.currency,
            created_at=row.created_at,
            row=row,
        )

    @strawberry.field(description="Who ordered.")
    async def contact(self, info: Info) -> Contact:
        return await _contact(info, self.row.contact_id)

    @strawberry.field(description="The ORDER message.")
    async def message(self, info: Info) -> Message:
        return await _message(info, self.row.message_id)


def _get(item: Any, key: str, kind: type) -> Any:
    value = item.get(key) if isinstance(item, dict) else None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value if isinstance(value, kind) and not isinstance(value, bool) else None


@strawberry.type(
    description="A customer who came from a click-to-WhatsApp ad or post: the referral of "
    "their message."
)
class AdReferral(Node):
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    source_type: str | None = strawberry.field(description="`ad` or `post`.")
    source_id: str | None = strawberry.field(description="The ad's or post's id at Meta.")
    source_url: str | None = strawberry.field(description="The ad's or post's URL.")
    headline: str | None = strawberry.field(description="The ad's headline.")
    ctwa_clid: str | None = strawberry.field(description="Meta's click id, for conversions.")
    created_at: datetime = strawberry.field(description="When the message was received.")
    row: strawberry.Private[inbox_models.AdReferral]

    @classmethod
    def from_model(cls, row: inbox_models.AdReferral) -> AdReferral:
        return cls(
            id=to_global_id("AdReferral", row.id),
            source_type=row.source_type,
            source_id=row.source_id,
            source_url=row.source_url,
            headline=row.headline,
            ctwa_clid=row.ctwa_clid,
            created_at=row.created_at,
            row=row,
        )

    @strawberry.field(description="Who came.")
    async def contact(self, info: Info) -> Contact:
        return await _contact(info, self.row.contact_id)

    @strawberry.field(description="The message that carried the referral.")
    async def message(self, info: Info) -> Message:
        return await _message(info, self.row.message_id)


@strawberry.type(description="An item of a webhook delivery that Parley did not apply, and why.")
class RefusedWebhookItem:
    where: str = strawberry.field(
        description="Its place in the delivery, e.g. `entry[0].changes[0].messages[4]`."
    )
    item_id: str | None = strawberry.field(description="Its id at Meta, when it had one.")
    reason: str = strawberry.field(description="Why it was not applied.")


@strawberry.type(
    description="A webhook delivery from Meta as Parley applied it (staff: ADMIN+); the raw "
    "body is not shown."
)
class InboundWebhookEvent:
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    status: WebhookEventStatus = strawberry.field(description="How far it was applied.")
    error: str | None = strawberry.field(description="A summary of what went wrong.")
    errors: list[RefusedWebhookItem] = strawberry.field(
        description="The items not applied, each with its reason."
    )
    received_at: datetime = strawberry.field(description="When Parley received it.")
    processed_at: datetime | None = strawberry.field(description="When it reached its status.")
    row: strawberry.Private[models.WebhookEvent]

    @classmethod
    def from_model(cls, row: models.WebhookEvent) -> InboundWebhookEvent:
        return cls(
            id=to_global_id("InboundWebhookEvent", row.id),
            status=row.status,
            error=row.error,
            errors=[
                RefusedWebhookItem(
                    where=str(item.get("where", "")),
                    item_id=item.get("id"),
                    reason=str(item.get("reason", "")),
                )
                for item in row.errors or []
                if isinstance(item, dict)
            ],
            received_at=row.created_at,
            processed_at=row.processed_at,
            row=row,
        )

    @strawberry.field(description="The device the delivery was for.")
    async def device(self, info: Info) -> Device:
        row = await info.context.loaders.get(loaders.device_by_id).load(self.row.device_id)
        assert row is not None
        return Device.from_model(row)

    @strawberry.field(description="The delivery's size in bytes.")
    def size(self) -> int:
        return len(self.row.raw_body.encode())


@strawberry.type
class ReportsQuery:
    @strawberry.field(
        description="Orders customers placed from a catalog, oldest first; `since` and "
        "`until` bound the time received.",
        permission_classes=[IsAuthenticated],
    )
    async def orders(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        contact_id: strawberry.ID | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Connection[Order]:
        queryset = reports.orders(info, contact_id=contact_id, since=since, until=until)
        return await paginate(queryset, page_args(first, after), Order.from_model)

    @strawberry.field(
        description="Customers who came from a click-to-WhatsApp ad or post, oldest first; "
        "`sourceId` picks one ad.",
        permission_classes=[IsAuthenticated],
    )
    async def ad_referrals(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        source_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Connection[AdReferral]:
        queryset = reports.ad_referrals(info, source_id=source_id, since=since, until=until)
        return await paginate(queryset, page_args(first, after), AdReferral.from_model)

    @strawberry.field(
        description="Webhook deliveries from Meta, oldest first (ADMIN+): `withErrors: true` "
        "lists those with refused items (PARTIAL, FAILED), each item with its reason.",
        permission_classes=[HasRole(Role.ADMIN)],
    )
    async def webhook_events(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        device_id: strawberry.ID | None = None,
        status: WebhookEventStatus | None = None,
        with_errors: bool | None = None,
    ) -> Connection[InboundWebhookEvent]:
        queryset = reports.webhook_events(
            info, device_id=device_id, status=status, with_errors=with_errors
        )
        return await paginate(queryset, page_args(first, after), InboundWebhookEvent.from_model)


register_node("Order", scoped_fetcher(inbox_models.Order, Order.from_model))
register_node("AdReferral", scoped_fetcher(inbox_models.AdReferral, AdReferral.from_model))
