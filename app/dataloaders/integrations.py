"""Batch loaders for integrations: a page of each webhook's deliveries.

Rows reached through a webhook are scoped already: the webhook was read for the caller's
organization.
"""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from app.dataloaders.pages import child_pages
from app.models.integrations import WebhookDelivery, WebhookDeliveryStatus
from app.platform.pagination import PageArgs

DeliveryPageKey = tuple[int, WebhookDeliveryStatus | None, PageArgs]


def deliveries_by_webhook() -> DataLoader[DeliveryPageKey, list[WebhookDelivery]]:
    return DataLoader(load_fn=child_pages(WebhookDelivery, "webhook_id"))
