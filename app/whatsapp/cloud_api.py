"""The provider that speaks Meta's WhatsApp Cloud API (contract: CLOUD_API.md)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import IO, Any

import httpx
import structlog

from app.whatsapp.errors import FailureReason, ProviderError
from app.whatsapp.http_pool import pooled_client
from app.whatsapp.payloads import build_mark_read_body, build_send_body, build_typing_body
from app.whatsapp.types import OutboundMessage, SendResult

DEFAULT_BASE_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v21.0"

log = structlog.get_logger("parley.whatsapp")

Sleep = Callable[[float], Awaitable[None]]

_HEADERS = {"User-Agent": "parley", "Accept": "application/json"}

# What syncTemplates reads of each template (Meta's default fields leave out quality and reason).
_TEMPLATE_FIELDS = "id,name,status,category,language,components,quality_score,rejected_reason"
# Meta's answers to a template name already used for the language (error 100 / 192 family).
TEMPLATE_NAME_TAKEN = frozenset({2388023, 2388024, 2388025})

# Failing to connect means the request never left, so even a send is safe to repeat.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded in-call retries; anything longer belongs to the job queue, not a held request."""

    max_attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    # A caller that paces its own sends (campaigns) retries a 130429 at a slot of its limiter:
    # a retry here would go out between the slots and crowd the second it lands in.
    rate_limited_inline: bool = True

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (counting from 1)."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        # Half fixed, half jitter: spreads a burst of 429s without ever retrying at once.
        delay = ceiling / 2 + random.uniform(0, ceiling / 2)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_delay))
        return delay


