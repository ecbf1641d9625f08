"""Every enforced limit through GraphQL: LIMIT_EXCEEDED naming the limit, the usage, the plan."""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

from tests.plans.support import USAGE, add_device, create_plan, on_plan, usage
from tests.support.messaging import Member, unique_phone

CREATE_CONTACT = """
mutation($input: CreateContactInput!) {
  createContact(input: $input) { contact { id } userErrors { field message code } }
}
"""
IMPORT = """
mutation($input: ImportContactsInput!) {
  importContacts(input: $input) { contactImport { id } userErrors { field message code } }
}
"""
IMPORT_STATE = """
query($id: ID!) {
  node(id: $id) { ... on ContactImport { status created failed errors { message } } }
}
"""
INVITE = """
mutation($input: InviteMemberInput!) {
  inviteMember(input: $input) { userErrors { field message code } }
}
"""
CREATE_CAMPAIGN = """
mutation($input: CreateCampaignInput!) {
  createCampaign(input: $input) { campaign { id } userErrors { field message code } }
}
"""
PLANS = "query { plans { id name } }"


async def test_an_organization_sees_its_plan_and_usage_with_each_limit_beside_it(
    owner: Member,
) -> None:
    data = await owner.api.data(USAGE)

    subscription = data["organization"]["subscription"]
    assert subscription["status"] == "ACTIVE"
    # PARLEY_DEFAULT_PLAN_LIMITS is unset: the default plan is unlimited.
    assert subscription["plan"]["name"] == "Default"
    assert set(subscription["plan"]["limits"].values()) == {None}
    assert subscription["currentPeriodEnd"] > subscription["currentPeriodStart"]
    used = data["organization"]["usage"]
    assert used["devices"] == 0 and used["seats"] == 1 and used["marketingMessages"] == 0
    assert {item["limit"] for item in used["items"]} >= {"devices", "marketingMessagesPerMonth"}


async def test_only_staff_manage_plans(owner: Member, admin: Member) -> None:
    refused = await owner.api.call(PLANS)
    created = await create_plan(admin, devices=1)

    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert created in {plan["id"] for plan in (await admin.api.data(PLANS))["plans"]}


async def test_unknown_limits_are_refused_when_a_plan_is_made(admin: Member) -> None:
    from tests.plans.support import CREATE_PLAN

    data = await admin.api.data(
        CREATE_PLAN, {"input": {"name": f"P {uuid.uuid4().hex}", "limits": {"devicez": 1}}}
    )

    assert data["createPlan"]["userErrors"][0]["code"] == "INVALID"
    assert "devicez" in data["createPlan"]["userErrors"][0]["message"]


async def test_the_device_beyond_the_plan_is_refused_naming_limit_usage_and_plan(
    owner: Member, admin: Member
) -> None:
    await on_plan(admin, owner, devices=2)
    assert (await add_device(owner))["userErrors"] == []
    assert (await add_device(owner))["userErrors"] == []

    third = await add_device(owner)

    [error] = third["userErrors"]
    assert third["device"] is None
    assert error["code"] == "LIMIT_EXCEEDED"
    assert "allows 2 devices" in error["message"] and "2 used" in error["message"]
    assert "(limit devices)" in error["message"] and "Plan " in error["message"]
    assert (await usage(owner))["devices"] == 2


async def test_a_limit_of_one_is_named_in_the_singular(owner: Member, admin: Member) -> None:
    await on_plan(admin, owner, devices=1)
    assert (await add_device(owner))["userErrors"] == []

    second = await add_device(owner)

    [error] = second["userErrors"]
    assert "allows 1 device: 1 used, 0 left, 1 asked for" in error["message"]


