"""Webhooks: saved with a checked document and URL, paused, resumed, rotated, removed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from graphql import GraphQLSchema

from app.integrations import active_webhooks, addresses, outbox
from app.integrations.documents import check_document
from app.integrations.service_users import create_service_member, remove_service_member
from app.models.accounts import Role
from app.models.integrations import Webhook, WebhookDelivery, WebhookDeliveryStatus
from app.platform import clock
from app.platform.config import Settings
from app.platform.runtime import Runtime
from app.platform.security import encrypt_secret, new_opaque_token

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + new_opaque_token(32)


@dataclass(frozen=True, slots=True)
class WithSecret:
    webhook: Webhook
    secret: str


async def create_webhook(
    settings: Settings,
    schema: GraphQLSchema,
    *,
    organization_id: int,
    name: str,
    url: str,
    query: str,
    role: Role,
) -> WithSecret:
    """Raises DocumentRefused or UrlRefused (the resolver turns them into userErrors)."""
    if role is Role.OWNER:
        raise ValueError("a webhook is never OWNER")
    checked = check_document(schema, query)
    await addresses.check_destination(settings, url)
    secret = new_secret()
    user = await create_service_member(organization_id, f"Webhook: {name}", role)
    webhook = await Webhook.create(
        organization_id=organization_id,
        user_id=user.id,
        name=name,
        url=url,
        query=query,
        topic=checked.topic,
        ordered=checked.ordered,
        role=role,
        secret_encrypted=encrypt_secret(settings, secret),
    )
    await active_webhooks.changed(organization_id)
    return WithSecret(webhook, secret)


async def update_webhook(
    settings: Settings,
    schema: GraphQLSchema,
    webhook: Webhook,
    *,
    name: str | None,
    url: str | None,
    query: str | None,
    active: bool | None,
) -> Webhook:
    fields = ["updated_at"]
    if query is not None:
        checked = check_document(schema, query)
        webhook.query, webhook.topic, webhook.ordered = query, checked.topic, checked.ordered
        fields += ["query", "topic", "ordered"]
    if url is not None:
        await addresses.check_destination(settings, url)
        webhook.url = url
        fields.append("url")
    if name is not None:
        webhook.name = name
        fields.append("name")
    if active is not None and active != webhook.active:
        webhook.active = active
        webhook.paused_reason = "" if active else "Paused by a member."
        webhook.failing_since = None
        fields += ["active", "paused_reason", "failing_since"]
    await webhook.save(update_fields=fields)
    await active_webhooks.changed(webhook.organization_id)
    return webhook


async def resumed(runtime: Runtime, webhook: Webhook) -> None:
    """What it missed while paused stays undelivered until now: send it."""
    await outbox.deliver_soon(runtime, webhook.id)


async def delete_webhook(webhook: Webhook) -> None:
    await webhook.delete()
    await active_webhooks.changed(webhook.organization_id)
    await remove_service_member(webhook.user_id)


async def rotate_secret(settings: Settings, webhook: Webhook) -> WithSecret:
    secret = new_secret()
    webhook.previous_secret_encrypted = webhook.secret_encrypted
    webhook.previous_secret_until = clock.now() + timedelta(
        seconds=settings.webhook_secret_grace_seconds
    )
    webhook.secret_encrypted = encrypt_secret(settings, secret)
    await webhook.save(
        update_fields=[
            "previous_secret_encrypted",
            "previous_secret_until",
            "secret_encrypted",
            "updated_at",
        ]
    )
    return WithSecret(webhook, secret)


async def redeliver(runtime: Runtime, delivery: WebhookDelivery) -> WebhookDelivery:
    """Sends a delivery again (a DEAD one too), with the same id and body, a new retry window."""
    now = clock.now()
    await WebhookDelivery.filter(id=delivery.id).update(
        status=WebhookDeliveryStatus.PENDING,
        next_attempt_at=now,
        retry_until=now + timedelta(seconds=runtime.settings.webhook_retry_window_seconds),
        delivered_at=None,
    )
    await delivery.refresh_from_db()
    await outbox.deliver_soon(runtime, delivery.webhook_id)
    return delivery
