"""Choosing the organization with X-Organization-Id when a user belongs to several."""

from __future__ import annotations

from typing import Any

from app.models.accounts import Membership, Role
from app.platform.ids import to_global_id
from tests.support.accounts import SignedUp, register_user, with_organization
from tests.support.client import Api
from tests.support.sql import statements_by_request

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


MEMBERSHIPS = "{ me { memberships { id role organization { id name } } } }"


async def test_a_user_lists_their_organizations_with_their_role_and_works_in_the_one_chosen(api):
    user = await register_user(api)
    other = await register_user(api)
    await Membership.create(
        user_id=user.user_pk, organization_id=other.organization_pk, role=Role.AGENT
    )

    memberships = (await user.api.data(MEMBERSHIPS))["me"]["memberships"]
    chosen = memberships[1]["organization"]["id"]
    there = await with_organization(user, chosen).data("{ organization { id viewerRole } }")

    assert [(m["organization"]["id"], m["role"]) for m in memberships] == [
        (user.organization_id, "OWNER"),
        (other.organization_id, "AGENT"),
    ]
    assert all(m["organization"]["name"].startswith("Org ") for m in memberships)
    assert there["organization"] == {"id": other.organization_id, "viewerRole": "AGENT"}


async def test_no_one_sees_another_users_memberships(api):
    owner = await register_user(api)
    colleague = await register_user(api, role=Role.AGENT, organization_of=owner)
    elsewhere = await register_user(api)
    await Membership.create(
        user_id=colleague.user_pk, organization_id=elsewhere.organization_pk, role=Role.VIEWER
    )
    colleagues_own = await Membership.get(
        user_id=colleague.user_pk, organization_id=elsewhere.organization_pk
    )

    theirs = await owner.api.call(
        "{ organization { members { nodes { user { id memberships { id } } } } } }"
    )
    by_node = await owner.api.call(
        "query ($id: ID!) { node(id: $id) { ... on User { memberships { id } } } }",
        {"id": colleague.user_id},
    )
    their_membership = await owner.api.data(
        "query ($id: ID!) { node(id: $id) { id } }",
        {"id": to_global_id("Member", colleagues_own.id)},
    )
    own = (await colleague.api.data(MEMBERSHIPS))["me"]["memberships"]

    assert _code(theirs) == _code(by_node) == "FORBIDDEN"
    assert their_membership["node"] is None  # another organization's member
    assert sorted(m["id"] for m in own) == sorted(
        to_global_id("Member", m.id) for m in await Membership.filter(user_id=colleague.user_pk)
    )
    assert {owner.organization_id, elsewhere.organization_id} <= {
        m["organization"]["id"] for m in own
    }


async def test_the_users_own_membership_of_another_organization_is_a_node_they_can_fetch(api):
    user = await register_user(api)
    other = await register_user(api)
    await Membership.create(
        user_id=user.user_pk, organization_id=other.organization_pk, role=Role.ADMIN
    )
    [_, there] = (await user.api.data(MEMBERSHIPS))["me"]["memberships"]

    node = await user.api.data(
        "query ($id: ID!) { node(id: $id) { ... on Member { role organization { id } } } }",
        {"id": there["id"]},
    )

    assert node["node"] == {"role": "ADMIN", "organization": {"id": other.organization_id}}


async def test_memberships_and_their_organizations_load_in_as_many_statements_for_five(api):
    one = await register_user(api)
    five = await register_user(api)
    for _ in range(4):
        elsewhere = await register_user(api)
        await Membership.create(
            user_id=five.user_pk, organization_id=elsewhere.organization_pk, role=Role.AGENT
        )
    document = "{ me { memberships { role organization { id name } } } }"

    with statements_by_request() as statements:
        for who in (one, five):
            client = Api(who.api.graphql_url, who.access_token, {"X-Request-Id": who.user_id})
            data = await client.data(document)
            assert len(data["me"]["memberships"]) == (1 if who is one else 5)

    def reads(user: SignedUp) -> list[str]:
        return [
            sql
            for sql in statements[user.user_id]
            if '"memberships"' in sql or '"organizations"' in sql
        ]

    assert len(reads(five)) == len(reads(one))
