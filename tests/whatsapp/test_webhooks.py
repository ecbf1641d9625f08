import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from app.whatsapp.errors import FailureReason
from app.whatsapp.types import DeliveryStatus, InboundType
from app.whatsapp.webhooks import (
    MalformedWebhook,
    SignatureResult,
    parse_webhook,
    parse_webhook_body,
    verify_challenge,
    verify_signature,
)

SECRET = "app-secret"
PHONE_NUMBER_ID = "1122334455"


def envelope(value: dict[str, Any], field: str = "messages") -> dict[str, Any]:
    metadata = {"display_phone_number": "15550001111", "phone_number_id": PHONE_NUMBER_ID}
    full_value = {"messaging_product": "whatsapp", "metadata": metadata} | value
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "WABA1", "changes": [{"field": field, "value": full_value}]}],
    }


def inbound(message: dict[str, Any], name: str = "Ana") -> dict[str, Any]:
    contact = {"profile": {"name": name}, "wa_id": "16505555555"}
    common = {"from": "16505555555", "id": "wamid.in1", "timestamp": "1697043223"}
    return envelope({"contacts": [contact], "messages": [common | message]})


def signature(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_signature_made_with_the_app_secret_is_valid() -> None:
    body = b'{"object":"whatsapp_business_account"}'

    assert verify_signature(SECRET, body, signature(body)) is SignatureResult.VALID


def test_missing_signature_header_is_reported_as_missing() -> None:
    assert verify_signature(SECRET, b"{}", None) is SignatureResult.MISSING
    assert verify_signature(SECRET, b"{}", "") is SignatureResult.MISSING


@pytest.mark.parametrize(
    "header",
    [
        signature(b"{}", secret="another-secret"),
        signature(b'{"tampered": true}'),
        signature(b"{}").replace("sha256=", "sha1="),
        "sha256=",
        "garbage",
        "sha256=ü",
    ],
)
def test_wrong_or_malformed_signature_is_invalid(header: str) -> None:
    assert verify_signature(SECRET, b"{}", header) is SignatureResult.INVALID


def test_an_empty_app_secret_never_validates() -> None:
    assert verify_signature("", b"{}", signature(b"{}", secret="")) is SignatureResult.INVALID


def test_subscription_challenge_is_echoed_only_for_the_right_token() -> None:
    params = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": "tok"}

    assert verify_challenge(params, "tok") == "1158201444"
    assert verify_challenge(params, "other") is None
    assert verify_challenge(params | {"hub.mode": "unsubscribe"}, "tok") is None
    assert verify_challenge({"hub.mode": "subscribe", "hub.verify_token": "tok"}, "tok") is None


def test_inbound_text_is_parsed_with_sender_profile_and_utc_time() -> None:
    payload = inbound({"type": "text", "text": {"body": "Hi"}})

    [message] = parse_webhook(payload).messages

    assert message.phone_number_id == PHONE_NUMBER_ID
    assert message.from_wa_id == "16505555555"
    assert message.profile_name == "Ana"
    assert message.provider_message_id == "wamid.in1"
    assert message.timestamp == datetime(2023, 10, 11, 16, 53, 43, tzinfo=UTC)
    assert (message.type, message.text) == (InboundType.TEXT, "Hi")
    assert message.raw["text"] == {"body": "Hi"}


def test_inbound_image_carries_its_media_reference_and_caption() -> None:
    image = {"mime_type": "image/jpeg", "sha256": "abc=", "id": "media-1", "caption": "Look"}

    [message] = parse_webhook(inbound({"type": "image", "image": image})).messages

    assert message.type is InboundType.IMAGE
    assert message.media is not None
    assert (message.media.id, message.media.mime_type, message.media.sha256) == (
        "media-1",
        "image/jpeg",
        "abc=",
    )
    assert message.text == "Look"


def test_button_reply_is_parsed_with_the_message_it_answers() -> None:
    payload = inbound(
        {
            "type": "interactive",
            "interactive": {"type": "button_reply", "button_reply": {"id": "yes", "title": "Yes"}},
            "context": {"from": "15550001111", "id": "wamid.out1"},
        }
    )

    [message] = parse_webhook(payload).messages

    assert message.type is InboundType.INTERACTIVE
    assert message.reply is not None
    assert (message.reply.id, message.reply.title, message.text) == ("yes", "Yes", "Yes")
    assert message.context_message_id == "wamid.out1"


def test_list_reply_keeps_the_row_description() -> None:
    row = {"id": "p1", "title": "Margherita", "description": "Classic"}
    payload = inbound(
        {"type": "interactive", "interactive": {"type": "list_reply", "list_reply": row}}
    )

    [message] = parse_webhook(payload).messages

    assert message.reply is not None
    assert message.reply.description == "Classic"


def test_reaction_and_location_are_parsed() -> None:
    reaction = inbound({"type": "reaction", "reaction": {"message_id": "wamid.out1", "emoji": "❤️"}})
    location = inbound(
        {"type": "location", "location": {"latitude": 38.7, "longitude": -9.1, "name": "Shop"}}
    )

    [reacted] = parse_webhook(reaction).messages
    [located] = parse_webhook(location).messages

    assert reacted.reaction is not None
    assert (reacted.reaction.message_id, reacted.reaction.emoji) == ("wamid.out1", "❤️")
    assert located.location is not None
    assert (located.location.latitude, located.location.name) == (38.7, "Shop")


def test_unknown_message_type_becomes_unsupported_and_keeps_the_raw_payload() -> None:
    payload = inbound({"type": "poll", "poll": {"question": "?"}, "brand_new_field": True})

    [message] = parse_webhook(payload).messages

    assert message.type is InboundType.UNSUPPORTED
    assert message.raw["poll"] == {"question": "?"}
    assert message.content == {"unsupported_type": "poll", "errors": []}
    assert message.text == "Unsupported message"


def test_failed_status_carries_error_and_callback_data() -> None:
    status = {
        "id": "wamid.out1",
        "status": "failed",
        "timestamp": "1698266945",
        "recipient_id": "16505555555",
        "biz_opaque_callback_data": "msg:42",
        "errors": [
            {
                "code": 131026,
                "title": "Message undeliverable",
                "message": "Message undeliverable",
                "error_data": {"details": "Recipient is not a WhatsApp user"},
            }
        ],
        "conversation": {"id": "c1", "origin": {"type": "utility"}},
    }

    [update] = parse_webhook(envelope({"statuses": [status]})).statuses

    assert (update.provider_message_id, update.status) == ("wamid.out1", DeliveryStatus.FAILED)
    assert update.phone_number_id == PHONE_NUMBER_ID
    assert update.recipient_id == "16505555555"
    assert update.biz_opaque_callback_data == "msg:42"
    assert (update.error_code, update.error_title) == (131026, "Message undeliverable")
    assert update.error_message == "Recipient is not a WhatsApp user"
    assert update.failure is FailureReason.UNDELIVERABLE


def test_unusable_items_are_skipped_without_losing_the_rest() -> None:
    good = {"id": "wamid.ok", "status": "read", "timestamp": "1698266945"}
    statuses = [
        good,
        {"status": "sent"},
        {"id": "wamid.x", "status": "deleted", "timestamp": "1"},
        7,
    ]

    batch = parse_webhook(envelope({"statuses": statuses, "messages": [{"type": "text"}]}))

    assert [s.provider_message_id for s in batch.statuses] == ["wamid.ok"]
    assert batch.messages == ()


def test_changes_for_other_fields_are_ignored() -> None:
    payload = envelope({"event": "APPROVED"}, field="message_template_status_update")

    batch = parse_webhook(payload)

    assert (batch.messages, batch.statuses) == ((), ())


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"object": "page", "entry": []},
        {"object": "whatsapp_business_account"},
        {"object": "whatsapp_business_account", "entry": [{"id": "1"}]},
        {"object": "whatsapp_business_account", "entry": [{"changes": ["x"]}]},
        {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages"}]}]},
        envelope({"metadata": {}}),
    ],
)
def test_a_body_that_is_not_the_envelope_is_malformed(payload: Any) -> None:
    with pytest.raises(MalformedWebhook):
        parse_webhook(payload)


def test_raw_body_that_is_not_json_is_malformed() -> None:
    with pytest.raises(MalformedWebhook):
        parse_webhook_body(b"\xff not json")


def test_raw_body_is_parsed_like_the_decoded_payload() -> None:
    raw = json.dumps(inbound({"type": "text", "text": {"body": "Hi"}})).encode()

    batch = parse_webhook_body(raw)

    assert [m.text for m in batch.messages] == ["Hi"]
