"""Members: invitations (new and existing users), role changes, removal, audit events."""

from __future__ import annotations

from typing import Any

from app.models.accounts import Membership, Role
from tests.support.accounts import (
    PASSWORD,
    REGISTER,
    SignedUp,
    client_from,
    mailed_token,
    register_user,
    unique_email,
    with_organization,
)

INVITE = """
mutation ($email: String!, $role: Role!) {
  inviteMember(input: {email: $email, role: $role}) { email userErrors { field code } }
}
"""
ACCEPT = """
mutation ($token: String!) {
  acceptInvitation(input: {token: $token}) { member { id role } userErrors { field code } }
}
"""
UPDATE_ROLE = """
mutation ($id: ID!, $role: Role!) {
  updateMemberRole(input: {memberId: $id, role: $role}) {
    member { id role } userErrors { field code }
  }
}
"""
REMOVE = """
mutation ($id: ID!) {
  removeMember(input: {memberId: $id}) { removedMemberId userErrors { field code } }
}
"""
ORGANIZATION = """
{ organization { id viewerRole members { edges { node { id role user { id } } } } } }
"""
AUDIT = "{ auditEvents(first: 50) { edges { node { kind data actor { id } } } } }"


def _code(result: dict[str, Any]) -> str:
    return str(result["errors"][0]["extensions"]["code"])


async def _member_id(user: SignedUp, of: SignedUp) -> str:
    """The global Member id of ``of`` in ``user``'s organization."""
    data = await user.api.data(ORGANIZATION)
    [member] = [
        edge["node"]["id"]
        for edge in data["organization"]["members"]["edges"]
        if edge["node"]["user"]["id"] == of.user_id
    ]
    return str(member)


async def _invite(owner: SignedUp, email: str, role: Role, log_lines: Any) -> str:
    invited = await owner.api.data(INVITE, {"email": email, "role": role.value})
    assert invited["inviteMember"] == {"email": email, "userErrors": []}
    return await mailed_token(log_lines, email, "accept-invitation")


def _register_input(email: str, **more: Any) -> dict[str, Any]:
    return {"input": {"email": email, "password": PASSWORD, "name": "Invitee", **more}}


async def test_an_invitee_without_an_account_registers_into_the_inviting_organization(
    api, log_lines
):
    owner = await register_user(api)
    email = unique_email("invitee")
    token = await _invite(owner, email, Role.AGENT, log_lines)

    registered = (
        await client_from(api).data(REGISTER, _register_input(email, invitationToken=token))
    )["register"]

    assert registered["userErrors"] == []
    invitee = client_from(api).as_user(registered["accessToken"])
    seen = await invitee.data("{ me { emailVerified } " + ORGANIZATION.strip()[1:])
    assert seen["me"] == {"emailVerified": True}
    assert seen["organization"]["id"] == owner.organization_id
    assert seen["organization"]["viewerRole"] == "AGENT"
    assert len(seen["organization"]["members"]["edges"]) == 2
    user_pk = int(await Membership.filter(organization_id=owner.organization_pk).count())
    assert user_pk == 2
    again = (
        await client_from(api).data(
            REGISTER, _register_input(unique_email(), invitationToken=token)
        )
    )["register"]
    assert again["accessToken"] is None
    assert again["userErrors"] == [
        {
            "field": ["input", "invitationToken"],
            "message": "The invitation is invalid or expired.",
            "code": "INVALID",
        }
    ]


async def test_an_invitation_cannot_be_used_or_burnt_by_another_email_address(api, log_lines):
    owner = await register_user(api)
    email = unique_email("invitee")
    token = await _invite(owner, email, Role.VIEWER, log_lines)
    stranger = await register_user(api)

    by_registering = (
        await client_from(api).data(
            REGISTER, _register_input(unique_email(), invitationToken=token)
        )
    )["register"]
    by_accepting = (await stranger.api.data(ACCEPT, {"token": token}))["acceptInvitation"]
    rightful = (
        await client_from(api).data(REGISTER, _register_input(email, invitationToken=token))
    )["register"]

    assert by_registering["userErrors"][0]["field"] == ["input", "invitationToken"]
    assert by_accepting == {
        "member": None,
        "userErrors": [{"field": ["input", "token"], "code": "INVALID"}],
    }
    assert rightful["userErrors"] == [] and rightful["accessToken"]


