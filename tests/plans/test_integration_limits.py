"""The plan's `apiKeys` and `webhooks` limits, and seats that API keys never take."""

from __future__ import annotations

from tests.integrations.support import CREATE_API_KEY, CREATE_WEBHOOK, REVOKE_API_KEY
from tests.plans.support import on_plan, usage
from tests.support.messaging import Member

DELETE_WEBHOOK = """
mutation($input: WebhookIdInput!) {
  deleteWebhook(input: $input) { userErrors { field message code } }
}
"""
INVITE = """
mutation($input: InviteMemberInput!) {
  inviteMember(input: $input) { userErrors { field message code } }
}
"""
QUERY = "subscription { messageEvents { kind message { id } } }"


async def test_api_keys_and_webhooks_beyond_the_plan_are_refused_and_free_their_place_when_gone(
    owner: Member, admin: Member
) -> None:
    await on_plan(admin, owner, apiKeys=1, webhooks=1, seats=1)

    async def key(name: str) -> dict:
        return (await owner.api.data(CREATE_API_KEY, {"input": {"name": name, "role": "AGENT"}}))[
            "createApiKey"
        ]

    async def webhook(url: str, query: str = QUERY) -> dict:
        variables = {"input": {"name": "CRM", "url": url, "query": query}}
        return (await owner.api.data(CREATE_WEBHOOK, variables))["createWebhook"]

    first = await key("Zapier")
    second = await key("n8n")
    refused_query = await webhook("http://127.0.0.1:9/hook", "query { __typename }")
    hook = await webhook("http://127.0.0.1:9/hook")
    second_hook = await webhook("http://127.0.0.1:9/other")
    counted = await usage(owner)

    assert first["userErrors"] == []
    assert [e["code"] for e in second["userErrors"]] == ["LIMIT_EXCEEDED"]
    assert [e["field"] for e in refused_query["userErrors"]] == [["input", "query"]]
    assert hook["userErrors"] == []  # the refused document took no place
    assert [e["code"] for e in second_hook["userErrors"]] == ["LIMIT_EXCEEDED"]
    assert (counted["apiKeys"], counted["webhooks"], counted["seats"]) == (1, 1, 1)
    # The key acts through a service user: it takes no seat, so the owner is the only one.
    invited = await owner.api.data(INVITE, {"input": {"email": "x@example.com", "role": "AGENT"}})
    assert [e["code"] for e in invited["inviteMember"]["userErrors"]] == ["LIMIT_EXCEEDED"]

    revoke = {"input": {"apiKeyId": first["apiKey"]["id"]}}
    await owner.api.data(REVOKE_API_KEY, revoke)
    await owner.api.data(REVOKE_API_KEY, revoke)  # again: gives nothing back twice
    deleted = await owner.api.data(DELETE_WEBHOOK, {"input": {"webhookId": hook["webhook"]["id"]}})
    assert deleted["deleteWebhook"]["userErrors"] == []
    after = await usage(owner)

    assert (after["apiKeys"], after["webhooks"]) == (0, 0)
    assert (await key("n8n"))["userErrors"] == []
    assert (await webhook("http://127.0.0.1:9/other"))["userErrors"] == []
