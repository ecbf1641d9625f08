"""An organization keeps an OWNER, even when two OWNERs take each other's role at once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app.models.accounts import Role
from tests.support.accounts import SignedUp, register_user
from tests.support.client import Api

ROUNDS = 30

MEMBERS = "{ organization { members { edges { node { id role user { id } } } } } }"
DEMOTE = """
mutation ($id: ID!) {
  updateMemberRole(input: {memberId: $id, role: ADMIN}) { member { id } userErrors { code } }
}
"""
REMOVE = """
mutation ($id: ID!) {
  removeMember(input: {memberId: $id}) { removedMemberId userErrors { code } }
}
"""


async def _two_owners(api: Api) -> tuple[SignedUp, SignedUp, dict[str, str]]:
    first = await register_user(api)
    second = await register_user(api, role=Role.OWNER, organization_of=first)
    edges = (await first.api.data(MEMBERS))["organization"]["members"]["edges"]
    member_of = {edge["node"]["user"]["id"]: edge["node"]["id"] for edge in edges}
    return first, second, member_of


@pytest.mark.parametrize("document", [DEMOTE, REMOVE], ids=["demote", "remove"])
async def test_two_owners_taking_each_others_role_at_once_leave_one_owner(api, document):
    for _ in range(ROUNDS):
        first, second, member_of = await _two_owners(api)

        answers = await asyncio.gather(
            first.api.call(document, {"id": member_of[second.user_id]}),
            second.api.call(document, {"id": member_of[first.user_id]}),
        )

        succeeded = [_succeeded(answer) for answer in answers]
        assert succeeded.count(True) == 1, answers
        winner = first if succeeded[0] else second
        members = (await winner.api.data(MEMBERS))["organization"]["members"]["edges"]
        roles = [edge["node"]["role"] for edge in members]
        assert roles.count("OWNER") == 1, roles


def _succeeded(answer: dict[str, Any]) -> bool:
    """True for a change made; False for a refusal: the last OWNER stays (CONFLICT), or the
    caller is no OWNER any more (FORBIDDEN) or no member at all (NOT_FOUND)."""
    if answer["errors"]:
        codes = [e["extensions"]["code"] for e in answer["errors"]]
        assert codes in (["FORBIDDEN"], ["NOT_FOUND"]), answer
        return False
    payload = next(iter(answer["data"].values()))
    assert payload["userErrors"] in ([], [{"code": "CONFLICT"}]), answer
    return not payload["userErrors"]
