"""Tiny factories for integrations tests: webhooks and API keys made through GraphQL."""

from __future__ import annotations

from typing import Any

from tests.support.messaging import Member

CREATE_WEBHOOK = """
mutation($input: CreateWebhookInput!) {
  createWebhook(input: $input) {
    webhook { id name url query active role }
    secret
    userErrors { field message code }
  }
}
"""
CREATE_API_KEY = """
mutation($input: CreateApiKeyInput!) {
  createApiKey(input: $input) {
    apiKey { id name prefix role lastUsedAt expiresAt createdAt revokedAt }
    secret
    userErrors { field message code }
  }
}
"""
REVOKE_API_KEY = """
mutation($input: ApiKeyIdInput!) {
  revokeApiKey(input: $input) { apiKey { id revokedAt } userErrors { field message code } }
}
"""
DELIVERIES = """
query($id: ID!, $status: WebhookDeliveryStatus) {
  node(id: $id) {
    ... on Webhook {
      deliveries(first: 100, status: $status) {
        nodes {
          id eventId status attempts lastStatusCode lastError lastResponse lastLatencyMs
          createdAt deliveredAt
        }
      }
    }
  }
}
"""
REDELIVER = """
mutation($input: WebhookDeliveryIdInput!) {
  redeliverWebhookDelivery(input: $input) {
    webhookDelivery { id status }
    userErrors { field message code }
  }
}
"""
WEBHOOK = """
query($id: ID!) { node(id: $id) { ... on Webhook { id name active pausedReason role } } }
"""
RESUME = """
mutation($input: WebhookIdInput!) {
  resumeWebhook(input: $input) { webhook { id active } userErrors { field message code } }
}
"""
MESSAGE_EVENTS = (
    "subscription { messageEvents "
    "{ kind message { id direction body status conversation { id } } } }"
)


async def create_webhook(
    who: Member, url: str, query: str = MESSAGE_EVENTS, **extra: Any
) -> tuple[str, str]:
    data = await who.api.data(
        CREATE_WEBHOOK, {"input": {"name": "CRM", "url": url, "query": query, **extra}}
    )
    payload = data["createWebhook"]
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload["webhook"]["id"], payload["secret"]


async def create_api_key(who: Member, role: str, name: str = "Zapier") -> tuple[str, str]:
    data = await who.api.data(CREATE_API_KEY, {"input": {"name": name, "role": role}})
    payload = data["createApiKey"]
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload["apiKey"]["id"], payload["secret"]


async def deliveries(who: Member, webhook_id: str, status: str | None = None) -> list[Any]:
    data = await who.api.data(DELIVERIES, {"id": webhook_id, "status": status})
    nodes: list[Any] = data["node"]["deliveries"]["nodes"]
    return nodes
