"""The fake Graph API's template management: create, list, delete message templates of a
WhatsApp Business Account, the resumable upload API that gives header samples their handle,
and the account webhooks Meta sends about templates and numbers.

    fake.templates.add_waba("waba-1", "token", app_id="app-1", phone_number_ids=["1122"])
    ... createTemplate through Parley ...
    await fake.templates.review("waba-1", "order_update", "APPROVED")

Like graph_api.py it knows nothing of app code: it enforces CLOUD_API.md, strictly.
"""

from __future__ import annotations

import base64
import re
import threading
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

CATEGORIES = ("MARKETING", "UTILITY", "AUTHENTICATION")
NAME_TAKEN = 2388024  # error 100's subcode: "Content in this language already exists"
UNKNOWN_TEMPLATE = 2593002  # error 100's subcode when deleting a template that does not exist
_NAME = re.compile(r"[a-z0-9_]{1,512}")
_VARIABLE = re.compile(r"\{\{\s*(\d+)\s*\}\}")
_MEDIA_FORMATS = ("IMAGE", "VIDEO", "DOCUMENT")
_OTP_TYPES = ("COPY_CODE", "ONE_TAP", "ZERO_TAP")

ErrorFn = Callable[..., JSONResponse]


class _Refused(Exception):
    def __init__(self, details: str, subcode: int | None = None) -> None:
        super().__init__(details)
        self.details, self.subcode = details, subcode


@dataclass
class _Waba:
    token: str
    app_id: str | None
    phone_number_ids: list[str]
    templates: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Upload:
    session: str
    file_name: str
    file_type: str
    data: bytes
    handle: str


