"""Templates at Meta, end to end through GraphQL and the fake Graph API: submitted with a
header sample, reviewed by webhook (seen live), sent with header, body and button parameters
by a campaign, and AUTHENTICATION templates sending a one-time code."""

from __future__ import annotations

import asyncio
import io
from typing import Any

from gql import FileVar, gql

from app.models.messaging import Template
from app.platform.ids import to_global_id
from tests.campaigns.support import CREATE, act, contacts, until_status
from tests.fakes.graph_api import FakeGraphApi
from tests.support.client import Api
from tests.support.cloud_api import fake, status_of
from tests.support.media import png, uploaded
from tests.support.messaging import SEND, eventually, member, unique_phone, wait_for_subscribers
from tests.support.server import RunningServer
from tests.support.templates import CREATE_TEMPLATE, TEMPLATE, WabaDevice, waba_device

__all__ = ["fake"]  # the fixture, used by name

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
ORDER_UPDATE = [
    {"type": "HEADER", "format": "IMAGE"},
    {
        "type": "BODY",
        "text": "Hi {{1}}, your order is on its way.",
        "example": {"body_text": [["Ana"]]},
    },
    {"type": "FOOTER", "text": "Parley Shop"},
    {
        "type": "BUTTONS",
        "buttons": [
            {
                "type": "URL",
                "text": "Track",
                "url": "https://shop.example.com/track/{{1}}",
                "example": ["https://shop.example.com/track/123"],
            },
            {"type": "QUICK_REPLY", "text": "Stop promotions"},
        ],
    },
]
LOGIN_CODE = [
    {"type": "BODY", "add_security_recommendation": True},
    {"type": "FOOTER", "code_expiration_minutes": 10},
    {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copy"}]},
]
TEMPLATE_EVENTS = """
subscription($deviceId: ID) {
  templateEvents(deviceId: $deviceId) { kind status templateId template { name } }
}
"""
DELETE_TEMPLATE = """
mutation($input: TemplateIdInput!) {
  deleteTemplate(input: $input) { deletedTemplateId userErrors { field message code } }
}
"""
STATS = """
query($id: ID!) {
  node(id: $id) { ... on Campaign {
    stats { total sent delivered read byCategory { category messages billable } }
  } }
}
"""


async def _create(owner: Any, device: WabaDevice, **fields: Any) -> dict[str, Any]:
    variables = {
        "input": {
            "deviceId": device.id,
            "name": "order_update",
            "language": "en_US",
            "category": "UTILITY",
            "components": ORDER_UPDATE,
        }
        | fields
    }
    upload = "headerSample" in variables["input"]
    result = await owner.api.data(CREATE_TEMPLATE, variables, upload_files=upload)
    payload: dict[str, Any] = result["createTemplate"]
    return payload


def _png() -> FileVar:
    return FileVar(io.BytesIO(PNG), filename="sample.png", content_type="image/png")


async def _collect(session: Any, variables: dict[str, Any], into: list[Any], n: int) -> None:
    async for event in session.subscribe(gql(TEMPLATE_EVENTS), variable_values=variables):
        into.append(event["templateEvents"])
        if len(into) >= n:
            return


async def test_a_template_is_submitted_approved_by_webhook_and_sent_by_a_campaign(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await waba_device(server, fake, owner)
    audience = await contacts(owner, 3, tag="spring", prefix="+1650777")
    seen: list[Any] = []

    async with owner.api.websocket() as session:
        watching = asyncio.create_task(_collect(session, {"deviceId": device.id}, seen, 2))
        await wait_for_subscribers(server, f"org:{owner.organization_id}:templates")
        created = await _create(owner, device, headerSample=_png())
        pending = fake.templates.template(device.waba_id, "order_update")["status"]
        assert await fake.templates.review(device.waba_id, "order_update", "APPROVED") == 200
        await asyncio.wait_for(watching, timeout=20)

    assert created["userErrors"] == []
    template = created["template"]
    assert (template["status"], pending) == ("PENDING", "PENDING")
    assert template["metaId"] == fake.templates.template(device.waba_id, "order_update")["id"]
    [upload] = fake.templates.uploads
    assert (upload.data, upload.file_type) == (PNG, "image/png")
    [submitted] = fake.templates.created
    assert submitted["components"][0] == {
        "type": "HEADER",
        "format": "IMAGE",
        "example": {"header_handle": [upload.handle]},
    }
    assert seen == [
        {
            "kind": "CREATED",
            "status": "PENDING",
            "templateId": template["id"],
            "template": {"name": "order_update"},
        },
        {
            "kind": "STATUS_CHANGED",
            "status": "APPROVED",
            "templateId": template["id"],
            "template": {"name": "order_update"},
        },
    ]

    campaign_template = {
        "name": "order_update",
        "language": "en_US",
        "parameters": ["{{name}}"],
        "header": {"link": "https://cdn.example.com/spring.png"},
        "buttons": [{"index": 0, "subType": "URL", "parameter": "order-{{city}}"}],
    }
    data = await owner.api.data(
        CREATE,
        {
            "input": {
                "name": "Spring",
                "deviceId": device.id,
                "template": campaign_template,
                "tags": ["spring"],
            }
        },
    )
    assert data["createCampaign"]["userErrors"] == []
    campaign_id = data["createCampaign"]["campaign"]["id"]
    await act(owner, "startCampaign", campaign_id)
    await until_status(owner, campaign_id, "COMPLETED", within=60)

    for contact in audience:
        [send] = fake.sends_to(contact.phone_number.removeprefix("+"))
        city = (contact.attributes or {})["city"]
        assert send.body["template"] == {
            "name": "order_update",
            "language": {"code": "en_US"},
            "components": [
                {
                    "type": "header",
                    "parameters": [
                        {"type": "image", "image": {"link": "https://cdn.example.com/spring.png"}}
                    ],
                },
                {"type": "body", "parameters": [{"type": "text", "text": contact.name}]},
                {
                    "type": "button",
                    "sub_type": "url",
                    "index": "0",
                    "parameters": [{"type": "text", "text": f"order-{city}"}],
                },
            ],
        }

    # Meta prices each message in its sent/delivered statuses (each delivery a job of its own,
    # applied in any order): the campaign's cost by category, once every price is in.
    async def priced() -> dict[str, Any] | None:
        stats = (await owner.api.data(STATS, {"id": campaign_id}))["node"]["stats"]
        priced = sum(category["messages"] for category in stats["byCategory"])
        return stats if priced == 3 and stats["read"] == 3 else None

    stats = await eventually(priced, within=30)
    assert stats["byCategory"] == [{"category": "utility", "messages": 3, "billable": 3}]


async def test_a_campaigns_template_values_are_checked_against_the_template(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await waba_device(server, fake, owner)
    await _create(owner, device, headerSample=_png())
    await fake.templates.review(device.waba_id, "order_update", "APPROVED")
    base = {"name": "order_update", "language": "en_US", "parameters": ["{{name}}"]}
    header = {"link": "https://cdn.example.com/a.png"}
    url = {"index": 0, "subType": "URL", "parameter": "x"}

    async def errors(template: dict[str, Any]) -> list[tuple[list[str], str]]:
        data = await owner.api.data(
            CREATE,
            {"input": {"name": "S", "deviceId": device.id, "template": template, "tags": ["t"]}},
        )
        return [(e["field"], e["code"]) for e in data["createCampaign"]["userErrors"]]

    no_header = await errors(base | {"buttons": [url]})
    no_such_button = await errors(base | {"header": header, "buttons": [url, {**url, "index": 5}]})
    wrong_kind = await errors(
        base
        | {
            "header": header,
            "buttons": [url, {"index": 1, "subType": "COPY_CODE", "parameter": "C"}],
        }
    )
    too_many = await errors(base | {"parameters": ["a", "b"], "header": header, "buttons": [url]})
    fine = await errors(base | {"header": header, "buttons": [url]})

    assert no_header == [(["input", "template", "header"], "INVALID")]
    assert no_such_button == [(["input", "template", "buttons", "1", "index"], "INVALID")]
    assert wrong_kind == [(["input", "template", "buttons", "1", "subType"], "INVALID")]
    assert too_many == [(["input", "template", "parameters"], "INVALID")]
    assert fine == []


async def test_a_rejection_says_why_and_a_quality_update_rates_the_template(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await waba_device(server, fake, owner)
    template_id = (await _create(owner, device, headerSample=_png()))["template"]["id"]

    async def once(status: str, quality: str | None = None) -> dict[str, Any]:
        """The template once its webhook is processed (a job)."""

        async def check() -> dict[str, Any] | None:
            node: dict[str, Any] = (await owner.api.data(TEMPLATE, {"id": template_id}))["node"]
            return node if (node["status"], node["qualityRating"]) == (status, quality) else None

        result: dict[str, Any] = await eventually(check)
        return result

    await fake.templates.review(
        device.waba_id, "order_update", "REJECTED", reason="INCORRECT_CATEGORY"
    )
    rejected = await once("REJECTED")
    await fake.templates.review(device.waba_id, "order_update", "APPROVED")
    await once("APPROVED")
    await fake.templates.rate(device.waba_id, "order_update", "YELLOW")
    rated = await once("APPROVED", "YELLOW")
    await fake.templates.review(device.waba_id, "order_update", "PAUSED")
    paused = await once("PAUSED", "YELLOW")
    refused = await owner.api.data(
        SEND,
        {
            "input": {
                "deviceId": device.id,
                "to": unique_phone(),
                "template": {"name": "order_update", "language": "en_US", "parameters": ["A"]},
            }
        },
    )

    assert (rejected["status"], rejected["rejectedReason"]) == ("REJECTED", "INCORRECT_CATEGORY")
    assert (rated["status"], rated["qualityRating"], rated["rejectedReason"]) == (
        "APPROVED",
        "YELLOW",
        None,
    )
    assert paused["status"] == "PAUSED"
    assert [(e["field"], e["code"]) for e in refused["sendMessage"]["userErrors"]] == [
        (["input", "template", "name"], "CONFLICT")
    ]


async def test_a_name_meta_already_has_is_a_user_error_and_nothing_is_kept(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await waba_device(server, fake, owner)
    fake.add_template(device.waba_id, device.token, name="order_update")

    taken = await _create(owner, device, headerSample=_png())
    no_sample = await _create(owner, device, name="other_update")

    assert [(e["field"], e["code"]) for e in taken["userErrors"]] == [(["input", "name"], "TAKEN")]
    assert [(e["field"], e["code"]) for e in no_sample["userErrors"]] == [
        (["input", "components"], "INVALID")
    ]
    assert "header_handle" in no_sample["userErrors"][0]["message"]
    assert await Template.filter(organization_id=owner.organization_id).count() == 0


async def test_a_template_deleted_here_is_deleted_at_meta(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await waba_device(server, fake, owner)
    template_id = (await _create(owner, device, headerSample=_png()))["template"]["id"]

    deleted = await owner.api.data(DELETE_TEMPLATE, {"input": {"templateId": template_id}})
    again = await owner.api.data(DELETE_TEMPLATE, {"input": {"templateId": template_id}})

    assert deleted["deleteTemplate"] == {"deletedTemplateId": template_id, "userErrors": []}
    assert fake.templates.deleted == [(device.waba_id, "order_update")]
    assert (await owner.api.data(TEMPLATE, {"id": template_id}))["node"] is None
    assert [e["code"] for e in again["deleteTemplate"]["userErrors"]] == ["NOT_FOUND"]


async def test_an_authentication_template_sends_a_one_time_code(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await waba_device(server, fake, owner)
    created = await _create(
        owner, device, name="login_code", category="AUTHENTICATION", components=LOGIN_CODE
    )
    await fake.templates.review(device.waba_id, "login_code", "APPROVED")
    to = unique_phone()

    sent = await owner.api.data(
        SEND,
        {
            "input": {
                "deviceId": device.id,
                "to": to,
                "template": {"name": "login_code", "language": "en_US", "oneTimeCode": "482913"},
            }
        },
    )
    status = await status_of(
        owner, sent["sendMessage"]["message"]["id"], "SENT", "DELIVERED", "READ", "FAILED"
    )
    empty_code = await owner.api.data(
        SEND,
        {
            "input": {
                "deviceId": device.id,
                "to": to,
                "template": {"name": "login_code", "language": "pt_BR", "oneTimeCode": ""},
            }
        },
    )

    assert created["userErrors"] == []
    assert sent["sendMessage"]["userErrors"] == []
    assert status["status"] != "FAILED", status
    [send] = fake.sends_to(to.removeprefix("+"))
    assert send.body["template"]["components"] == [
        {"type": "body", "parameters": [{"type": "text", "text": "482913"}]},
        {
            "type": "button",
            "sub_type": "url",
            "index": "0",
            "parameters": [{"type": "text", "text": "482913"}],
        },
    ]
    assert [e["field"] for e in empty_code["sendMessage"]["userErrors"]] == [
        ["input", "template", "oneTimeCode"]
    ]


async def test_a_template_meta_approved_is_sent_while_the_approval_webhook_is_still_due(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await waba_device(server, fake, owner)
    await _create(
        owner, device, name="login_code", category="AUTHENTICATION", components=LOGIN_CODE
    )
    # Meta approved it; its webhook has not arrived: the row here still says PENDING.
    fake.templates.template(device.waba_id, "login_code")["status"] = "APPROVED"
    to = unique_phone()

    sent = await owner.api.data(
        SEND,
        {
            "input": {
                "deviceId": device.id,
                "to": to,
                "template": {"name": "login_code", "language": "en_US", "oneTimeCode": "1234"},
            }
        },
    )
    status = await status_of(owner, sent["sendMessage"]["message"]["id"], "READ", "FAILED")

    assert sent["sendMessage"]["userErrors"] == []
    assert status["status"] == "READ"


async def test_a_header_media_file_must_be_one_of_the_organizations_files(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await waba_device(server, fake, owner)
    await _create(owner, device, headerSample=_png())
    await fake.templates.review(device.waba_id, "order_update", "APPROVED")

    async def send(header: dict[str, Any]) -> dict[str, Any]:
        template = {
            "name": "order_update",
            "language": "en_US",
            "parameters": ["Ana"],
            "header": header,
            "buttons": [{"index": 0, "subType": "URL", "parameter": "1"}],
        }
        variables = {"input": {"deviceId": device.id, "to": unique_phone(), "template": template}}
        return await owner.api.call(SEND, variables)

    unknown = await send({"mediaFileId": to_global_id("MediaFile", 987654)})
    not_a_file = await send({"mediaFileId": device.id})
    both = await send({"link": "https://cdn.example.com/a.png", "text": "x"})

    assert [(e["field"], e["code"]) for e in unknown["data"]["sendMessage"]["userErrors"]] == [
        (["input", "template", "header", "mediaFileId"], "NOT_FOUND")
    ]
    assert not_a_file["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert [e["field"] for e in both["data"]["sendMessage"]["userErrors"]] == [
        ["input", "template", "header"]
    ]
    assert fake.sends == []


async def test_an_uploaded_file_is_a_template_header_sent_by_the_id_meta_gave_it(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    stranger = await member(server, api)
    device = await waba_device(server, fake, owner)
    await _create(owner, device, headerSample=_png())
    await fake.templates.review(device.waba_id, "order_update", "APPROVED")
    image = png(seed=42)
    mine = (await uploaded(owner, image, "parcel.png"))["mediaFile"]
    theirs = (await uploaded(stranger, png(seed=43), "other.png"))["mediaFile"]

    async def send(media_file_id: str, to: str) -> dict[str, Any]:
        template = {
            "name": "order_update",
            "language": "en_US",
            "parameters": ["Ana"],
            "header": {"mediaFileId": media_file_id},
            "buttons": [{"index": 0, "subType": "URL", "parameter": "order/77"}],
        }
        variables = {"input": {"deviceId": device.id, "to": to, "template": template}}
        result: dict[str, Any] = (await owner.api.data(SEND, variables))["sendMessage"]
        return result

    to, again_to = unique_phone(), unique_phone()
    sent = await send(mine["id"], to)
    assert sent["userErrors"] == []
    await status_of(owner, sent["message"]["id"], "SENT", "DELIVERED", "READ")
    again = await send(mine["id"], again_to)
    await status_of(owner, again["message"]["id"], "SENT", "DELIVERED", "READ")
    refused = await send(theirs["id"], unique_phone())

    [meta_upload] = fake.media.uploads  # once for the device, however many sends
    assert meta_upload.data == image
    for number in (to, again_to):
        [message] = fake.sends_to(number.removeprefix("+"))
        assert message.body["template"]["components"][0] == {
            "type": "header",
            "parameters": [{"type": "image", "image": {"id": meta_upload.media_id}}],
        }
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [
        (["input", "template", "header", "mediaFileId"], "NOT_FOUND")
    ]