async def test_an_existing_user_accepts_an_invitation_and_works_in_that_organization(
    api, log_lines
):
    owner = await register_user(api)
    existing = await register_user(api)
    token = await _invite(owner, existing.email, Role.ADMIN, log_lines)

    accepted = (await existing.api.data(ACCEPT, {"token": token}))["acceptInvitation"]
    in_new_org = await with_organization(existing, owner.organization_id).data(ORGANIZATION)
    in_own_org = await existing.api.data(ORGANIZATION)

    assert accepted["userErrors"] == [] and accepted["member"]["role"] == "ADMIN"
    assert in_new_org["organization"]["id"] == owner.organization_id
    assert in_new_org["organization"]["viewerRole"] == "ADMIN"
    assert in_own_org["organization"]["id"] == existing.organization_id
    assert in_own_org["organization"]["viewerRole"] == "OWNER"


async def test_inviting_someone_already_in_the_organization_is_a_user_error(api):
    owner = await register_user(api)
    agent = await register_user(api, role=Role.AGENT, organization_of=owner)

    invited = await owner.api.data(INVITE, {"email": agent.email, "role": "VIEWER"})

    assert invited["inviteMember"]["userErrors"] == [{"field": ["input", "email"], "code": "TAKEN"}]


async def test_agents_can_neither_invite_nor_change_roles_nor_remove_members(api):
    owner = await register_user(api)
    agent = await register_user(api, role=Role.AGENT, organization_of=owner)
    viewer = await register_user(api, role=Role.VIEWER, organization_of=owner)
    viewer_id = await _member_id(owner, viewer)

    invite = await agent.api.call(INVITE, {"email": unique_email(), "role": "VIEWER"})
    promote = await agent.api.call(UPDATE_ROLE, {"id": viewer_id, "role": "AGENT"})
    remove = await agent.api.call(REMOVE, {"id": viewer_id})

    assert [_code(invite), _code(promote), _code(remove)] == ["FORBIDDEN"] * 3
    assert await Membership.filter(organization_id=owner.organization_pk).count() == 3


async def test_an_admin_changes_an_agents_role_and_removes_a_member(api):
    owner = await register_user(api)
    admin = await register_user(api, role=Role.ADMIN, organization_of=owner)
    agent = await register_user(api, role=Role.AGENT, organization_of=owner)
    viewer = await register_user(api, role=Role.VIEWER, organization_of=owner)

    promoted = await admin.api.data(
        UPDATE_ROLE, {"id": await _member_id(owner, agent), "role": "ADMIN"}
    )
    viewer_id = await _member_id(owner, viewer)
    removed = await admin.api.data(REMOVE, {"id": viewer_id})

    assert promoted["updateMemberRole"]["member"]["role"] == "ADMIN"
    assert removed["removeMember"] == {"removedMemberId": viewer_id, "userErrors": []}
    assert (await with_organization(agent, owner.organization_id).data(ORGANIZATION))[
        "organization"
    ]["viewerRole"] == "ADMIN"
    gone = await viewer.api.call(ORGANIZATION)
    assert _code(gone) == "NOT_FOUND"


async def test_an_admin_can_neither_demote_an_owner_nor_make_one(api):
    owner = await register_user(api)
    admin = await register_user(api, role=Role.ADMIN, organization_of=owner)
    agent = await register_user(api, role=Role.AGENT, organization_of=owner)

    demote = await admin.api.call(
        UPDATE_ROLE, {"id": await _member_id(owner, owner), "role": "AGENT"}
    )
    crown = await admin.api.call(
        UPDATE_ROLE, {"id": await _member_id(owner, agent), "role": "OWNER"}
    )
    remove = await admin.api.call(REMOVE, {"id": await _member_id(owner, owner)})

    assert [_code(demote), _code(crown), _code(remove)] == ["FORBIDDEN"] * 3


