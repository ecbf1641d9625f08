from typing import Any

import pytest

from app.whatsapp.errors import FailureReason, ProviderError
from app.whatsapp.payloads import build_send_body, check_send_body
from app.whatsapp.types import MessageType, OutboundMessage


def test_a_plain_type_string_and_a_plus_prefixed_number_are_accepted() -> None:
    message = OutboundMessage("+16505555555", "text", {"body": "Hi"})  # type: ignore[arg-type]

    body = build_send_body(message)

    assert (body["to"], body["type"], body["text"]) == (
        "16505555555",
        "text",
        {"body": "Hi", "preview_url": False},
    )


def test_template_parameters_join_the_header_and_button_components_given() -> None:
    header = {
        "type": "header",
        "parameters": [{"type": "image", "image": {"link": "https://a.b/c.png"}}],
    }
    payload = {
        "name": "promo",
        "language": "en",
        "components": [header],
        "parameters": ["Ana", "10%"],
    }

    body = build_send_body(OutboundMessage("16505555555", MessageType.TEMPLATE, payload))

    assert body["template"]["components"] == [
        header,
        {
            "type": "body",
            "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "10%"}],
        },
    ]


def test_template_header_and_buttons_become_metas_components_in_order() -> None:
    payload = {
        "name": "spring",
        "language": "en_US",
        "buttons": [
            {"index": 1, "sub_type": "copy_code", "parameter": "SPRING20"},
            {"index": 2, "sub_type": "quick_reply", "parameter": "stop"},
        ],
        "parameters": ["Ana"],
        "header": {"type": "document", "document": {"id": "4490"}},
    }

    body = build_send_body(OutboundMessage("16505555555", MessageType.TEMPLATE, payload))

    assert body["template"]["components"] == [
        {"type": "header", "parameters": [{"type": "document", "document": {"id": "4490"}}]},
        {"type": "body", "parameters": [{"type": "text", "text": "Ana"}]},
        {
            "type": "button",
            "sub_type": "copy_code",
            "index": "1",
            "parameters": [{"type": "coupon_code", "coupon_code": "SPRING20"}],
        },
        {
            "type": "button",
            "sub_type": "quick_reply",
            "index": "2",
            "parameters": [{"type": "payload", "payload": "stop"}],
        },
    ]


@pytest.mark.parametrize(
    "payload",
    [
        {"header": {"type": "image", "media_file_id": 7}},  # not uploaded to Meta yet
        {"header": {"type": "sticker", "sticker": {"id": "1"}}},
        {"buttons": [{"index": 0, "sub_type": "phone", "parameter": "x"}]},
        {"buttons": [{"index": "0", "sub_type": "url", "parameter": "x"}]},
        {"buttons": [{"index": 0, "sub_type": "copy_code", "parameter": "x" * 16}]},
    ],
)
def test_a_template_header_or_button_meta_would_refuse_is_refused(
    payload: dict[str, Any],
) -> None:
    message = OutboundMessage(
        "16505555555", MessageType.TEMPLATE, {"name": "t", "language": "en"} | payload
    )

    with pytest.raises(ProviderError):
        build_send_body(message)


@pytest.mark.parametrize(
    ("kind", "payload", "to"),
    [
        (MessageType.TEXT, {}, "16505555555"),
        (MessageType.TEXT, {"body": "Hi"}, "not-a-number"),
        (MessageType.TEXT, {"body": "x" * 4097}, "16505555555"),
        (MessageType.IMAGE, {"id": "1", "link": "https://a.b/c.png"}, "16505555555"),
        (MessageType.IMAGE, {"link": "ftp://a.b/c.png"}, "16505555555"),
        (MessageType.TEMPLATE, {"name": "welcome"}, "16505555555"),
        (
            MessageType.TEMPLATE,
            {"name": "x", "language": "en", "parameters": ["a"], "components": [{"type": "body"}]},
            "16505555555",
        ),
        (MessageType.LOCATION, {"latitude": 91, "longitude": 0}, "16505555555"),
        (MessageType.REACTION, {"message_id": "wamid.x"}, "16505555555"),
        (
            MessageType.INTERACTIVE,
            {"body": "Pick", "buttons": [{"id": str(i), "title": "t"} for i in range(4)]},
            "16505555555",
        ),
        (MessageType.INTERACTIVE, {"body": "Pick"}, "16505555555"),
        ("carrier_pigeon", {}, "16505555555"),
    ],
)
def test_payloads_meta_would_reject_are_refused_as_invalid_parameters(
    kind: Any, payload: dict[str, Any], to: str
) -> None:
    with pytest.raises(ProviderError) as caught:
        build_send_body(OutboundMessage(to, kind, payload))

    assert (caught.value.failure, caught.value.retryable) == (
        FailureReason.INVALID_PARAMETER,
        False,
    )


def test_a_file_still_to_be_uploaded_is_checked_without_metas_id() -> None:
    document = OutboundMessage(
        "16505555555", MessageType.DOCUMENT, {"caption": "Menu", "filename": "menu.pdf"}
    )
    header = {"type": "image", "media_file_id": 7}
    template = OutboundMessage(
        "16505555555", MessageType.TEMPLATE, {"name": "promo", "language": "en", "header": header}
    )

    check_send_body(document, upload_pending=True)
    check_send_body(template, upload_pending=True)

    with pytest.raises(ProviderError, match="needs exactly one of `id` or `link`"):
        check_send_body(document)
    with pytest.raises(ProviderError, match="needs Meta's `image` object"):
        check_send_body(template)


def test_a_file_still_to_be_uploaded_is_refused_for_what_meta_would_refuse_besides() -> None:
    bad_caption = OutboundMessage("16505555555", MessageType.IMAGE, {"caption": 7})
    location_header = OutboundMessage(
        "16505555555",
        MessageType.TEMPLATE,
        {"name": "promo", "language": "en", "header": {"type": "location", "media_file_id": 7}},
    )

    with pytest.raises(ProviderError, match="caption"):
        check_send_body(bad_caption, upload_pending=True)
    with pytest.raises(ProviderError, match="text, image, video or document"):
        check_send_body(location_header, upload_pending=True)
