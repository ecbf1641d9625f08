"""Bad input is the client's mistake: a userError or BAD_USER_INPUT naming the field and its
limit, never an internal error, and never a log line that carries the oversized input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import strawberry
from strawberry.types.base import StrawberryList, StrawberryOptional
from strawberry.utils.str_converters import to_camel_case

from app.models.accounts import Organization, User
from app.models.messaging import Contact, Device, Message
from app.platform.input_limits import LENGTHS, NOT_LIMITED, column
from app.schema import schema
from tests.conftest import LogLines
from tests.support.accounts import client_from, unique_email
from tests.support.client import Api
from tests.support.messaging import CREATE_DEVICE, Member, eventually, member, unique_phone
from tests.support.server import RunningServer, make_settings, run_server

EMAIL_COLUMN = column(User, "email")

LOGIN = """
mutation($input: LoginInput!) { login(input: $input) { accessToken userErrors { field message code } } }
"""
REQUEST_RESET = """
mutation($input: RequestPasswordResetInput!) {
  requestPasswordReset(input: $input) { ok userErrors { field message code } }
}
"""
REGISTER = """
mutation($input: RegisterInput!) { register(input: $input) { user { id } userErrors { field message code } } }
"""
UPDATE_DEVICE = """
mutation($input: UpdateDeviceInput!) {
  updateDevice(input: $input) { device { id name } userErrors { field message code } }
}
"""
CREATE_CONTACT = """
mutation($input: CreateContactInput!) {
  createContact(input: $input) { contact { id } userErrors { field message code } }
}
"""
SEND = """
mutation($input: SendMessageInput!) { sendMessage(input: $input) { message { id } userErrors { field message code } } }
"""
CONTACTS = """
query($search: String) { contacts(search: $search) { nodes { phoneNumber name } } }
"""
IMPORT = """
mutation($input: ImportContactsInput!) {
  importContacts(input: $input) { contactImport { id } userErrors { field message code } }
}
"""
IMPORT_STATE = """
query($id: ID!) {
  node(id: $id) { ... on ContactImport { status total created failed error errors { row field message } } }
}
"""


def too_long(field: str, limit: int) -> str:
    return f"`{field}` may be at most {limit} characters."


def only_user_error(result: dict[str, Any], mutation: str) -> dict[str, Any]:
    assert result["errors"] == [], result["errors"]
    (error,) = result["data"][mutation]["userErrors"]
    return error  # type: ignore[no-any-return]


async def test_an_email_longer_than_its_column_on_login_is_a_user_error_naming_it_and_the_limit(
    api: Api,
) -> None:
    email = "a" * 250 + "@example.com"

    result = await client_from(api).call(LOGIN, {"input": {"email": email, "password": "x" * 12}})

    assert only_user_error(result, "login") == {
        "field": ["input", "email"],
        "message": too_long("email", EMAIL_COLUMN),
        "code": "INVALID",
    }
    assert result["data"]["login"]["accessToken"] is None


async def test_an_email_longer_than_its_column_on_request_password_reset_is_a_user_error(
    api: Api,
) -> None:
    result = await client_from(api).call(REQUEST_RESET, {"input": {"email": "b" * 255}})

    assert only_user_error(result, "requestPasswordReset") == {
        "field": ["input", "email"],
        "message": too_long("email", EMAIL_COLUMN),
        "code": "INVALID",
    }
    assert result["data"]["requestPasswordReset"]["ok"] is False


async def test_register_with_names_over_their_columns_names_each_field_and_creates_nothing(
    api: Api,
) -> None:
    email = unique_email()
    name_limit, organization_limit = column(User, "name"), column(Organization, "name")

    result = await client_from(api).call(
        REGISTER,
        {
            "input": {
                "email": email,
                "password": "correct horse battery staple",
                "name": "n" * (name_limit + 1),
                "organizationName": "o" * (organization_limit + 1),
            }
        },
    )

    assert result["errors"] == []
    assert result["data"]["register"] == {
        "user": None,
        "userErrors": [
            {
                "field": ["input", "name"],
                "message": too_long("name", name_limit),
                "code": "INVALID",
            },
            {
                "field": ["input", "organizationName"],
                "message": too_long("organizationName", organization_limit),
                "code": "INVALID",
            },
        ],
    }
    assert not await User.filter(email=email).exists()


async def test_a_device_name_over_its_column_on_create_and_on_update_is_a_user_error(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    limit = column(Device, "name")
    created = await owner.api.data(
        CREATE_DEVICE,
        {"input": {"name": "Shop", "phoneNumber": unique_phone(), "provider": "SANDBOX"}},
    )
    device_id = created["createDevice"]["device"]["id"]

    create = await owner.api.call(
        CREATE_DEVICE,
        {
            "input": {
                "name": "d" * (limit + 1),
                "phoneNumber": unique_phone(),
                "provider": "SANDBOX",
            }
        },
    )
    update = await owner.api.call(
        UPDATE_DEVICE, {"input": {"deviceId": device_id, "name": "u" * (limit + 1)}}
    )

    expected = {"field": ["input", "name"], "message": too_long("name", limit), "code": "INVALID"}
    assert only_user_error(create, "createDevice") == expected
    assert create["data"]["createDevice"]["device"] is None
    assert only_user_error(update, "updateDevice") == expected
    assert (await Device.get(organization_id=owner.organization_id)).name == "Shop"


async def test_a_contact_name_over_its_column_is_a_user_error(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    limit = column(Contact, "name")

    result = await owner.api.call(
        CREATE_CONTACT, {"input": {"phoneNumber": unique_phone(), "name": "c" * (limit + 1)}}
    )

    assert only_user_error(result, "createContact") == {
        "field": ["input", "name"],
        "message": too_long("name", limit),
        "code": "INVALID",
    }
    assert not await Contact.filter(organization_id=owner.organization_id).exists()


async def test_a_nested_field_over_its_column_names_its_whole_path(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    limit = column(Message, "client_message_id")

    result = await owner.api.call(
        SEND,
        {
            "input": {
                "to": unique_phone(),
                "text": "hi",
                "clientMessageId": "k" * (limit + 1),
                "interactive": {"body": "b", "buttons": [{"id": "1", "title": "t" * 5000}]},
            }
        },
    )

    assert result["errors"] == []
    assert result["data"]["sendMessage"]["userErrors"] == [
        {
            "field": ["input", "interactive", "buttons", "0", "title"],
            "message": too_long("title", 4096),
            "code": "INVALID",
        },
        {
            "field": ["input", "clientMessageId"],
            "message": too_long("clientMessageId", limit),
            "code": "INVALID",
        },
    ]


async def test_a_60000_character_contact_search_is_bad_user_input_naming_search_and_its_limit(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)

    result = await owner.api.call(CONTACTS, {"search": "x" * 60_000})

    (error,) = result["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "search", "maxLength": 200}
    assert error["message"] == too_long("search", 200)


async def test_contact_attributes_nested_300_deep_are_a_user_error_naming_the_depth_limit(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    attributes: dict[str, Any] = {}
    inner = attributes
    for _ in range(300):
        inner["a"] = {}
        inner = inner["a"]

    deep = await owner.api.call(
        CREATE_CONTACT, {"input": {"phoneNumber": unique_phone(), "attributes": attributes}}
    )
    large = await owner.api.call(
        CREATE_CONTACT,
        {"input": {"phoneNumber": unique_phone(), "attributes": {"notes": "n" * 70_000}}},
    )

    assert only_user_error(deep, "createContact") == {
        "field": ["input", "attributes"],
        "message": "`attributes` may nest at most 10 levels deep.",
        "code": "INVALID",
    }
    assert only_user_error(large, "createContact")["message"] == (
        "`attributes` may be at most 65536 bytes as JSON."
    )
    assert not await Contact.filter(organization_id=owner.organization_id).exists()


async def _imported(who: Member, csv: str) -> dict[str, Any]:
    queued = await who.api.call(IMPORT, {"input": {"csv": csv}})
    assert queued["errors"] == [], queued["errors"]
    assert queued["data"]["importContacts"]["userErrors"] == []
    import_id = queued["data"]["importContacts"]["contactImport"]["id"]

    async def finished() -> dict[str, Any] | None:
        state: dict[str, Any] = (await who.api.data(IMPORT_STATE, {"id": import_id}))["node"]
        return state if state["status"] in ("COMPLETED", "FAILED") else None

    result: dict[str, Any] = await eventually(finished, within=20)
    return result


async def test_a_csv_with_old_mac_line_endings_imports_every_row(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    ana, bruno = unique_phone(), unique_phone()

    report = await _imported(owner, f"phone_number,name,city\r{ana},Ana,Lisbon\r{bruno},Bruno,\r")
    contacts = (await owner.api.data(CONTACTS))["contacts"]["nodes"]

    assert (report["status"], report["total"], report["created"], report["failed"]) == (
        "COMPLETED",
        2,
        2,
        0,
    )
    assert sorted((c["phoneNumber"], c["name"]) for c in contacts) == sorted(
        [(ana, "Ana"), (bruno, "Bruno")]
    )


async def test_a_csv_row_whose_name_is_over_the_column_fails_alone(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    limit = column(Contact, "name")

    report = await _imported(
        owner, f"phone_number,name\n{unique_phone()},{'n' * (limit + 1)}\n{unique_phone()},Ok\n"
    )

    assert (report["status"], report["created"], report["failed"]) == ("COMPLETED", 1, 1)
    assert report["errors"] == [{"row": 2, "field": "name", "message": too_long("name", limit)}]


def _string_fields() -> list[tuple[str, str]]:
    """Every (input type, field) of the schema whose values are strings (or lists of them)."""
    found = []
    for type_ in schema.schema_converter.type_map.values():
        definition = type_.definition
        if not getattr(definition, "is_input", False):
            continue
        for field in definition.fields:  # type: ignore[union-attr]
            kind = field.type
            while isinstance(kind, (StrawberryOptional, StrawberryList)):
                kind = kind.of_type
            if kind is str:
                found.append(
                    (definition.name, field.graphql_name or to_camel_case(field.python_name))
                )
    return found


def test_every_string_input_of_the_schema_has_a_limit_in_the_one_table() -> None:
    fields = _string_fields()
    listed = {(t, f) for t, entries in LENGTHS.items() for f in entries} | {
        (t, f) for t, entries in NOT_LIMITED.items() for f in entries
    }

    assert ("CreateDeviceInput", "name") in fields
    assert sorted(set(fields) - listed) == []
    # And no entry names a field that is not there (renamed or removed).
    assert sorted(listed - set(fields)) == []


def test_the_lengths_of_stored_strings_are_the_lengths_of_their_columns() -> None:
    assert LENGTHS["RegisterInput"]["email"] == User._meta.fields_map["email"].max_length == 254
    assert LENGTHS["CreateDeviceInput"]["name"] == Device._meta.fields_map["name"].max_length
    assert LENGTHS["CreateContactInput"]["name"] == Contact._meta.fields_map["name"].max_length


@strawberry.type
class ExplodingQuery:
    @strawberry.field(description="Fails with its input in the exception, like a bug would.")
    def explode(self, text: str) -> str:
        raise RuntimeError(f"could not handle {text!r}")


async def test_a_failing_09_mb_request_is_logged_once_bounded_with_the_trace_id_the_client_got(
    tmp_path: Path, log_lines: LogLines
) -> None:
    settings = make_settings(tmp_path / "var", redis_url=None, database_url=None)
    text = "z" * 900_000

    async with run_server(settings, extra_query_types=[ExplodingQuery]) as server:
        # Signed in: an anonymous caller's variables stop at 20,000 characters, refused as
        # BAD_USER_INPUT before anything runs (tests/protection/test_anonymous_abuse.py).
        who = await member(server, Api(server.graphql_url))
        result = await who.api.call(
            "query($text: String!) { explode(text: $text) }", {"text": text}
        )

    (error,) = result["errors"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    failures = [e for e in log_lines.events() if e.get("event") == "unhandled_error"]
    assert [e["trace_id"] for e in failures] == [error["extensions"]["traceId"]]
    assert "could not handle 'zzzz" in failures[0]["exception"]
    assert len(failures[0]["exception"]) < 25_000
    assert sum(len(line) for line in log_lines.lines) < 100_000


async def test_an_email_of_09_mb_on_login_writes_no_more_than_the_access_line(
    api: Api, log_lines: LogLines
) -> None:
    result = await client_from(api).call(
        LOGIN, {"input": {"email": "e" * 900_000, "password": "x" * 12}}
    )

    # Anonymous variables of 0.9 MB are refused before anything runs (their size bound); an
    # over-long email within it is a userError (the test of the listed cases above).
    assert [e["extensions"]["code"] for e in result["errors"]] == ["BAD_USER_INPUT"]
    assert sum(len(line) for line in log_lines.lines) < 5_000
    assert "eeeeeeeeee" not in log_lines.text()
