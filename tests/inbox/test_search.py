"""Search (issue 20): messages and contacts, organization-scoped, ranked, paginated, on the
database's own full-text index (PostgreSQL tsvector, SQLite FTS5)."""

from __future__ import annotations

from app.models.accounts import Role
from tests.support.client import Api
from tests.support.messaging import member, sandbox_device, simulate, unique_phone
from tests.support.server import RunningServer

SEARCH_MESSAGES = """
query($query: String!, $first: Int, $after: String) {
  searchMessages(query: $query, first: $first, after: $after) {
    edges { cursor node { id body } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}
"""
SEARCH_CONTACTS = """
query($query: String!) {
  searchContacts(query: $query) { nodes { id name phoneNumber } }
}
"""
CREATE_CONTACT = """
mutation($input: CreateContactInput!) {
  createContact(input: $input) { contact { id } userErrors { message } }
}
"""


async def _bodies(who: object, query: str, **variables: object) -> list[str]:
    data = await who.api.data(SEARCH_MESSAGES, {"query": query, **variables})  # type: ignore[attr-defined]
    return [e["node"]["body"] for e in data["searchMessages"]["edges"]]


async def test_messages_are_found_by_their_words_best_match_first(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    viewer = await member(server, api, Role.VIEWER, owner.organization_id)
    device_id = await sandbox_device(owner)
    customer = unique_phone()
    for text in [
        "My parcel never arrived",
        "Thanks, all good",
        "Parcel parcel parcel: where is my parcel?",
        "Is the shop open on Sunday?",
    ]:
        await simulate(owner, device_id, customer, text)

    found = await _bodies(viewer, "parcel")
    typed = await _bodies(viewer, "my parc")
    both = await _bodies(viewer, "parcel arrived")

    assert found == ["Parcel parcel parcel: where is my parcel?", "My parcel never arrived"]
    assert sorted(typed) == sorted(found)
    assert both == ["My parcel never arrived"]
    assert await _bodies(viewer, "refund") == []


async def test_search_pages_follow_the_ranking_without_repeating(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    device_id = await sandbox_device(owner)
    for n in range(5):
        await simulate(owner, device_id, unique_phone(), "invoice " * (n + 1) + f"number {n}")

    first = await owner.api.data(SEARCH_MESSAGES, {"query": "invoice", "first": 2})
    page = first["searchMessages"]
    rest = await owner.api.data(
        SEARCH_MESSAGES, {"query": "invoice", "first": 10, "after": page["pageInfo"]["endCursor"]}
    )

    bodies = [e["node"]["body"] for e in page["edges"] + rest["searchMessages"]["edges"]]
    assert page["pageInfo"]["hasNextPage"] is True
    assert rest["searchMessages"]["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": True,
        "endCursor": rest["searchMessages"]["edges"][-1]["cursor"],
    }
    assert len(bodies) == len(set(bodies)) == 5
    assert bodies == await _bodies(owner, "invoice", first=10)


async def test_another_organizations_messages_and_contacts_are_never_found(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    stranger = await member(server, api)
    device_id = await sandbox_device(owner)
    await simulate(owner, device_id, unique_phone(), "confidential merger plans")

    assert await _bodies(stranger, "merger") == []
    contacts = await stranger.api.data(SEARCH_CONTACTS, {"query": "merger"})
    assert contacts["searchContacts"]["nodes"] == []
    assert await _bodies(owner, "merger") == ["confidential merger plans"]


async def test_contacts_are_found_by_name_number_and_what_they_wrote(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    device_id = await sandbox_device(owner)
    giulia, writer = unique_phone(), unique_phone()
    await owner.api.data(CREATE_CONTACT, {"input": {"phoneNumber": giulia, "name": "Giulia Rossi"}})
    await simulate(owner, device_id, writer, "Ask Giulia about the warranty")

    async def names(query: str) -> list[str]:
        data = await owner.api.data(SEARCH_CONTACTS, {"query": query})
        return [c["phoneNumber"] for c in data["searchContacts"]["nodes"]]

    assert await names("giulia") == [giulia, writer]  # her name first, then who wrote it
    assert await names(giulia[-6:]) == [giulia]
    assert await names("warranty") == [writer]


async def test_a_search_without_words_is_bad_input_and_signed_out_callers_are_refused(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)

    empty = await owner.api.call(SEARCH_MESSAGES, {"query": " ?! "})
    bad_cursor = await owner.api.call(SEARCH_MESSAGES, {"query": "a", "after": "nope"})
    anonymous = await api.call(SEARCH_MESSAGES, {"query": "parcel"})

    assert empty["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert bad_cursor["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
