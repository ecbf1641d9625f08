"""API keys and webhooks: check the input, call the integrations domain, return rows and errors.

Every row is looked up inside the caller's organization (another organization's id answers
NOT_FOUND, like an id that does not exist). The schema requires ADMIN for all of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tortoise.queryset import QuerySet

from app.integrations import api_keys, webhooks
from app.integrations.addresses import UrlRefused
from app.integrations.documents import DocumentRefused
from app.models.accounts import Role
from app.models.integrations import ApiKey, Webhook, WebhookDelivery
from app.plans import features, quotas
from app.plans.limits import Feature, Limit
from app.platform import clock
from app.platform.context import Info
from app.platform.ids import decode_id
from app.platform.scope import organization_id
from app.platform.user_errors import UserError, UserErrorCode, user_error
from app.resolvers.accounts.common import client_ip

MAX_NAME = 200


def _actor_id(info: Info) -> int | None:
    viewer = info.context.viewer
    return viewer.user.id if viewer is not None else None


def _name_errors(name: str) -> list[UserError]:
    if not name.strip():
        return [user_error("name", "A name is required.", UserErrorCode.REQUIRED)]
    if len(name) > MAX_NAME:
        return [user_error("name", f"At most {MAX_NAME} characters.", UserErrorCode.INVALID)]
    return []


def _role_errors(role: Role) -> list[UserError]:
    if role is Role.OWNER:
        return [user_error("role", "ADMIN at most: only people own.", UserErrorCode.INVALID)]
    return []


# API keys ---------------------------------------------------------------------------------


def api_keys_of(info: Info) -> QuerySet[ApiKey]:
    return ApiKey.filter(organization_id=organization_id(info))


async def api_keys_by_id(info: Info, pks: Sequence[int]) -> list[ApiKey | None]:
    rows = {k.id: k for k in await api_keys_of(info).filter(id__in=list(pks))}
    return [rows.get(pk) for pk in pks]


async def create_api_key(
    info: Info, *, name: str, role: Role, expires_at: datetime | None
) -> tuple[api_keys.NewApiKey | None, list[UserError]]:
    errors = _name_errors(name) + _role_errors(role)
    if expires_at is not None and expires_at <= clock.now():
        errors.append(user_error("expiresAt", "Must be in the future.", UserErrorCode.INVALID))
    if errors:
        return None, errors
    org_id = organization_id(info)
    if refused := await quotas.reserve(info.context.runtime, org_id, Limit.API_KEYS):
        return None, [refused.user_error("name")]
    created = await api_keys.create_api_key(
        organization_id=org_id,
        created_by_id=_actor_id(info),
        name=name.strip(),
        role=role,
        expires_at=expires_at,
        ip=client_ip(info),
    )
    return created, []


async def revoke_api_key(info: Info, api_key_id: str) -> tuple[ApiKey | None, list[UserError]]:
    pk = decode_id(api_key_id, "ApiKey", field=("input", "apiKeyId"))
    api_key = await api_keys_of(info).get_or_none(id=pk)
    if api_key is None:
        return None, [user_error("apiKeyId", "No such API key.", UserErrorCode.NOT_FOUND)]
    was_active = api_key.revoked_at is None
    revoked = await api_keys.revoke_api_key(
        info.context.runtime.redis, api_key, actor_id=_actor_id(info), ip=client_ip(info)
    )
    if was_active:  # the plan's count of keys gives its place back, once
        await quotas.release(api_key.organization_id, Limit.API_KEYS, amount=1)
    return revoked, []


# Webhooks ---------------------------------------------------------------------------------


def webhooks_of(info: Info) -> QuerySet[Webhook]:
    return Webhook.filter(organization_id=organization_id(info))


async def webhooks_by_id(info: Info, pks: Sequence[int]) -> list[Webhook | None]:
    rows = {w.id: w for w in await webhooks_of(info).filter(id__in=list(pks))}
    return [rows.get(pk) for pk in pks]


async def deliveries_by_id(info: Info, pks: Sequence[int]) -> list[WebhookDelivery | None]:
    rows = await WebhookDelivery.filter(organization_id=organization_id(info), id__in=list(pks))
    by_id = {d.id: d for d in rows}
    return [by_id.get(pk) for pk in pks]


async def create_webhook(
    info: Info, *, name: str, url: str, query: str, role: Role
) -> tuple[webhooks.WithSecret | None, list[UserError]]:
    errors = _name_errors(name) + _role_errors(role)
    if errors:
        return None, errors
    if missing := await _without_webhooks(info):
        return None, [missing]
    if refused := await quotas.reserve(info.context.runtime, organization_id(info), Limit.WEBHOOKS):
        return None, [refused.user_error("name")]
    try:
        created = await webhooks.create_webhook(
            info.context.settings,
            info.schema._schema,
            organization_id=organization_id(info),
            name=name.strip(),
            url=url.strip(),
            query=query,
            role=role,
        )
    except (DocumentRefused, UrlRefused) as error:
        # Nothing made: the place the plan held for it goes back.
        await quotas.release(organization_id(info), Limit.WEBHOOKS, amount=1)
        field = "query" if isinstance(error, DocumentRefused) else "url"
        return None, [user_error(field, str(error), UserErrorCode.INVALID)]
    return created, []


async def _without_webhooks(info: Info) -> UserError | None:
    """The refusal when the organization's plan has no outbound webhooks."""
    missing = await features.missing(
        info.context.runtime, organization_id(info), Feature.OUTBOUND_WEBHOOKS
    )
    return missing.user_error() if missing else None


