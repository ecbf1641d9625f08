"""The Cloud API provider's media calls against the fake Graph API: upload, retrieve,
download, and Meta's errors (131053, an expired url, another number's token)."""

from __future__ import annotations

import hashlib
import io
from collections.abc import AsyncIterator, Iterator

import pytest

from app.whatsapp.cloud_api import CloudApiProvider
from app.whatsapp.http_pool import close_shared_clients
from app.whatsapp.types import FailureReason, ProviderError
from tests.fakes.graph_api import FakeGraphApi

PHONE_NUMBER_ID, TOKEN = "2233445566", "EAAG-media-token"
OTHER_NUMBER_ID, OTHER_TOKEN = "6655443322", "EAAG-other-media-token"


@pytest.fixture(autouse=True)
async def _close_pooled_clients() -> AsyncIterator[None]:
    yield
    await close_shared_clients()


@pytest.fixture(scope="module")
def graph_api() -> Iterator[FakeGraphApi]:
    with FakeGraphApi() as fake:
        fake.register(PHONE_NUMBER_ID, TOKEN)
        fake.register(OTHER_NUMBER_ID, OTHER_TOKEN)
        yield fake


@pytest.fixture
def fake(graph_api: FakeGraphApi) -> FakeGraphApi:
    graph_api.reset()
    return graph_api


def provider(
    fake: FakeGraphApi, phone_number_id: str = PHONE_NUMBER_ID, token: str = TOKEN
) -> CloudApiProvider:
    return CloudApiProvider(
        base_url=fake.base_url, phone_number_id=phone_number_id, access_token=token
    )


async def test_an_upload_gets_an_id_whose_url_serves_the_same_bytes(fake: FakeGraphApi) -> None:
    data = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    media_id = await provider(fake).upload_media(io.BytesIO(data), "image/png", "a.png")

    [uploaded] = fake.media.uploads
    assert (uploaded.media_id, uploaded.mime_type, uploaded.data) == (media_id, "image/png", data)
    info = await provider(fake).media_info(media_id)
    assert info["sha256"] == hashlib.sha256(data).hexdigest()
    assert info["file_size"] == len(data)
    sink = io.BytesIO()
    size = await provider(fake).download_media(info["url"], sink, max_bytes=10**6)
    assert (size, sink.getvalue()) == (len(data), data)


async def test_meta_refuses_a_file_too_large_or_of_a_type_it_does_not_take(
    fake: FakeGraphApi,
) -> None:
    too_large = io.BytesIO(b"\xff\xd8\xff" + b"\x00" * (5 * 1024 * 1024))
    with pytest.raises(ProviderError) as refused:
        await provider(fake).upload_media(too_large, "image/jpeg", "big.jpg")
    assert (refused.value.code, refused.value.retryable) == (131053, False)
    assert refused.value.failure is FailureReason.UNSUPPORTED

    with pytest.raises(ProviderError) as refused:
        await provider(fake).upload_media(
            io.BytesIO(b"MZ\x90"), "application/x-msdownload", "a.exe"
        )
    assert refused.value.code == 131053
    assert fake.media.uploads == []


async def test_an_expired_url_is_retryable_and_another_numbers_token_is_refused(
    fake: FakeGraphApi,
) -> None:
    stored = fake.media.add_inbound(PHONE_NUMBER_ID, b"OggS voice", "audio/ogg")
    fake.media.expire_next_urls(1)
    info = await provider(fake).media_info(stored.media_id)
    with pytest.raises(ProviderError) as expired:
        await provider(fake).download_media(info["url"], io.BytesIO(), max_bytes=10**6)
    assert (expired.value.retryable, expired.value.http_status) == (True, 404)
    assert "expired" in expired.value.message

    fresh = await provider(fake).media_info(stored.media_id)
    sink = io.BytesIO()
    await provider(fake).download_media(fresh["url"], sink, max_bytes=10**6)
    assert sink.getvalue() == b"OggS voice"
    with pytest.raises(ProviderError):
        await provider(fake).download_media(fresh["url"], io.BytesIO(), max_bytes=4)

    with pytest.raises(ProviderError) as refused:
        await provider(fake, OTHER_NUMBER_ID, OTHER_TOKEN).media_info(stored.media_id)
    assert refused.value.code == 100
