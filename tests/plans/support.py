"""Factories for plans tests: staff, plans put on organizations, usage read back, and the
devices, templates and campaigns that count against a plan."""

from __future__ import annotations

import uuid
from typing import Any

from app.models.accounts import Membership, Organization, Role, User
from app.models.messaging import Template
from app.plans.limits import FEATURES
from app.platform.ids import decode_id, to_global_id
from app.platform.security import issue_access_token
from tests.campaigns.support import CREATE
from tests.support.client import Api
from tests.support.cloud_api import CloudDevice
from tests.support.messaging import CREATE_DEVICE, Member, unique_phone
from tests.support.server import RunningServer

LIMIT_FIELDS = """
devices seats contacts marketingMessagesPerMonth utilityMessagesPerMonth
authenticationMessagesPerMonth serviceMessagesPerMonth campaignsPerMonth aiRunsPerMonth
apiKeys webhooks storageBytes
"""
CREATE_PLAN = f"""
mutation($input: CreatePlanInput!) {{
  createPlan(input: $input) {{ plan {{ id name features limits {{ {LIMIT_FIELDS} }} }} userErrors {{ field message code }} }}
}}
"""
UPDATE_PLAN = f"""
mutation($input: UpdatePlanInput!) {{
  updatePlan(input: $input) {{ plan {{ id name features limits {{ {LIMIT_FIELDS} }} }} userErrors {{ field message code }} }}
}}
"""
ASSIGN_PLAN = """
mutation($input: AssignPlanInput!) {
  assignPlan(input: $input) {
    subscription { status plan { id name } }
    userErrors { field message code }
  }
}
"""
USAGE = f"""
query {{
  organization {{
    subscription {{ status currentPeriodStart currentPeriodEnd plan {{ id name limits {{ {LIMIT_FIELDS} }} }} }}
    usage {{
      devices seats contacts marketingMessages utilityMessages authenticationMessages
      serviceMessages campaigns aiRuns apiKeys webhooks storageBytes
      limits {{ {LIMIT_FIELDS} }}
      items {{ limit used allowed percent }}
    }}
  }}
}}
"""

WARNINGS = "subscription { usageWarnings { limit threshold used allowed } }"


async def staff(server: RunningServer, api: Api) -> Member:
    """A staff user (``parley createsuperuser``), member of an organization of its own."""
    organization = await Organization.create(name=f"Staff {uuid.uuid4().hex[:8]}")
    user = await User.create(
        email=f"staff-{uuid.uuid4().hex}@example.com", name="Staff", is_staff=True
    )
    await Membership.create(user_id=user.id, organization_id=organization.id, role=Role.OWNER)
    token, _ = issue_access_token(server.settings, user_id=user.id, organization_id=organization.id)
    return Member(api.as_user(token), user.id, organization.id, token)


async def create_plan(admin: Member, features: list[str] | None = None, **limits: Any) -> str:
    """A plan with ``limits`` and ``features`` (None: every feature, so that a limit's test
    meets only that limit)."""
    name = f"Plan {uuid.uuid4().hex[:8]}"
    features = FEATURES if features is None else features
    data = await admin.api.data(
        CREATE_PLAN, {"input": {"name": name, "limits": limits, "features": features}}
    )
    assert data["createPlan"]["userErrors"] == [], data
    plan_id: str = data["createPlan"]["plan"]["id"]
    return plan_id


async def assign(admin: Member, organization_id: int, plan_id: str) -> None:
    data = await admin.api.data(
        ASSIGN_PLAN,
        {
            "input": {
                "organizationId": to_global_id("Organization", organization_id),
                "planId": plan_id,
            }
        },
    )
    assert data["assignPlan"]["userErrors"] == [], data


async def on_plan(
    admin: Member, who: Member, features: list[str] | None = None, **limits: Any
) -> str:
    """Put ``who``'s organization on a new plan with ``limits`` (and ``features``, None: all);
    the plan's id."""
    plan_id = await create_plan(admin, features, **limits)
    await assign(admin, who.organization_id, plan_id)
    return plan_id


async def usage(who: Member) -> dict[str, Any]:
    data = await who.api.data(USAGE)
    result: dict[str, Any] = data["organization"]["usage"]
    return result


async def add_device(who: Member) -> dict[str, Any]:
    """``createDevice``'s payload for a new sandbox line (refused when the plan has no room)."""
    data = await who.api.data(
        CREATE_DEVICE,
        {"input": {"name": "Line", "phoneNumber": unique_phone(), "provider": "SANDBOX"}},
    )
    payload: dict[str, Any] = data["createDevice"]
    return payload


async def new_device(who: Member) -> str:
    """A new sandbox line's id; the plan must have room for it."""
    payload = await add_device(who)
    assert payload["userErrors"] == [], payload
    device_id: str = payload["device"]["id"]
    return device_id


async def synced_template(
    who: Member, device: CloudDevice, name: str, category: str, text: str
) -> None:
    """A template as synced from Meta: the category we count its sends in when they go."""
    await Template.create(
        organization_id=who.organization_id,
        device_id=decode_id(device.id, "Device"),
        name=name,
        language="en_US",
        category=category,
        components=[{"type": "BODY", "text": text}],
    )


async def template_campaign(
    who: Member, device: CloudDevice, template: str, name: str, **audience: Any
) -> str:
    """A draft campaign of ``template`` (no parameters) to ``audience`` (``tags``, ...)."""
    data = await who.api.data(
        CREATE,
        {
            "input": {
                "name": name,
                "deviceId": device.id,
                "template": {"name": template, "language": "en_US", "parameters": []},
                **audience,
            }
        },
    )
    assert data["createCampaign"]["userErrors"] == [], data
    campaign_id: str = data["createCampaign"]["campaign"]["id"]
    return campaign_id