async def _find_webhook(info: Info, webhook_id: str) -> Webhook | None:
    pk = decode_id(webhook_id, "Webhook", field=("input", "webhookId"))
    return await webhooks_of(info).get_or_none(id=pk)


def _no_webhook() -> list[UserError]:
    return [user_error("webhookId", "No such webhook.", UserErrorCode.NOT_FOUND)]


async def update_webhook(
    info: Info,
    webhook_id: str,
    *,
    name: str | None,
    url: str | None,
    query: str | None,
    active: bool | None,
) -> tuple[Webhook | None, list[UserError]]:
    webhook = await _find_webhook(info, webhook_id)
    if webhook is None:
        return None, _no_webhook()
    errors = _name_errors(name) if name is not None else []
    if errors:
        return None, errors
    if active and not webhook.active and (missing := await _without_webhooks(info)):
        return None, [missing]  # a resume: nothing may be sent on this plan
    was_active = webhook.active
    try:
        webhook = await webhooks.update_webhook(
            info.context.settings,
            info.schema._schema,
            webhook,
            name=name.strip() if name is not None else None,
            url=url.strip() if url is not None else None,
            query=query,
            active=active,
        )
    except DocumentRefused as error:
        return None, [user_error("query", str(error), UserErrorCode.INVALID)]
    except UrlRefused as error:
        return None, [user_error("url", str(error), UserErrorCode.INVALID)]
    if webhook.active and not was_active:
        await webhooks.resumed(info.context.runtime, webhook)
    return webhook, []


async def set_webhook_active(
    info: Info, webhook_id: str, active: bool
) -> tuple[Webhook | None, list[UserError]]:
    return await update_webhook(info, webhook_id, name=None, url=None, query=None, active=active)


async def delete_webhook(info: Info, webhook_id: str) -> tuple[str | None, list[UserError]]:
    webhook = await _find_webhook(info, webhook_id)
    if webhook is None:
        return None, _no_webhook()
    await webhooks.delete_webhook(webhook)
    await quotas.release(webhook.organization_id, Limit.WEBHOOKS, amount=1)
    return webhook_id, []


async def rotate_webhook_secret(
    info: Info, webhook_id: str
) -> tuple[webhooks.WithSecret | None, list[UserError]]:
    webhook = await _find_webhook(info, webhook_id)
    if webhook is None:
        return None, _no_webhook()
    return await webhooks.rotate_secret(info.context.settings, webhook), []


async def redeliver(info: Info, delivery_id: str) -> tuple[WebhookDelivery | None, list[UserError]]:
    pk = decode_id(delivery_id, "WebhookDelivery", field=("input", "webhookDeliveryId"))
    rows = await deliveries_by_id(info, [pk])
    if rows[0] is None:
        return None, [user_error("webhookDeliveryId", "No such delivery.", UserErrorCode.NOT_FOUND)]
    if missing := await _without_webhooks(info):
        return None, [missing]
    return await webhooks.redeliver(info.context.runtime, rows[0]), []
