"""One rule for ids: an argument that is not an id of the type it takes (not an id at all,
another type's id, a number beyond 64 bits) is BAD_USER_INPUT naming the argument's path; a
well-formed id that names nothing you can see is NOT_FOUND on the same path."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from app.platform.ids import to_global_id
from tests.support.client import Api
from tests.support.messaging import CONNECT_DEVICE, member, sandbox_device
from tests.support.server import RunningServer

BEYOND_64_BITS = 2**64 + 1


def _raw_id(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _bad_input_at(result: dict[str, Any], path: list[str | int]) -> None:
    [error] = result["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert error["extensions"]["field"] == path, error


@pytest.mark.parametrize(
    "device_id",
    [
        "%%%not-an-id",
        to_global_id("Contact", 1),
        to_global_id("Device", BEYOND_64_BITS),
        _raw_id("Device:twelve"),
    ],
    ids=["garbage", "another type", "beyond 64 bits", "not a number"],
)
async def test_a_malformed_id_in_a_mutation_is_bad_input_naming_its_input_path(
    server: RunningServer, api: Api, device_id: str
) -> None:
    owner = await member(server, api)

    result = await owner.api.call(CONNECT_DEVICE, {"input": {"deviceId": device_id}})

    _bad_input_at(result, ["input", "deviceId"])


async def test_a_well_formed_id_that_names_nothing_is_not_found_on_the_same_path(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    stranger = await member(server, api)
    foreign = await sandbox_device(stranger)

    for device_id in (to_global_id("Device", 2**63 - 1), foreign):
        data = await owner.api.data(CONNECT_DEVICE, {"input": {"deviceId": device_id}})

        [error] = data["connectDevice"]["userErrors"]
        assert (error["field"], error["code"]) == (["input", "deviceId"], "NOT_FOUND")


async def test_a_malformed_id_argument_of_a_query_names_the_argument(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)

    result = await owner.api.call(
        "query ($d: ID) { conversations(deviceId: $d) { __typename } }", {"d": "%%%"}
    )

    _bad_input_at(result, ["deviceId"])


async def test_node_answers_null_for_an_id_that_names_no_node_and_bad_input_beyond_64_bits(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)
    huge = to_global_id("Device", BEYOND_64_BITS)

    unknown = await owner.api.call('{ node(id: "%%%") { id } }')
    single = await owner.api.call("query ($id: ID!) { node(id: $id) { id } }", {"id": huge})
    several = await owner.api.call(
        "query ($ids: [ID!]!) { nodes(ids: $ids) { id } }",
        {"ids": [to_global_id("Device", 1), huge]},
    )

    assert unknown["data"] == {"node": None} and unknown["errors"] == []
    _bad_input_at(single, ["id"])
    _bad_input_at(several, ["ids", 1])


@pytest.mark.parametrize(
    "cursor", [_raw_id(f"k:{BEYOND_64_BITS}"), _raw_id(f"k:-{BEYOND_64_BITS}"), "nope"]
)
async def test_a_cursor_beyond_64_bits_is_bad_input_naming_the_argument(
    server: RunningServer, api: Api, cursor: str
) -> None:
    owner = await member(server, api)

    result = await owner.api.call(
        "query ($after: String) { devices(after: $after) { edges { cursor } } }",
        {"after": cursor},
    )

    _bad_input_at(result, ["after"])


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_webhook_for_an_id_beyond_64_bits_is_404(
    server: RunningServer, method: str
) -> None:
    url = f"{server.url}/webhooks/whatsapp/{to_global_id('Device', BEYOND_64_BITS)}"

    async with httpx.AsyncClient() as http:
        response = await http.request(method, url, content=b"{}")

    assert response.status_code == 404