class FakeTemplates:
    """Template management state and routes of one FakeGraphApi."""

    def __init__(
        self,
        wabas: dict[str, tuple[str, list[dict[str, Any]]]],
        lock: threading.Lock,
        error: ErrorFn,
        post_webhook: Callable[[str, dict[str, Any]], Awaitable[int | None]],
    ) -> None:
        # The fake's own WABA table ({id: (token, templates)}), shared with its list endpoint.
        self._listing = wabas
        self._lock = lock
        self._error = error
        self._post_webhook = post_webhook  # (phone number id, payload) → HTTP status
        self._wabas: dict[str, _Waba] = {}
        self._sessions: dict[str, tuple[str, int, str, str]] = {}  # id: (token, length, type, name)
        # What the fake saw, for assertions.
        self.created: list[dict[str, Any]] = []
        self.deleted: list[tuple[str, str]] = []  # (waba id, name)
        self.uploads: list[Upload] = []

    def routes(self) -> list[Route]:
        return [
            Route("/{version}/{waba_id}/message_templates", self._create, methods=["POST"]),
            Route("/{version}/{waba_id}/message_templates", self._delete, methods=["DELETE"]),
            Route("/{version}/{app_id}/uploads", self._open_upload, methods=["POST"]),
            Route("/{version}/{session_id}", self._upload, methods=["POST"]),
        ]

    # -- set-up -----------------------------------------------------------------------------

    def add_waba(
        self,
        waba_id: str,
        access_token: str,
        *,
        app_id: str | None = None,
        phone_number_ids: list[str] | None = None,
    ) -> None:
        """A business account callers with ``access_token`` manage; sends from its numbers
        are checked against its templates (unknown or not approved: 132001)."""
        with self._lock:
            listing = self._listing.setdefault(waba_id, (access_token, []))
            self._wabas[waba_id] = _Waba(
                access_token, app_id, list(phone_number_ids or []), listing[1]
            )

    def template(self, waba_id: str, name: str, language: str = "en_US") -> dict[str, Any]:
        with self._lock:
            return next(
                t
                for t in self._wabas[waba_id].templates
                if t["name"] == name and t["language"] == language
            )

    # -- the account webhooks ---------------------------------------------------------------

    async def review(
        self,
        waba_id: str,
        name: str,
        event: str,
        *,
        reason: str | None = None,
        language: str = "en_US",
    ) -> int | None:
        """Meta's verdict: the template's status moves, and a signed
        ``message_template_status_update`` goes to the WABA's first number's webhook."""
        template = self.template(waba_id, name, language)
        with self._lock:
            if event in ("APPROVED", "REJECTED", "PAUSED", "DISABLED", "PENDING"):
                template["status"] = event
            if event == "REJECTED":
                template["rejected_reason"] = reason or "INVALID_FORMAT"
        value = {
            "event": event,
            "message_template_id": int(template["id"]),
            "message_template_name": name,
            "message_template_language": language,
            "reason": reason if event == "REJECTED" else None,
        }
        return await self._account_webhook(waba_id, "message_template_status_update", value)

    async def rate(
        self, waba_id: str, name: str, score: str, *, previous: str = "UNKNOWN"
    ) -> int | None:
        template = self.template(waba_id, name)
        with self._lock:
            template["quality_score"] = {"score": score}
        value = {
            "previous_quality_score": previous,
            "new_quality_score": score,
            "message_template_id": int(template["id"]),
            "message_template_name": name,
            "message_template_language": template["language"],
        }
        return await self._account_webhook(waba_id, "message_template_quality_update", value)

    async def number_quality(
        self, waba_id: str, display_phone_number: str, event: str, current_limit: str
    ) -> int | None:
        value = {
            "display_phone_number": display_phone_number,
            "event": event,
            "current_limit": current_limit,
        }
        return await self._account_webhook(waba_id, "phone_number_quality_update", value)

    async def account_update(
        self, waba_id: str, phone_number: str, event: str, ban_state: str | None = None
    ) -> int | None:
        value: dict[str, Any] = {"phone_number": phone_number, "event": event}
        if ban_state is not None:
            value["ban_info"] = {"waba_ban_state": ban_state, "waba_ban_date": "2026-12-31"}
        return await self._account_webhook(waba_id, "account_update", value)

    async def _account_webhook(self, waba_id: str, kind: str, value: dict[str, Any]) -> int | None:
        payload = {
            "object": "whatsapp_business_account",
            "entry": [{"id": waba_id, "time": 0, "changes": [{"field": kind, "value": value}]}],
        }
        return await self._post_webhook(self._wabas[waba_id].phone_number_ids[0], payload)

    # -- sends ------------------------------------------------------------------------------

    def category_of(self, phone_number_id: str, template: dict[str, Any]) -> str | None:
        """The category of the template a send names, if a WABA of the number has it."""
        for waba in self._wabas.values():
            if phone_number_id in waba.phone_number_ids:
                for known in waba.templates:
                    if known["name"] == template["name"]:
                        return str(known["category"])
        return None

    def check_send(self, phone_number_id: str, template: dict[str, Any]) -> tuple[int, str] | None:
        """A template send from a number of a known WABA: its template must exist and be
        APPROVED (132001), with as many body parameters as its body has variables (132000)."""
        waba = next(
            (w for w in self._wabas.values() if phone_number_id in w.phone_number_ids), None
        )
        if waba is None:
            return None
        language = template["language"]["code"]
        found = next(
            (
                t
                for t in waba.templates
                if t["name"] == template["name"] and t["language"] == language
            ),
            None,
        )
        if found is None or found["status"] != "APPROVED":
            return 132001, f"template name ({template['name']}) does not exist in {language}"
        body = next((c for c in found["components"] if c["type"] == "BODY"), {})
        expected = len(set(_VARIABLE.findall(body.get("text", ""))))
        if found["category"] == "AUTHENTICATION":
            expected = 1
        given = next(
            (c["parameters"] for c in template.get("components", []) if c["type"] == "body"), []
        )
        if len(given) != expected:
            return 132000, f"body: number of localizable_params ({len(given)}) does not match "
        return None

    # -- the Graph API ----------------------------------------------------------------------

    def _waba(self, request: Request) -> _Waba | JSONResponse:
        waba_id = request.path_params["waba_id"]
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        waba = self._wabas.get(waba_id)
        if waba is None:
            return self._error(100, f"Object with ID '{waba_id}' does not exist")
        if waba.token != token:
            return self._error(190)
        return waba

    async def _create(self, request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return self._error(100, "the request body must be JSON")
        with self._lock:
            waba = self._waba(request)
            if isinstance(waba, Response):
                return waba
            try:
                _check_template(body, {u.handle for u in self.uploads})
                if any(
                    t["name"] == body["name"] and t["language"] == body["language"]
                    for t in waba.templates
                ):
                    raise _Refused("Content in this language already exists", NAME_TAKEN)
            except _Refused as refused:
                return _refusal(refused)
            template = {
                "id": str(uuid.uuid4().int % 10**15),
                "name": body["name"],
                "language": body["language"],
                "category": body["category"],
                "status": "PENDING",
                "components": body["components"],
            }
            waba.templates.append(template)
            self.created.append(body)
        return JSONResponse(
            {"id": template["id"], "status": "PENDING", "category": template["category"]}
        )

    async def _delete(self, request: Request) -> Response:
        name = request.query_params.get("name")
        hsm_id = request.query_params.get("hsm_id")
        with self._lock:
            waba = self._waba(request)
            if isinstance(waba, Response):
                return waba
            if not name:
                return self._error(100, "name is required")
            doomed = [
                t
                for t in waba.templates
                if t["name"] == name and (hsm_id is None or t["id"] == hsm_id)
            ]
            if not doomed:
                return _refusal(_Refused("Template not found", UNKNOWN_TEMPLATE))
            for template in doomed:
                waba.templates.remove(template)
            self.deleted.append((request.path_params["waba_id"], name))
        return JSONResponse({"success": True})

    async def _open_upload(self, request: Request) -> Response:
        """``POST /{app-id}/uploads?file_length&file_type&file_name`` → ``{"id": "upload:…"}``."""
        app_id = request.path_params["app_id"]
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        params = request.query_params
        with self._lock:
            if not any(w.app_id == app_id and w.token == token for w in self._wabas.values()):
                return self._error(190)
            try:
                length = int(params.get("file_length", ""))
            except ValueError:
                return self._error(100, "file_length is required")
            file_type = params.get("file_type", "")
            if length <= 0 or file_type not in (
                "image/jpeg",
                "image/png",
                "video/mp4",
                "application/pdf",
            ):
                return self._error(100, "file_length and a supported file_type are required")
            session = "upload:" + base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            self._sessions[session] = (token, length, file_type, params.get("file_name", ""))
        return JSONResponse({"id": session})

    async def _upload(self, request: Request) -> Response:
        """``POST /{upload-session-id}`` with ``Authorization: OAuth``, ``file_offset: 0`` and
        the bytes → ``{"h": "<handle>"}``."""
        session_id = request.path_params["session_id"]
        data = await request.body()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return self._error(100, f"Object with ID '{session_id}' does not exist")
            token, length, file_type, name = session
            if request.headers.get("authorization") != f"OAuth {token}":
                return self._error(190)
            if request.headers.get("file_offset") != "0" or len(data) != length:
                return self._error(100, "file_offset must be 0 and the body file_length bytes")
            handle = "4::" + base64.b64encode(uuid.uuid4().bytes).decode()
            self.uploads.append(Upload(session_id, name, file_type, data, handle))
            del self._sessions[session_id]
        return JSONResponse({"h": handle})


def _refusal(refused: _Refused) -> JSONResponse:
    """Meta's answer to a template it refuses: error 100, what is wrong in error_user_msg."""
    error: dict[str, Any] = {
        "message": "(#100) Invalid parameter",
        "type": "OAuthException",
        "code": 100,
        "error_user_msg": refused.details,
        "error_data": {"messaging_product": "whatsapp", "details": refused.details},
        "fbtrace_id": uuid.uuid4().hex[:20],
    }
    if refused.subcode is not None:
        error["error_subcode"] = refused.subcode
    return JSONResponse({"error": error}, status_code=400)


# -- the contract of a new template, strictly ---------------------------------------------------


def _check_template(body: Any, handles: set[str]) -> None:
    if not isinstance(body, dict) or set(body) - {"name", "language", "category", "components"}:
        raise _Refused("a template is {name, language, category, components}")
    name, category = body.get("name"), body.get("category")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise _Refused("name is lower-case letters, digits and underscores")
    if not isinstance(body.get("language"), str) or category not in CATEGORIES:
        raise _Refused("language and a category (MARKETING, UTILITY, AUTHENTICATION) are required")
    components = body.get("components")
    if not isinstance(components, list) or not all(isinstance(c, dict) for c in components):
        raise _Refused("components must be a list of objects")
    kinds = [str(c.get("type")) for c in components]
    if kinds.count("BODY") != 1 or len(set(kinds)) != len(kinds):
        raise _Refused("a template has one BODY and at most one HEADER, FOOTER and BUTTONS")
    for component in components:
        _COMPONENT_CHECKS.get(str(component["type"]), _unknown)(component, category, handles)


def _unknown(component: dict[str, Any], category: str, handles: set[str]) -> None:
    raise _Refused(f"unknown component type {component.get('type')!r}")


def _only(obj: dict[str, Any], *keys: str) -> None:
    if extra := sorted(set(obj) - {"type", *keys}):
        raise _Refused(f"unexpected parameter {extra[0]} in {obj.get('type')}")


def _examples(text: str, example: Any, key: str) -> None:
    """Every {{n}} of ``text`` needs an example value."""
    count = len(set(_VARIABLE.findall(text)))
    if not count:
        return
    values = example.get(key) if isinstance(example, dict) else None
    if key == "body_text":
        values = values[0] if isinstance(values, list) and values else None
    if not isinstance(values, list) or len(values) != count:
        raise _Refused(f"{count} example value(s) are needed in example.{key}")


def _header(component: dict[str, Any], category: str, handles: set[str]) -> None:
    _only(component, "format", "text", "example")
    kind = component.get("format")
    if kind == "TEXT":
        text = component.get("text")
        if not isinstance(text, str) or not 0 < len(text) <= 60:
            raise _Refused("a TEXT header has a text of at most 60 characters")
        _examples(text, component.get("example"), "header_text")
    elif kind in _MEDIA_FORMATS:
        example = component.get("example")
        given = example.get("header_handle") if isinstance(example, dict) else None
        if not isinstance(given, list) or len(given) != 1 or given[0] not in handles:
            raise _Refused(f"a {kind} header needs example.header_handle from the upload API")
    else:
        raise _Refused("HEADER format is TEXT, IMAGE, VIDEO, DOCUMENT")


def _body(component: dict[str, Any], category: str, handles: set[str]) -> None:
    if category == "AUTHENTICATION":
        _only(component, "add_security_recommendation")
        return
    _only(component, "text", "example")
    text = component.get("text")
    if not isinstance(text, str) or not 0 < len(text) <= 1024:
        raise _Refused("BODY text is 1 to 1024 characters")
    _examples(text, component.get("example"), "body_text")


def _footer(component: dict[str, Any], category: str, handles: set[str]) -> None:
    if category == "AUTHENTICATION":
        _only(component, "code_expiration_minutes")
        return
    _only(component, "text")
    if not isinstance(component.get("text"), str) or len(component["text"]) > 60:
        raise _Refused("FOOTER text is at most 60 characters")


def _buttons(component: dict[str, Any], category: str, handles: set[str]) -> None:
    _only(component, "buttons")
    buttons = component.get("buttons")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 10:
        raise _Refused("BUTTONS has 1 to 10 buttons")
    for button in buttons:
        kind = button.get("type") if isinstance(button, dict) else None
        if (kind == "OTP") != (category == "AUTHENTICATION"):
            raise _Refused("OTP buttons are for AUTHENTICATION templates, and only they")
        if kind == "QUICK_REPLY":
            _only(button, "text")
        elif kind == "URL":
            _only(button, "text", "url", "example")
            url = button.get("url")
            if not isinstance(url, str) or not url.startswith("https://"):
                raise _Refused("a URL button has an https url")
            if _VARIABLE.search(url) and not isinstance(button.get("example"), list):
                raise _Refused("a URL button with a variable needs an example")
        elif kind == "PHONE_NUMBER":
            _only(button, "text", "phone_number")
            if not isinstance(button.get("phone_number"), str):
                raise _Refused("a PHONE_NUMBER button has a phone_number")
        elif kind == "COPY_CODE":
            _only(button, "example")
            if not isinstance(button.get("example"), str):
                raise _Refused("a COPY_CODE button has an example code")
        elif kind == "OTP":
            _only(button, "otp_type", "text", "autofill_text", "package_name", "signature_hash")
            if button.get("otp_type") not in _OTP_TYPES:
                raise _Refused("an OTP button's otp_type is COPY_CODE, ONE_TAP or ZERO_TAP")
        else:
            raise _Refused(f"unknown button type {kind!r}")
        if kind not in ("COPY_CODE", "OTP") and not isinstance(button.get("text"), str):
            raise _Refused(f"a {kind} button has a text")


_COMPONENT_CHECKS: dict[str, Callable[[dict[str, Any], str, set[str]], None]] = {
    "HEADER": _header,
    "BODY": _body,
    "FOOTER": _footer,
    "BUTTONS": _buttons,
}
