"""Campaign mutations: one `input`, a payload with `userErrors`; all ADMIN+."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.models.accounts import Role
from app.models.campaigns import Campaign as CampaignModel
from app.platform.context import Info
from app.resolvers.campaigns import lifecycle
from app.resolvers.messaging.messages import TemplateContent
from app.schema.campaigns.types import Campaign
from app.schema.messaging.mutations import TemplateButtonInput, TemplateHeaderInput
from app.schema.permissions import HasRole
from app.schema.user_errors import UserError

ADMIN = [HasRole(Role.ADMIN)]


@strawberry.input(description="A template and its body, header and button parameters.")
class CampaignTemplateInput:
    name: str = strawberry.field(description="Template name at Meta.")
    language: str = strawberry.field(description="Language code, e.g. `en_US`.")
    parameters: list[str] | None = strawberry.field(
        default=None,
        description="Values of the body's `{{1}}`, `{{2}}`, ... in order; each may use "
        "`{{name}}`, `{{phone}}` or a custom attribute such as `{{city}}`.",
    )
    header: TemplateHeaderInput | None = strawberry.field(
        default=None,
        description="The header's parameter; its `text` or `link` may use `{{variables}}`.",
    )
    buttons: list[TemplateButtonInput] | None = strawberry.field(
        default=None,
        description="Parameters of the template's buttons, by index; each may use `{{variables}}`.",
    )

    def to_content(self) -> TemplateContent:
        return TemplateContent(
            self.name,
            self.language,
            list(self.parameters or []),
            self.header.to_content() if self.header is not None else None,
            [button.to_value() for button in self.buttons or []],
        )


@strawberry.input(description="A new campaign: `text` or `template`, and an audience.")
class CreateCampaignInput:
    name: str = strawberry.field(description="A name for people.")
    device_id: strawberry.ID = strawberry.field(description="The sending device.")
    text: str | None = strawberry.field(
        default=None,
        description="Free-form text with `{{variables}}`; it only reaches contacts whose 24-hour "
        "window is open (the rest are SKIPPED: templates are the way to reach them).",
    )
    template: CampaignTemplateInput | None = strawberry.field(
        default=None, description="A template message."
    )
    contact_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Contacts in the audience."
    )
    tags: list[str] | None = strawberry.field(
        default=None, description="Contacts with any of these tags are in the audience."
    )
    scheduled_at: datetime | None = strawberry.field(
        default=None, description="Start by itself at this time (the campaign is SCHEDULED)."
    )


@strawberry.input(description="The campaign to act on.")
class CampaignIdInput:
    campaign_id: strawberry.ID = strawberry.field(description="The campaign.")


@strawberry.type(description="The result of createCampaign.")
class CreateCampaignPayload:
    campaign: Campaign | None = strawberry.field(description="The new campaign.")
    variables: list[str] = strawberry.field(
        description="The variables each contact needs; contacts without them are SKIPPED."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing was created.")


@strawberry.type(description="A campaign after a start, pause, resume or cancel.")
class CampaignPayload:
    campaign: Campaign | None = strawberry.field(description="The campaign as it is now.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


def _payload(result: tuple[CampaignModel | None, list[UserError]]) -> CampaignPayload:
    row, errors = result
    return CampaignPayload(
        campaign=Campaign.from_model(row) if row is not None else None, user_errors=errors
    )


@strawberry.type
class CampaignsMutation:
    @strawberry.mutation(description="Create a campaign (ADMIN+).", permission_classes=ADMIN)
    async def create_campaign(
        self, info: Info, input: CreateCampaignInput
    ) -> CreateCampaignPayload:
        template = input.template
        row, errors = await lifecycle.create_campaign(
            info,
            name=input.name,
            device_id=input.device_id,
            text=input.text,
            template=template.to_content() if template is not None else None,
            contact_ids=[str(c) for c in input.contact_ids or []],
            tags=input.tags,
            scheduled_at=input.scheduled_at,
        )
        return CreateCampaignPayload(
            campaign=Campaign.from_model(row) if row is not None else None,
            variables=lifecycle.variables_needed(row) if row is not None else [],
            user_errors=errors,
        )

    @strawberry.mutation(
        description="Start sending now: the audience is resolved, then sent to (ADMIN+).",
        permission_classes=ADMIN,
    )
    async def start_campaign(self, info: Info, input: CampaignIdInput) -> CampaignPayload:
        return _payload(await lifecycle.start_campaign(info, campaign_id=input.campaign_id))

    @strawberry.mutation(
        description="Stop sending within a second; resume continues (ADMIN+).",
        permission_classes=ADMIN,
    )
    async def pause_campaign(self, info: Info, input: CampaignIdInput) -> CampaignPayload:
        return _payload(await lifecycle.pause_campaign(info, campaign_id=input.campaign_id))

    @strawberry.mutation(
        description="Continue a paused campaign where it stopped (ADMIN+).",
        permission_classes=ADMIN,
    )
    async def resume_campaign(self, info: Info, input: CampaignIdInput) -> CampaignPayload:
        return _payload(await lifecycle.resume_campaign(info, campaign_id=input.campaign_id))

    @strawberry.mutation(
        description="Stop for good; recipients not yet sent to become CANCELLED (ADMIN+).",
        permission_classes=ADMIN,
    )
    async def cancel_campaign(self, info: Info, input: CampaignIdInput) -> CampaignPayload:
        return _payload(await lifecycle.cancel_campaign(info, campaign_id=input.campaign_id))
