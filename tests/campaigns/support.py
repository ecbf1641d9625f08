"""Factories for campaign tests: campaigns, an audience, a device input for other processes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from app.models.messaging import Contact
from tests.support.cloud_api import APP_SECRET
from tests.support.messaging import Member, eventually, unique_phone

CAMPAIGN_FIELDS = """
id name status startedAt finishedAt
stats { total pending sent delivered read failed skipped cancelled }
"""
CREATE = f"""
mutation($input: CreateCampaignInput!) {{
  createCampaign(input: $input) {{ campaign {{ {CAMPAIGN_FIELDS} }} variables userErrors {{ field message code }} }}
}}
"""
ACTION = """
mutation($input: CampaignIdInput!) {{
  {name}(input: $input) {{ campaign {{ id status }} userErrors {{ field message code }} }}
}}
"""
CAMPAIGN = f"query($id: ID!) {{ node(id: $id) {{ ... on Campaign {{ {CAMPAIGN_FIELDS} }} }} }}"
RECIPIENTS = """
query($id: ID!, $status: RecipientStatus, $after: String) {
  node(id: $id) { ... on Campaign {
    recipients(first: 100, status: $status, after: $after) {
      nodes { phoneNumber status reason attempts }
      pageInfo { hasNextPage endCursor }
    }
  } }
}
"""
PROGRESS = f"subscription($id: ID!) {{ campaignProgress(campaignId: $id) {{ {CAMPAIGN_FIELDS} }} }}"


def cloud_device_input(per_second: int) -> tuple[dict[str, Any], str, str]:
    """A createDevice input for a new Cloud API number: (input, phone number id, token)."""
    phone_number_id = str(uuid.uuid4().int % 10**12)
    token = f"token-{uuid.uuid4().hex}"
    cloud = {"phoneNumberId": phone_number_id, "accessToken": token, "appSecret": APP_SECRET}
    device = {
        "name": "Cloud",
        "phoneNumber": unique_phone(),
        "provider": "CLOUD_API",
        "messagesPerSecond": per_second,
        "cloudApi": cloud,
    }
    return device, phone_number_id, token


async def contacts(
    owner: Member, count: int, *, tag: str, prefix: str = "+1650555", **fields: Any
) -> list[Contact]:
    rows = [
        Contact(
            organization_id=owner.organization_id,
            phone_number=f"{prefix}{i:04d}",
            name=f"Person {i}",
            tags=[tag],
            tags_text=f",{tag},",
            attributes={"city": f"City {i}"},
            **fields,
        )
        for i in range(count)
    ]
    await Contact.bulk_create(rows)
    return list(await Contact.filter(organization_id=owner.organization_id).order_by("id"))


async def act(owner: Member, name: str, campaign_id: str) -> dict[str, Any]:
    data = await owner.api.data(ACTION.format(name=name), {"input": {"campaignId": campaign_id}})
    payload: dict[str, Any] = data[name]
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload


async def campaign_of(owner: Member, campaign_id: str) -> dict[str, Any]:
    node: dict[str, Any] = (await owner.api.data(CAMPAIGN, {"id": campaign_id}))["node"]
    return node


async def until_status(
    owner: Member, campaign_id: str, *wanted: str, within: float = 30
) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        node = await campaign_of(owner, campaign_id)
        return node if node["status"] in wanted else None

    result: dict[str, Any] = await eventually(check, within=within)
    return result


async def recipients(
    owner: Member, campaign_id: str, status: str | None = None
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    after = None
    while True:
        data = await owner.api.data(
            RECIPIENTS, {"id": campaign_id, "status": status, "after": after}
        )
        page = data["node"]["recipients"]
        rows += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return rows
        after = page["pageInfo"]["endCursor"]


def now() -> datetime:
    return datetime.now(UTC)
