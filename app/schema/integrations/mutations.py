"""API key and webhook mutations: one `input`, a payload with `userErrors`; all ADMIN+."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.models.accounts import Role as RoleModel
from app.platform.context import Info
from app.resolvers import integrations as resolvers
from app.schema.accounts.types import Role
from app.schema.integrations.types import ApiKey, Webhook, WebhookDelivery
from app.schema.permissions import HasRole
from app.schema.user_errors import UserError

ADMIN = [HasRole(RoleModel.ADMIN)]


@strawberry.input(description="A new API key.")
class CreateApiKeyInput:
    name: str = strawberry.field(description="A name for people, e.g. the integration's.")
    role: Role = strawberry.field(description="What it may do: ADMIN at most.")  # type: ignore[valid-type]
    expires_at: datetime | None = strawberry.field(
        default=None, description="When it stops working (never, when unset)."
    )


@strawberry.type(description="The result of createApiKey.")
class CreateApiKeyPayload:
    api_key: ApiKey | None = strawberry.field(description="The new key.")
    secret: str | None = strawberry.field(
        description="The key itself (`prl_…`): shown this once, stored only as a hash."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing was created.")


@strawberry.input(description="The API key to act on.")
class ApiKeyIdInput:
    api_key_id: strawberry.ID = strawberry.field(description="The key.")


@strawberry.type(description="The result of revokeApiKey.")
class RevokeApiKeyPayload:
    api_key: ApiKey | None = strawberry.field(description="The key, revoked.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.input(description="A new webhook.")
class CreateWebhookInput:
    name: str = strawberry.field(description="A name for people.")
    url: str = strawberry.field(
        description="Where deliveries are POSTed: https, not a private or local address."
    )
    query: str = strawberry.field(
        description="A subscription document over `Subscription` (messageEvents, "
        "conversationEvents, deviceEvents or agentRunEvents, no variables, no `after`); "
        "its result is each delivery's `data`."
    )
    role: Role = strawberry.field(  # type: ignore[valid-type]
        default=RoleModel.VIEWER,
        description="The role the document runs with (ADMIN at most; VIEWER when unset).",
    )


@strawberry.type(description="The result of createWebhook.")
class CreateWebhookPayload:
    webhook: Webhook | None = strawberry.field(description="The new webhook.")
    secret: str | None = strawberry.field(
        description="The signing secret (`whsec_…`): shown this once."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing was created.")


@strawberry.input(description="Changes to a webhook; unset fields stay as they are.")
class UpdateWebhookInput:
    webhook_id: strawberry.ID = strawberry.field(description="The webhook.")
    name: str | None = strawberry.field(default=None, description="A new name.")
    url: str | None = strawberry.field(default=None, description="A new URL.")
    query: str | None = strawberry.field(default=None, description="A new document.")
    active: bool | None = strawberry.field(
        default=None, description="False pauses it, true resumes it (what it missed is sent)."
    )


@strawberry.type(description="A webhook after a change.")
class UpdateWebhookPayload:
    webhook: Webhook | None = strawberry.field(description="The webhook as it is now.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.input(description="The webhook to act on.")
class WebhookIdInput:
    webhook_id: strawberry.ID = strawberry.field(description="The webhook.")


@strawberry.type(description="The result of deleteWebhook.")
class DeleteWebhookPayload:
    deleted_webhook_id: strawberry.ID | None = strawberry.field(description="The id it had.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing was deleted.")


@strawberry.type(description="The result of rotateWebhookSecret.")
class RotateWebhookSecretPayload:
    webhook: Webhook | None = strawberry.field(description="The webhook.")
    secret: str | None = strawberry.field(
        description="The new secret, shown once; the old one signs too for a day "
        "(a second `v1` in X-Parley-Signature)."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.input(description="The delivery to send again.")
class WebhookDeliveryIdInput:
    webhook_delivery_id: strawberry.ID = strawberry.field(description="The delivery.")


@strawberry.type(description="The result of redeliverWebhookDelivery.")
class RedeliverWebhookDeliveryPayload:
    webhook_delivery: WebhookDelivery | None = strawberry.field(
        description="The delivery, PENDING again (same id and body, a new retry window)."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


def _webhook(result: tuple[object, list[UserError]]) -> UpdateWebhookPayload:
    row, errors = result
    return UpdateWebhookPayload(
        webhook=Webhook.from_model(row) if row is not None else None,  # type: ignore[arg-type]
        user_errors=errors,
    )


@strawberry.type
class IntegrationsMutation:
    @strawberry.mutation(
        description="Creates an API key; its secret is in the payload, once (ADMIN+).",
        permission_classes=ADMIN,
    )
    async def create_api_key(self, info: Info, input: CreateApiKeyInput) -> CreateApiKeyPayload:
        created, errors = await resolvers.create_api_key(
            info, name=input.name, role=RoleModel(input.role), expires_at=input.expires_at
        )
        if created is None:
            return CreateApiKeyPayload(api_key=None, secret=None, user_errors=errors)
        return CreateApiKeyPayload(
            api_key=ApiKey.from_model(created.api_key), secret=created.secret, user_errors=[]
        )

    @strawberry.mutation(
        description="Revokes an API key: refused from its next request on (ADMIN+).",
        permission_classes=ADMIN,
    )
    async def revoke_api_key(self, info: Info, input: ApiKeyIdInput) -> RevokeApiKeyPayload:
        row, errors = await resolvers.revoke_api_key(info, input.api_key_id)
        return RevokeApiKeyPayload(
            api_key=ApiKey.from_model(row) if row is not None else None, user_errors=errors
        )

    @strawberry.mutation(
        description="Creates a webhook; its signing secret is in the payload, once (ADMIN+).",
        permission_classes=ADMIN,
    )
    async def create_webhook(self, info: Info, input: CreateWebhookInput) -> CreateWebhookPayload:
        created, errors = await resolvers.create_webhook(
            info, name=input.name, url=input.url, query=input.query, role=RoleModel(input.role)
        )
        if created is None:
            return CreateWebhookPayload(webhook=None, secret=None, user_errors=errors)
        return CreateWebhookPayload(
            webhook=Webhook.from_model(created.webhook), secret=created.secret, user_errors=[]
        )

    @strawberry.mutation(description="Changes a webhook (ADMIN+).", permission_classes=ADMIN)
    async def update_webhook(self, info: Info, input: UpdateWebhookInput) -> UpdateWebhookPayload:
        return _webhook(
            await resolvers.update_webhook(
                info,
                input.webhook_id,
                name=input.name,
                url=input.url,
                query=input.query,
                active=input.active,
            )
        )

    @strawberry.mutation(
        description="Pauses a webhook: events are kept, nothing is sent (ADMIN+).",
        permission_classes=ADMIN,
    )
    async def pause_webhook(self, info: Info, input: WebhookIdInput) -> UpdateWebhookPayload:
        return _webhook(await resolvers.set_webhook_active(info, input.webhook_id, False))

    @strawberry.mutation(
        description="Resumes a webhook; what is due is sent at once (ADMIN+).",
        permission_classes=ADMIN,
    )
    async def resume_webhook(self, info: Info, input: WebhookIdInput) -> UpdateWebhookPayload:
        return _webhook(await resolvers.set_webhook_active(info, input.webhook_id, True))

    @strawberry.mutation(
        description="Deletes a webhook and its deliveries (ADMIN+).", permission_classes=ADMIN
    )
    async def delete_webhook(self, info: Info, input: WebhookIdInput) -> DeleteWebhookPayload:
        deleted, errors = await resolvers.delete_webhook(info, input.webhook_id)
        return DeleteWebhookPayload(
            deleted_webhook_id=strawberry.ID(deleted) if deleted else None, user_errors=errors
        )

    @strawberry.mutation(
        description="A new signing secret; the old one keeps signing for a grace period "
        "(a day) so receivers can switch over (ADMIN+).",
        permission_classes=ADMIN,
    )
    async def rotate_webhook_secret(
        self, info: Info, input: WebhookIdInput
    ) -> RotateWebhookSecretPayload:
        rotated, errors = await resolvers.rotate_webhook_secret(info, input.webhook_id)
        if rotated is None:
            return RotateWebhookSecretPayload(webhook=None, secret=None, user_errors=errors)
        return RotateWebhookSecretPayload(
            webhook=Webhook.from_model(rotated.webhook), secret=rotated.secret, user_errors=[]
        )

    @strawberry.mutation(
        description="Sends a delivery again, a DEAD one too (ADMIN+).", permission_classes=ADMIN
    )
    async def redeliver_webhook_delivery(
        self, info: Info, input: WebhookDeliveryIdInput
    ) -> RedeliverWebhookDeliveryPayload:
        row, errors = await resolvers.redeliver(info, input.webhook_delivery_id)
        return RedeliverWebhookDeliveryPayload(
            webhook_delivery=WebhookDelivery.from_model(row) if row is not None else None,
            user_errors=errors,
        )