async def test_the_last_owner_can_be_neither_demoted_nor_removed(api):
    owner = await register_user(api)
    owner_id = await _member_id(owner, owner)

    demoted = await owner.api.data(UPDATE_ROLE, {"id": owner_id, "role": "ADMIN"})
    removed = await owner.api.data(REMOVE, {"id": owner_id})

    assert demoted["updateMemberRole"] == {
        "member": None,
        "userErrors": [{"field": ["input", "role"], "code": "CONFLICT"}],
    }
    assert removed["removeMember"] == {
        "removedMemberId": None,
        "userErrors": [{"field": ["input", "memberId"], "code": "CONFLICT"}],
    }
    assert (await owner.api.data(ORGANIZATION))["organization"]["viewerRole"] == "OWNER"


async def test_with_a_second_owner_the_first_can_step_down(api):
    owner = await register_user(api)
    second = await register_user(api, role=Role.ADMIN, organization_of=owner)
    await owner.api.data(UPDATE_ROLE, {"id": await _member_id(owner, second), "role": "OWNER"})

    stepped_down = await owner.api.data(
        UPDATE_ROLE, {"id": await _member_id(owner, owner), "role": "ADMIN"}
    )
    last = await second.api.data(
        UPDATE_ROLE, {"id": await _member_id(owner, second), "role": "ADMIN"}
    )

    assert stepped_down["updateMemberRole"]["member"]["role"] == "ADMIN"
    assert last["updateMemberRole"]["userErrors"][0]["code"] == "CONFLICT"


async def test_audit_events_are_for_owners_and_admins_and_forbidden_to_agents(api):
    owner = await register_user(api)
    admin = await register_user(api, role=Role.ADMIN, organization_of=owner)
    agent = await register_user(api, role=Role.AGENT, organization_of=owner)
    await owner.api.data(UPDATE_ROLE, {"id": await _member_id(owner, agent), "role": "VIEWER"})

    as_owner = await owner.api.data(AUDIT)
    as_admin = await admin.api.data(AUDIT)
    as_agent = await agent.api.call(AUDIT)
    other_org = await (await register_user(api)).api.data(AUDIT)

    events = [edge["node"] for edge in as_owner["auditEvents"]["edges"]]
    [role_change] = [event for event in events if event["kind"] == "ROLE_CHANGED"]
    assert role_change["data"] == {"previous": "AGENT", "role": "VIEWER"}
    assert role_change["actor"] == {"id": owner.user_id}
    assert as_admin == as_owner
    assert _code(as_agent) == "FORBIDDEN" and as_agent["data"] is None
    assert "ROLE_CHANGED" not in [e["node"]["kind"] for e in other_org["auditEvents"]["edges"]]


async def test_a_members_sign_in_failures_show_in_the_audit_log_of_their_organization_only(api):
    owner = await register_user(api)
    agent = await register_user(api, role=Role.AGENT, organization_of=owner)
    stranger = await register_user(api)
    refused = await api.call(
        "mutation($input: LoginInput!) { login(input: $input) { userErrors { code } } }",
        {"input": {"email": agent.email, "password": "not-the-password-1"}},
    )
    assert not refused["errors"]

    as_owner = await owner.api.data(AUDIT)
    as_stranger = await stranger.api.data(AUDIT)

    failures = [
        e["node"] for e in as_owner["auditEvents"]["edges"] if e["node"]["kind"] == "LOGIN_FAILED"
    ]
    assert len(failures) == 1
    assert "LOGIN_FAILED" not in [e["node"]["kind"] for e in as_stranger["auditEvents"]["edges"]]