async def test_many_concurrent_creates_never_pass_the_last_slot(
    owner: Member, admin: Member
) -> None:
    await on_plan(admin, owner, devices=3, contacts=5)
    await add_device(owner)
    await add_device(owner)
    phones = [f"+1415{n:07d}" for n in random.sample(range(2_000_000, 9_999_999), 24)]
    for phone in phones[:4]:
        await owner.api.data(CREATE_CONTACT, {"input": {"phoneNumber": phone}})

    devices = await asyncio.gather(*(add_device(owner) for _ in range(20)))
    contacts = await asyncio.gather(
        *(owner.api.data(CREATE_CONTACT, {"input": {"phoneNumber": phone}}) for phone in phones[4:])
    )

    assert sum(1 for d in devices if d["device"] is not None) == 1
    assert {d["userErrors"][0]["code"] for d in devices if d["device"] is None} == {
        "LIMIT_EXCEEDED"
    }
    assert sum(1 for c in contacts if c["createContact"]["contact"] is not None) == 1
    now = await usage(owner)
    assert (now["devices"], now["contacts"]) == (3, 5)


async def test_inviting_beyond_the_seats_is_refused_and_inviting_again_takes_no_seat(
    owner: Member, admin: Member
) -> None:
    await on_plan(admin, owner, seats=2)
    first = f"{uuid.uuid4().hex}@example.com"

    invited = await owner.api.data(INVITE, {"input": {"email": first, "role": "AGENT"}})
    again = await owner.api.data(INVITE, {"input": {"email": first, "role": "AGENT"}})
    beyond = await owner.api.data(
        INVITE, {"input": {"email": f"{uuid.uuid4().hex}@example.com", "role": "AGENT"}}
    )

    assert invited["inviteMember"]["userErrors"] == []
    assert again["inviteMember"]["userErrors"] == []
    [error] = beyond["inviteMember"]["userErrors"]
    assert error["code"] == "LIMIT_EXCEEDED" and error["field"] == ["input", "email"]
    assert (await usage(owner))["seats"] == 2


async def test_an_import_creates_the_contacts_that_fit_and_reports_the_rest(
    owner: Member, admin: Member
) -> None:
    await on_plan(admin, owner, contacts=3)
    await owner.api.data(CREATE_CONTACT, {"input": {"phoneNumber": unique_phone()}})
    csv = "phone_number,name\n" + "".join(f"+1415555{i:04d},P{i}\n" for i in range(4))

    queued = await owner.api.data(IMPORT, {"input": {"csv": csv}})
    import_id = queued["importContacts"]["contactImport"]["id"]

    async def finished() -> dict[str, Any] | None:
        node: dict[str, Any] = (await owner.api.data(IMPORT_STATE, {"id": import_id}))["node"]
        return node if node["status"] in ("COMPLETED", "FAILED") else None

    from tests.support.messaging import eventually

    state = await eventually(finished)
    assert (state["status"], state["created"], state["failed"]) == ("COMPLETED", 2, 2)
    assert all("(limit contacts)" in error["message"] for error in state["errors"])
    assert (await usage(owner))["contacts"] == 3


async def test_campaigns_beyond_the_month_are_refused(org_admin: Member, admin: Member) -> None:
    await on_plan(admin, org_admin, campaignsPerMonth=1)
    device = (await add_device(org_admin))["device"]["id"]
    fields = {"name": "Spring", "deviceId": device, "text": "Hi", "tags": ["vip"]}

    first = await org_admin.api.data(CREATE_CAMPAIGN, {"input": fields})
    second = await org_admin.api.data(CREATE_CAMPAIGN, {"input": fields})

    assert first["createCampaign"]["userErrors"] == []
    [error] = second["createCampaign"]["userErrors"]
    assert error["code"] == "LIMIT_EXCEEDED" and "campaignsPerMonth" in error["message"]
    assert (await usage(org_admin))["campaigns"] == 1


async def test_a_cancelled_subscription_refuses_counted_actions(
    owner: Member, admin: Member
) -> None:
    await on_plan(admin, owner, devices=10)
    from app.platform.ids import to_global_id

    set_status = """
    mutation($input: SetSubscriptionStatusInput!) {
      setSubscriptionStatus(input: $input) { subscription { status } userErrors { message } }
    }
    """
    org = to_global_id("Organization", owner.organization_id)
    await admin.api.data(set_status, {"input": {"organizationId": org, "status": "CANCELED"}})

    refused = await add_device(owner)

    assert refused["userErrors"][0]["code"] == "LIMIT_EXCEEDED"
    assert "cancelled" in refused["userErrors"][0]["message"]
