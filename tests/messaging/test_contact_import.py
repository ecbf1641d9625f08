from __future__ import annotations

import io
from typing import Any

from gql import FileVar

from tests.support.client import Api
from tests.support.messaging import Member, eventually, member, unique_phone
from tests.support.server import RunningServer

IMPORT = """
mutation($input: ImportContactsInput!) {
  importContacts(input: $input) {
    contactImport { id status }
    userErrors { field message code }
  }
}
"""
IMPORT_STATE = """
query($id: ID!) {
  node(id: $id) {
    ... on ContactImport {
      status total created updated failed error
      errors { row field message }
    }
  }
}
"""
CREATE_CONTACT = """
mutation($input: CreateContactInput!) {
  createContact(input: $input) { contact { id } userErrors { message } }
}
"""
CONTACTS = """
query($search: String) {
  contacts(search: $search) { nodes { id phoneNumber name tags attributes } }
}
"""


async def _finished(who: Member, import_id: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        state: dict[str, Any] = (await who.api.data(IMPORT_STATE, {"id": import_id}))["node"]
        return state if state["status"] in ("COMPLETED", "FAILED") else None

    result: dict[str, Any] = await eventually(check, within=20)
    return result


async def test_an_import_creates_new_contacts_updates_known_ones_and_reports_bad_rows(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    known, new, bad_twin = unique_phone(), unique_phone(), unique_phone()
    await owner.api.data(
        CREATE_CONTACT, {"input": {"phoneNumber": known, "name": "Old name", "tags": ["lead"]}}
    )
    csv = (
        "phone_number,name,tags,city\n"
        f"{new},Ana,vip;Newsletter,Lisbon\n"
        f"{known},Bruno,vip,Porto\n"
        "12345,Nobody,,\n"
        "\n"
        f"{new},Ana again,,\n"
        f"{bad_twin.removeprefix('+')},Carla,,\n"
    )

    queued = await owner.api.data(IMPORT, {"input": {"csv": csv}})
    report = await _finished(owner, queued["importContacts"]["contactImport"]["id"])

    assert queued["importContacts"]["userErrors"] == []
    assert queued["importContacts"]["contactImport"]["status"] == "QUEUED"
    assert report["status"] == "COMPLETED"
    assert (report["total"], report["created"], report["updated"], report["failed"]) == (
        5,
        2,
        1,
        2,
    )
    bad_number, duplicate = report["errors"]
    assert (bad_number["row"], bad_number["field"]) == (4, "phone_number")
    assert "E.164" in bad_number["message"]
    assert (duplicate["row"], duplicate["field"]) == (6, "phone_number")
    assert "row 2" in duplicate["message"]
    contacts = {c["phoneNumber"]: c for c in (await owner.api.data(CONTACTS))["contacts"]["nodes"]}
    assert len(contacts) == 3  # the known number was updated, not duplicated
    assert contacts[new] | {"id": None} == {
        "id": None,
        "phoneNumber": new,
        "name": "Ana",
        "tags": ["vip", "newsletter"],
        "attributes": {"city": "Lisbon"},
    }
    assert (contacts[known]["name"], contacts[known]["tags"]) == ("Bruno", ["lead", "vip"])
    assert contacts[known]["attributes"] == {"city": "Porto"}
    assert contacts[bad_twin]["name"] == "Carla"  # a number without its plus is accepted


async def test_another_organization_cannot_see_an_import(server: RunningServer, api: Api) -> None:
    owner = await member(server, api)
    stranger = await member(server, api)
    queued = await owner.api.data(IMPORT, {"input": {"csv": f"phone_number\n{unique_phone()}\n"}})
    import_id = queued["importContacts"]["contactImport"]["id"]
    await _finished(owner, import_id)

    seen = await stranger.api.data(IMPORT_STATE, {"id": import_id})

    assert seen["node"] is None


async def test_a_csv_without_a_phone_number_column_is_refused_before_any_job(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)

    result = await owner.api.data(IMPORT, {"input": {"csv": "name,tags\nAna,vip\n"}})

    assert result["importContacts"]["contactImport"] is None
    [error] = result["importContacts"]["userErrors"]
    assert (error["field"], error["code"]) == (["input", "csv"], "INVALID")
    assert "phone_number" in error["message"]


async def test_an_import_can_be_an_uploaded_csv_file(server: RunningServer, api: Api) -> None:
    owner = await member(server, api)
    phone = unique_phone()
    # As a spreadsheet saves it: UTF-8 with a byte-order mark, CRLF line ends.
    data = f"phone_number,name\r\n{phone},Zoë\r\n".encode("utf-8-sig")
    upload = FileVar(io.BytesIO(data), filename="contacts.csv", content_type="text/csv")

    queued = await owner.api.call(IMPORT, {"input": {"file": upload}}, upload_files=True)
    report = await _finished(owner, queued["data"]["importContacts"]["contactImport"]["id"])
    twice = FileVar(io.BytesIO(data), filename="contacts.csv")
    both = await owner.api.data(
        IMPORT, {"input": {"file": twice, "csv": "phone_number\n"}}, upload_files=True
    )
    neither = await owner.api.data(IMPORT, {"input": {}})

    assert queued["errors"] == []
    assert (report["status"], report["created"], report["failed"]) == ("COMPLETED", 1, 0)
    contacts = (await owner.api.data(CONTACTS, {"search": phone}))["contacts"]["nodes"]
    assert [(c["phoneNumber"], c["name"]) for c in contacts] == [(phone, "Zoë")]
    assert both["importContacts"]["userErrors"][0]["field"] == ["input", "csv"]
    assert [e["code"] for e in neither["importContacts"]["userErrors"]] == ["REQUIRED"]


async def test_an_uploaded_file_that_is_not_utf8_is_refused(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    upload = FileVar(io.BytesIO("phone_number,name\n+16505550000,Zo\xeb\n".encode("latin-1")))

    result = await owner.api.call(IMPORT, {"input": {"file": upload}}, upload_files=True)

    assert result["data"]["importContacts"]["contactImport"] is None
    [error] = result["data"]["importContacts"]["userErrors"]
    assert (error["field"], error["code"]) == (["input", "file"], "INVALID")
