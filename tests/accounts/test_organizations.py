"""Choosing the organization with X-Organization-Id when a user belongs to several."""

from __future__ import annotations

from typing import Any

from app.models.accounts import Membership, Role
from app.platform.ids import to_global_id
from tests.support.accounts import register_user, with_organization

ORGANIZATION = "{ organization { id viewerRole members { edges { node { id } } } } }"


def _code(result: dict[str, Any]) -> str:
    return str(result["errors"][0]["extensions"]["code"])


async def test_a_user_in_two_organizations_chooses_one_with_the_header(api):
    user = await register_user(api)
    other = await register_user(api)
    await Membership.create(
        user_id=user.user_pk, organization_id=other.organization_pk, role=Role.AGENT
    )

    default = await with_organization(user, None).data(ORGANIZATION)
    own = await with_organization(user, user.organization_id).data(ORGANIZATION)
    chosen = await with_organization(user, other.organization_id).data(ORGANIZATION)
    invite_there = await with_organization(user, other.organization_id).call(
        'mutation { inviteMember(input: {email: "a@example.com", role: VIEWER}) { email } }'
    )

    assert default["organization"]["id"] == user.organization_id
    assert default["organization"]["viewerRole"] == "OWNER"
    assert own == default
    assert chosen["organization"]["id"] == other.organization_id
    assert chosen["organization"]["viewerRole"] == "AGENT"
    assert len(chosen["organization"]["members"]["edges"]) == 2
    assert _code(invite_there) == "FORBIDDEN"


async def test_an_organization_the_user_is_not_in_reads_like_one_that_does_not_exist(api):
    user = await register_user(api)
    stranger = await register_user(api)

    foreign = await with_organization(user, stranger.organization_id).call(ORGANIZATION)
    missing = await with_organization(user, to_global_id("Organization", 10**9)).call(ORGANIZATION)
    not_an_org = await with_organization(user, user.user_id).call(ORGANIZATION)

    assert _code(foreign) == _code(missing) == _code(not_an_org) == "NOT_FOUND"
    assert foreign["errors"][0]["message"] == missing["errors"][0]["message"]


async def test_a_malformed_organization_header_is_bad_input(api):
    user = await register_user(api)

    result = await with_organization(user, "%%%not-an-id").call(ORGANIZATION)

    assert _code(result) == "BAD_USER_INPUT"


NODES = """
query ($ids: [ID!]!) {
  nodes(ids: $ids) {
    __typename id
    ... on User { name }
    ... on Organization { name }
    ... on Member { role }
  }
}
"""


async def test_nodes_answer_users_members_and_organizations_the_caller_shares_only(api):
    user = await register_user(api)
    colleague = await register_user(api, role=Role.AGENT, organization_of=user)
    stranger = await register_user(api)
    own_member = await Membership.get(
        user_id=colleague.user_pk, organization_id=user.organization_pk
    )
    foreign_member = await Membership.get(user_id=stranger.user_pk)
    ids = [
        user.user_id,
        colleague.user_id,
        user.organization_id,
        to_global_id("Member", own_member.id),
        stranger.user_id,
        stranger.organization_id,
        to_global_id("Member", foreign_member.id),
    ]

    nodes = (await user.api.data(NODES, {"ids": ids}))["nodes"]

    assert [node and node["__typename"] for node in nodes] == [
        "User",
        "User",
        "Organization",
        "Member",
        None,
        None,
        None,
    ]
    assert [node["id"] for node in nodes[:4]] == ids[:4]
    assert nodes[3]["role"] == "AGENT"