class _Secret:
    """Keeps the token out of reprs, tracebacks with locals, and log lines."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'***'"


class CloudApiProvider:
    def __init__(
        self,
        *,
        phone_number_id: str,
        access_token: str,
        base_url: str = DEFAULT_BASE_URL,
        api_version: str = DEFAULT_API_VERSION,
        client: httpx.AsyncClient | None = None,
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.phone_number_id = phone_number_id
        self.base_url = base_url.rstrip("/")
        self.api_version = api_version if api_version.startswith("v") else f"v{api_version}"
        self.retry = retry or RetryPolicy()
        self._token = _Secret(access_token)
        self._client = client
        self._sleep = sleep
        # Parsed once: every send goes to it.
        self._url = httpx.URL(f"{self.base_url}/{self.api_version}/{phone_number_id}/messages")

    def __repr__(self) -> str:
        return (
            f"CloudApiProvider(phone_number_id={self.phone_number_id!r}, "
            f"base_url={self.base_url!r}, api_version={self.api_version!r})"
        )

    async def send(self, message: OutboundMessage) -> SendResult:
        data = await self._post(build_send_body(message), idempotent=False)
        provider_message_id = _first(data, "messages", "id")
        if provider_message_id is None:
            # Meta accepted something, so repeating the call could send it twice.
            raise ProviderError(
                "Graph API answered the send without a message id",
                failure=FailureReason.UNKNOWN,
                retryable=False,
                http_status=200,
            )
        return SendResult(provider_message_id, _first(data, "contacts", "wa_id"))

    async def verify(self) -> dict[str, Any]:
        """Check the access token reaches this phone number id: ``GET /{phone-number-id}``.

        Returns what Meta says of the number (``display_phone_number``, ``verified_name``, ...);
        raises ProviderError (190: bad token; 100: an id this token cannot see).
        """
        return await self._request(
            "GET",
            f"{self.base_url}/{self.api_version}/{self.phone_number_id}",
            params={"fields": "id,display_phone_number,verified_name,quality_rating"},
            idempotent=True,
        )

    async def list_templates(self, waba_id: str) -> list[dict[str, Any]]:
        """Every message template of a WhatsApp Business Account, following Meta's paging."""
        url: str | None = f"{self.base_url}/{self.api_version}/{waba_id}/message_templates"
        params: dict[str, Any] | None = {"fields": _TEMPLATE_FIELDS, "limit": 100}
        templates: list[dict[str, Any]] = []
        while url is not None:
            data = await self._request("GET", url, params=params, idempotent=True)
            page = data.get("data")
            templates += [t for t in page if isinstance(t, dict)] if isinstance(page, list) else []
            paging = data.get("paging")
            following = paging.get("next") if isinstance(paging, dict) else None
            # The token only ever goes to the Graph API, whatever a response says.
            same_host = isinstance(following, str) and following.startswith(self.base_url + "/")
            url, params = (following, None) if same_host else (None, None)
        return templates

    async def mark_read(self, provider_message_id: str) -> None:
        await self._post(build_mark_read_body(provider_message_id), idempotent=True)

    # -- media (CLOUD_API.md, "Media (detail)") ---------------------------------------------

    async def upload_media(self, file: IO[bytes], mime_type: str, file_name: str) -> str:
        """``POST /{phone-number-id}/media`` (multipart: file, type, messaging_product): the
        file streams from ``file``; returns Meta's media id, usable for 30 days. Too large or
        an unsupported type is 131053 (not retryable)."""
        client = self._client or pooled_client(self.base_url)
        url = f"{self.base_url}/{self.api_version}/{self.phone_number_id}/media"
        try:
            response = await client.post(
                url,
                data={"messaging_product": "whatsapp", "type": mime_type},
                files={"file": (file_name, file, mime_type)},
                headers=self._auth_headers(),
                timeout=httpx.Timeout(30.0, write=300.0),
            )
        except httpx.TransportError as exc:
            raise ProviderError(
                f"{type(exc).__name__} while uploading media to the Graph API",
                failure=FailureReason.TRANSIENT,
                retryable=True,
            ) from exc
        if response.status_code >= 400:
            raise self._error_from(response)
        media_id = _json_object(response).get("id")
        if not isinstance(media_id, str) or not media_id:
            raise ProviderError(
                "Graph API answered the media upload without an id",
                failure=FailureReason.UNKNOWN,
                retryable=True,
                http_status=response.status_code,
            )
        return media_id

    async def media_info(self, media_id: str) -> dict[str, Any]:
        """``GET /{media-id}`` → ``{url, mime_type, sha256, file_size, id}``; the url works for
        5 minutes, with this token."""
        return await self._request(
            "GET", f"{self.base_url}/{self.api_version}/{media_id}", idempotent=True
        )

    async def download_media(self, url: str, sink: IO[bytes], *, max_bytes: int) -> int:
        """GET a media url (from ``media_info``) with the token, streaming into ``sink``;
        returns the byte count. An expired url (Meta answers 404 or 401) or a transport error
        is retryable: ask ``media_info`` for a fresh url."""
        if not url.startswith(("https://", self.base_url + "/")):
            raise ProviderError(
                "the media url is not https", failure=FailureReason.UNKNOWN, retryable=False
            )
        client = self._client or pooled_client(self.base_url)
        size = 0
        try:
            async with client.stream("GET", url, headers=self._auth_headers()) as response:
                if response.status_code >= 400:
                    await response.aread()
                    error = self._error_from(response)
                    raise ProviderError(
                        f"media download answered HTTP {response.status_code}: "
                        f"{error.details or error.message}",
                        failure=FailureReason.TRANSIENT,
                        retryable=True,
                        http_status=response.status_code,
                        code=error.code,
                    )
                async for chunk in response.aiter_bytes(256 * 1024):
                    size += len(chunk)
                    if size > max_bytes:
                        raise ProviderError(
                            f"the media is larger than {max_bytes} bytes",
                            failure=FailureReason.UNKNOWN,
                            retryable=False,
                        )
                    sink.write(chunk)
        except httpx.TransportError as exc:
            raise ProviderError(
                f"{type(exc).__name__} while downloading media",
                failure=FailureReason.TRANSIENT,
                retryable=True,
            ) from exc
        return size

    def _auth_headers(self) -> httpx.Headers:
        return httpx.Headers({"Authorization": f"Bearer {self._token.reveal()}", **_HEADERS})

    async def send_typing(self, provider_message_id: str) -> None:
        await self._post(build_typing_body(provider_message_id), idempotent=True)

    async def create_template(self, waba_id: str, template: dict[str, Any]) -> dict[str, Any]:
        """Submit a template for review: ``{"id", "status", "category"}``. A name taken for the
        language is a ProviderError whose ``subcode`` is in TEMPLATE_NAME_TAKEN."""
        return await self._request(
            "POST", self._graph(waba_id, "message_templates"), json=template, idempotent=False
        )

    async def delete_template(self, waba_id: str, name: str, meta_id: str | None) -> None:
        """Delete a template (every language of ``name``; with ``hsm_id`` only that one)."""
        params = {"name": name} | ({"hsm_id": meta_id} if meta_id else {})
        await self._request(
            "DELETE", self._graph(waba_id, "message_templates"), params=params, idempotent=True
        )

    async def upload_sample(self, app_id: str, data: bytes, mime_type: str, file_name: str) -> str:
        """Meta's resumable upload: open a session on the app, send the bytes at offset 0, and
        get the handle a template's media header names as its example (``header_handle``)."""
        session = await self._request(
            "POST",
            self._graph(app_id, "uploads"),
            params={"file_length": len(data), "file_type": mime_type, "file_name": file_name},
            idempotent=False,
        )
        session_id = session.get("id")
        if not isinstance(session_id, str) or not session_id.startswith("upload:"):
            raise ProviderError(
                "Graph API opened no upload session",
                failure=FailureReason.UNKNOWN,
                retryable=False,
            )
        uploaded = await self._request(
            "POST",
            self._graph(session_id),
            content=data,
            headers={"file_offset": "0", "Content-Type": mime_type},
            scheme="OAuth",
            idempotent=True,
        )
        handle = uploaded.get("h")
        if not isinstance(handle, str) or not handle:
            raise ProviderError(
                "Graph API answered the upload without a handle",
                failure=FailureReason.UNKNOWN,
                retryable=False,
            )
        return handle

    def _graph(self, *parts: str) -> str:
        return "/".join([self.base_url, self.api_version, *parts])

    async def close(self) -> None:
        # Nothing owned: an injected client belongs to the caller, the shared one to the pool.
        return None

    async def _post(self, body: dict[str, Any], *, idempotent: bool) -> dict[str, Any]:
        return await self._request("POST", self._url, json=body, idempotent=idempotent)

    async def _request(
        self,
        method: str,
        url: str | httpx.URL,
        *,
        idempotent: bool,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        scheme: str = "Bearer",
    ) -> dict[str, Any]:
        attempt = 0
        while True:
            attempt += 1
            retry_after: float | None = None
            client = self._client or pooled_client(self.base_url)
            try:
                # Built here rather than by client.request: a campaign sends a thousand a second,
                # and merging the client's defaults into each request cost more than the send.
                response = await client.send(
                    httpx.Request(
                        method,
                        url,
                        json=json,
                        params=params,
                        content=content,
                        # httpx.Headers masks Authorization in its repr, so tracebacks that show
                        # locals (rich, sentry) print "[secure]" instead of the token.
                        headers=httpx.Headers(
                            {
                                "Authorization": f"{scheme} {self._token.reveal()}",
                                **_HEADERS,
                                **(headers or {}),
                            }
                        ),
                        extensions={"timeout": client.timeout.as_dict()},
                    )
                )
            except httpx.TransportError as exc:
                error = ProviderError(
                    f"{type(exc).__name__} while calling the Graph API",
                    failure=FailureReason.TRANSIENT,
                    retryable=True,
                )
                if not idempotent and not isinstance(exc, _NOT_SENT):
                    # The request may have reached Meta: retrying here could deliver it twice,
                    # so let the caller decide (it can check for a status webhook first).
                    raise error from exc
            else:
                if response.status_code < 400:
                    return _json_object(response)
                error = self._error_from(response)
                retry_after = _retry_after(response)

            # A pair rate limit lasts longer than a held request should wait: hand it back.
            inline = error.retryable and error.failure is not FailureReason.PAIR_RATE_LIMITED
            if error.failure is FailureReason.RATE_LIMITED and not self.retry.rate_limited_inline:
                inline = False
            if not inline or attempt >= self.retry.max_attempts:
                raise error
            delay = self.retry.delay(attempt, retry_after)
            log.warning(
                "whatsapp.cloud_api.retry",
                phone_number_id=self.phone_number_id,
                failure=str(error.failure),
                code=error.code,
                http_status=error.http_status,
                attempt=attempt,
                delay=round(delay, 3),
            )
            await self._sleep(delay)

    def _error_from(self, response: httpx.Response) -> ProviderError:
        status = response.status_code
        payload = _json_object(response, strict=False)
        error = payload.get("error")
        if not isinstance(error, dict):
            return ProviderError.from_code(
                f"HTTP {status} from the Graph API", code=None, http_status=status
            )
        code, subcode = error.get("code"), error.get("error_subcode")
        data = error.get("error_data")
        details = data.get("details") if isinstance(data, dict) else None
        # Template management answers carry what went wrong in error_user_msg.
        details = details or error.get("error_user_msg")
        return ProviderError.from_code(
            self._scrub(str(error.get("message") or f"HTTP {status}")),
            code=code if isinstance(code, int) else None,
            http_status=status,
            details=self._scrub(details) if isinstance(details, str) else None,
            subcode=subcode if isinstance(subcode, int) else None,
        )

    def _scrub(self, text: str) -> str:
        token = self._token.reveal()
        return text.replace(token, "***") if token else text


def _json_object(response: httpx.Response, *, strict: bool = True) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        return data
    if strict:
        raise ProviderError(
            f"Graph API answered HTTP {response.status_code} with a body that is not a JSON object",
            failure=FailureReason.UNKNOWN,
            retryable=False,
            http_status=response.status_code,
        )
    return {}


def _first(data: dict[str, Any], key: str, field: str) -> str | None:
    """``data[key][0][field]`` when the response has that shape."""
    items = data.get(key)
    first = items[0] if isinstance(items, list) and items else None
    value = first.get(field) if isinstance(first, dict) else None
    return value if isinstance(value, str) else None


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["retry-after"])
    except (KeyError, ValueError):
        return None
