"""Campaigns and their recipients as GraphQL types."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from app.dataloaders import campaigns as campaign_loaders
from app.dataloaders import messaging as loaders
from app.models import campaigns as models
from app.models.campaigns import RecipientStatus as RS
from app.platform.context import Info
from app.platform.ids import to_global_id
from app.platform.pagination import page_args
from app.schema.messaging.types import Contact, Device, Message
from app.schema.node import Node
from app.schema.pagination import Connection, build_connection

CampaignStatus = models.CampaignStatus
strawberry.enum(
    models.CampaignStatus,
    description="DRAFT → (SCHEDULED →) RUNNING ⇄ PAUSED → COMPLETED, or CANCELLED / FAILED.",
)
RecipientStatus = models.RecipientStatus
strawberry.enum(
    models.RecipientStatus,
    description="PENDING → CLAIMED → SENDING → SENT → DELIVERED → READ, or FAILED / SKIPPED / "
    "CANCELLED.",
)


@strawberry.type(description="Recipients by where they stand now; the counts add up to `total`.")
class CampaignStats:
    total: int = strawberry.field(description="Recipients of the campaign.")
    pending: int = strawberry.field(description="Not sent yet (PENDING, CLAIMED or SENDING).")
    sent: int = strawberry.field(description="Sent, not yet delivered.")
    delivered: int = strawberry.field(description="Delivered, not yet read.")
    read: int = strawberry.field(description="Read.")
    failed: int = strawberry.field(description="Failed; see each recipient's reason.")
    skipped: int = strawberry.field(description="Not sent on purpose; see each recipient's reason.")
    cancelled: int = strawberry.field(description="Not sent because the campaign was cancelled.")
    campaign_id: strawberry.Private[int]

    @strawberry.field(
        description="Messages by Meta's pricing category (from the status webhooks' `pricing`), "
        "and how many of each are billable: what the campaign costs, by category."
    )
    async def by_category(self, info: Info) -> list[CampaignCategoryStats]:
        rows = await info.context.loaders.get(campaign_loaders.categories_by_campaign).load(
            self.campaign_id
        )
        return [
            CampaignCategoryStats(category=r.category, messages=r.messages, billable=r.billable)
            for r in rows
        ]


@strawberry.type(description="A campaign's messages of one Meta pricing category.")
class CampaignCategoryStats:
    category: str = strawberry.field(
        description="`marketing`, `utility`, `authentication` or `service`."
    )
    messages: int = strawberry.field(description="Messages Meta priced in this category.")
    billable: int = strawberry.field(description="Of those, the ones Meta charges for.")


@strawberry.type(description="One contact of a campaign's audience and what happened to it.")
class CampaignRecipient(Node):
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    phone_number: str = strawberry.field(description="The number in E.164.")
    status: RecipientStatus = strawberry.field(description="Where this recipient stands.")
    reason: str | None = strawberry.field(description="Why it was SKIPPED or FAILED.")
    error_code: int | None = strawberry.field(description="The provider's error code, if any.")
    attempts: int = strawberry.field(description="Send attempts so far.")
    variables: JSON = strawberry.field(description="The values rendered for this contact.")
    sent_at: datetime | None = strawberry.field(description="When the provider accepted it.")
    row: strawberry.Private[models.CampaignRecipient]

    @classmethod
    def from_model(cls, row: models.CampaignRecipient) -> CampaignRecipient:
        return cls(
            id=to_global_id("CampaignRecipient", row.id),
            phone_number=row.phone,
            status=row.status,
            reason=row.reason,
            error_code=row.error_code,
            attempts=row.attempts,
            variables=JSON(dict(row.variables or {})),
            sent_at=row.sent_at,
            row=row,
        )

    @strawberry.field(description="The contact (null when it was deleted).")
    async def contact(self, info: Info) -> Contact | None:
        if self.row.contact_id is None:
            return None
        row = await info.context.loaders.get(loaders.contact_by_id).load(self.row.contact_id)
        return Contact.from_model(row) if row is not None else None

    @strawberry.field(description="The message sent to this recipient, once there is one.")
    async def message(self, info: Info) -> Message | None:
        if self.row.message_id is None:
            return None
        row = await info.context.loaders.get(loaders.message_by_id).load(self.row.message_id)
        return Message.from_model(row) if row is not None else None


@strawberry.type(description="One message sent to many contacts, each with their own variables.")
class Campaign(Node):
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
    name: str = strawberry.field(description="A name for people.")
    status: CampaignStatus = strawberry.field(description="Where the campaign stands.")
    text: str | None = strawberry.field(description="Free-form text, with {{variables}}.")
    template_name: str | None = strawberry.field(description="Template name, for templates.")
    template_language: str | None = strawberry.field(description="Template language.")
    template_parameters: list[str] = strawberry.field(
        description="Template body parameters, with {{variables}}."
    )
    tags: list[str] = strawberry.field(description="Contacts with any of these tags are in.")
    scheduled_at: datetime | None = strawberry.field(description="When it starts by itself.")
    started_at: datetime | None = strawberry.field(description="When it first started.")
    finished_at: datetime | None = strawberry.field(description="When it ended.")
    failure_reason: str | None = strawberry.field(description="Why it FAILED.")
    pause_reason: str | None = strawberry.field(
        description="Why it PAUSED by itself (a plan's limit reached, with the numbers); "
        "resume it once the plan has room."
    )
    created_at: datetime = strawberry.field(description="When it was created.")
    row: strawberry.Private[models.Campaign]

    @classmethod
    def from_model(cls, row: models.Campaign) -> Campaign:
        return cls(
            id=to_global_id("Campaign", row.id),
            name=row.name,
            status=row.status,
            text=row.text,
            template_name=row.template_name,
            template_language=row.template_language,
            template_parameters=list(row.template_parameters or []),
            tags=list(row.audience_tags or []),
            scheduled_at=row.scheduled_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
            failure_reason=row.failure_reason,
            pause_reason=row.pause_reason,
            created_at=row.created_at,
            row=row,
        )

    @strawberry.field(description="The sending device.")
    async def device(self, info: Info) -> Device:
        row = await info.context.loaders.get(loaders.device_by_id).load(self.row.device_id)
        assert row is not None
        return Device.from_model(row)

    @strawberry.field(description="Recipient counts by status.")
    async def stats(self, info: Info) -> CampaignStats:
        counts = await info.context.loaders.get(campaign_loaders.recipient_counts).load(self.row.id)
        return CampaignStats(
            total=sum(counts.values()),
            pending=sum(counts.get(s, 0) for s in (RS.PENDING, RS.CLAIMED, RS.SENDING)),
            sent=counts.get(RS.SENT, 0),
            delivered=counts.get(RS.DELIVERED, 0),
            read=counts.get(RS.READ, 0),
            failed=counts.get(RS.FAILED, 0),
            skipped=counts.get(RS.SKIPPED, 0),
            cancelled=counts.get(RS.CANCELLED, 0),
            campaign_id=self.row.id,
        )

    @strawberry.field(description="The audience, one row per contact, in audience order.")
    async def recipients(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: RecipientStatus | None = None,
    ) -> Connection[CampaignRecipient]:
        args = page_args(first, after)
        if args.limit == 0:
            return build_connection([], args, CampaignRecipient.from_model)
        rows = await info.context.loaders.get(campaign_loaders.recipients_by_campaign).load(
            (self.row.id, status, args)
        )
        return build_connection(rows, args, CampaignRecipient.from_model)
