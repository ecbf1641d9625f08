"""Integrations in the schema: API keys, webhooks and their deliveries."""

from app.schema.integrations.mutations import IntegrationsMutation
from app.schema.integrations.queries import IntegrationsQuery

__all__ = ["IntegrationsMutation", "IntegrationsQuery"]
