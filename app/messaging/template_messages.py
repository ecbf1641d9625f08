"""A template message's values (body parameters, header, buttons, a one-time code), checked
against the template's components and shaped into the payload the providers send.

sendMessage and campaigns share this: the same input, the same checks, the same payload. The
payload (``app.whatsapp.payloads``) holds ``parameters`` (the body's), ``header`` (Meta's header
parameter object) and ``buttons`` (``{"index", "sub_type", "parameter"}``); the provider turns
them into Meta's components in that order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from app.messaging.media import meta_media_id
from app.models.media import MediaFile
from app.models.messaging import Device, Template, body_variables
from app.platform.config import Settings
from app.whatsapp.errors import FailureReason, ProviderError

MEDIA_FORMATS = ("IMAGE", "VIDEO", "DOCUMENT")
BUTTON_SUB_TYPES = ("URL", "QUICK_REPLY", "COPY_CODE")
AUTHENTICATION = "AUTHENTICATION"
_VARIABLE = re.compile(r"\{\{\s*\w+\s*\}\}")
# Which template button a send's sub type fills: an OTP button is sent as a URL button.
_FILLS = {"URL": ("URL", "OTP"), "QUICK_REPLY": ("QUICK_REPLY",), "COPY_CODE": ("COPY_CODE",)}


@dataclass(frozen=True)
class HeaderValue:
    """Exactly one of: the text header's variable, a media link, a media file (its pk)."""

    text: str | None = None
    link: str | None = None
    media_file_id: int | None = None


@dataclass(frozen=True)
class ButtonValue:
    index: int
    sub_type: str  # URL, QUICK_REPLY or COPY_CODE
    parameter: str


@dataclass(frozen=True)
class TemplateValues:
    parameters: list[str] = field(default_factory=list)
    header: HeaderValue | None = None
    buttons: list[ButtonValue] = field(default_factory=list)
    one_time_code: str | None = None


@dataclass(frozen=True)
class Problem:
    """What is wrong, and where in the template input (``["header", "link"]``)."""

    path: list[str | int]
    message: str


@dataclass(frozen=True)
class Shape:
    """What a template's components ask a send for."""

    category: str
    header_format: str | None  # TEXT, IMAGE, VIDEO, DOCUMENT, LOCATION; None: no header
    header_variable: bool  # a TEXT header with a {{1}}
    body_variables: int
    buttons: list[tuple[str, bool]]  # (type, takes a parameter) per index

    @classmethod
    def of(cls, template: Template) -> Shape:
        header: dict[str, Any] = {}
        buttons: list[tuple[str, bool]] = []
        for component in template.components or []:
            if not isinstance(component, dict):
                continue
            kind = str(component.get("type", "")).upper()
            if kind == "HEADER":
                header = component
            elif kind == "BUTTONS":
                for button in component.get("buttons") or []:
                    if isinstance(button, dict):
                        buttons.append(_button_shape(button))
        header_format = str(header.get("format", "TEXT")).upper() if header else None
        variables = len(body_variables(template.components))
        category = template.category.upper()
        if category == AUTHENTICATION:
            variables = max(variables, 1)  # Meta's fixed body: "{{1}} is your code."
        return cls(
            category=category,
            header_format=header_format,
            header_variable=header_format == "TEXT"
            and bool(_VARIABLE.search(str(header.get("text", "")))),
            body_variables=variables,
            buttons=buttons,
        )


def _button_shape(button: dict[str, Any]) -> tuple[str, bool]:
    kind = str(button.get("type", "")).upper()
    if kind == "URL":
        return kind, bool(_VARIABLE.search(str(button.get("url", ""))))
    if kind == "OTP":
        # Copy-code and one-tap OTP buttons both carry the code as a URL parameter.
        return kind, True
    return kind, kind in ("QUICK_REPLY", "COPY_CODE")


def check(template: Template | None, values: TemplateValues) -> list[Problem]:
    """Why ``values`` cannot fill ``template`` (None: a template not known here, e.g. Meta's
    ``hello_world``, only the values' own shape is checked)."""
    problems = _own_problems(values)
    if template is None or problems:
        return problems
    shape = Shape.of(template)
    if values.one_time_code is not None and shape.category != AUTHENTICATION:
        return [Problem(["oneTimeCode"], "Only AUTHENTICATION templates send a one-time code.")]
    filled = fill(values, shape)
    if len(filled.parameters) != shape.body_variables:
        problems.append(
            Problem(
                ["parameters"],
                f"The template takes {shape.body_variables} parameter(s), "
                f"{len(filled.parameters)} given.",
            )
        )
    problems += _header_problems(shape, filled.header)
    problems += _button_problems(shape, filled.buttons)
    return problems


def _own_problems(values: TemplateValues) -> list[Problem]:
    problems: list[Problem] = []
    header = values.header
    if header is not None:
        given = [v for v in (header.text, header.link, header.media_file_id) if v is not None]
        if len(given) != 1:
            problems.append(Problem(["header"], "Give one of `text`, `link` or `mediaFileId`."))
        elif header.link is not None and not header.link.startswith(("https://", "http://")):
            problems.append(Problem(["header", "link"], "A header link is an http(s) URL."))
    seen: set[int] = set()
    for position, button in enumerate(values.buttons):
        if button.sub_type not in BUTTON_SUB_TYPES:
            problems.append(
                Problem(["buttons", position, "subType"], "URL, QUICK_REPLY or COPY_CODE.")
            )
        if button.index in seen or not 0 <= button.index < 10:
            problems.append(
                Problem(["buttons", position, "index"], "Each button index once, from 0 to 9.")
            )
        seen.add(button.index)
        if not button.parameter.strip():
            problems.append(Problem(["buttons", position, "parameter"], "Give the parameter."))
    if values.one_time_code is not None and not values.one_time_code.strip():
        problems.append(Problem(["oneTimeCode"], "Give the code."))
    return problems


def _header_problems(shape: Shape, header: HeaderValue | None) -> list[Problem]:
    if shape.header_format in MEDIA_FORMATS:
        if header is None or header.text is not None:
            kind = shape.header_format.lower()
            return [
                Problem(
                    ["header"], f"The template's {kind} header needs a `link` or a `mediaFileId`."
                )
            ]
        return []
    if shape.header_variable:
        if header is None or header.text is None:
            return [Problem(["header", "text"], "The template's header takes a text parameter.")]
        return []
    if header is not None:
        return [Problem(["header"], "The template's header takes no parameter.")]
    return []


def _button_problems(shape: Shape, buttons: Sequence[ButtonValue]) -> list[Problem]:
    problems: list[Problem] = []
    for position, button in enumerate(buttons):
        if button.index >= len(shape.buttons):
            problems.append(
                Problem(
                    ["buttons", position, "index"],
                    f"The template has {len(shape.buttons)} button(s); there is no button "
                    f"{button.index}.",
                )
            )
            continue
        kind, takes = shape.buttons[button.index]
        if kind not in _FILLS[button.sub_type]:
            problems.append(
                Problem(
                    ["buttons", position, "subType"],
                    f"Button {button.index} is a {kind} button.",
                )
            )
        elif not takes:
            problems.append(
                Problem(
                    ["buttons", position, "parameter"],
                    f"Button {button.index} takes no parameter (its URL has no variable).",
                )
            )
    given = {button.index for button in buttons}
    for index, (kind, takes) in enumerate(shape.buttons):
        if takes and kind in ("URL", "OTP") and index not in given:
            problems.append(Problem(["buttons"], f"Button {index} ({kind}) needs a parameter."))
    return problems


def fill(values: TemplateValues, shape: Shape | None) -> TemplateValues:
    """The values with a one-time code spread where AUTHENTICATION templates take it: the
    body's parameter and the OTP (URL) button's."""
    code = values.one_time_code
    if code is None:
        return values
    index = 0
    if shape is not None:
        index = next((i for i, (kind, _) in enumerate(shape.buttons) if kind == "OTP"), 0)
    buttons = [b for b in values.buttons if b.index != index]
    return TemplateValues(
        parameters=[code],
        header=values.header,
        buttons=sorted([*buttons, ButtonValue(index, "URL", code)], key=lambda b: b.index),
    )


def header_parameter(
    header_format: str,
    *,
    text: str | None = None,
    link: str | None = None,
    media_id: str | None = None,
) -> dict[str, Any]:
    """Meta's header parameter: ``{"type": "text", "text"}``, or a media header by ``link`` or
    by Meta's media ``id`` (``{"type": "image", "image": {"id": "…"}}``)."""
    if text is not None:
        return {"type": "text", "text": text}
    kind = header_format.lower()
    return {"type": kind, kind: {"link": link} if link is not None else {"id": media_id}}


def payload(
    name: str, language: str, values: TemplateValues, template: Template | None
) -> dict[str, Any]:
    """The stored payload of a template message (``app.whatsapp.payloads`` sends it)."""
    shape = Shape.of(template) if template is not None else None
    values = fill(values, shape)
    result: dict[str, Any] = {"name": name, "language": language}
    if values.parameters:
        result["parameters"] = list(values.parameters)
    if values.header is not None:
        result["header"] = stored_header(values.header, shape)
    if values.buttons:
        result["buttons"] = [
            {"index": b.index, "sub_type": b.sub_type.lower(), "parameter": b.parameter}
            for b in values.buttons
        ]
    return result


def stored_header(header: HeaderValue, shape: Shape | None) -> dict[str, Any]:
    header_format = (shape.header_format if shape else None) or "TEXT"
    if header.media_file_id is not None:
        # Meta needs its own media id: the send job uploads the file and puts it in
        # with header_parameter(format, media_id=…).
        return {"type": header_format.lower(), "media_file_id": header.media_file_id}
    return header_parameter(header_format, text=header.text, link=header.link)


def header_format_needed(values: TemplateValues, template: Template | None) -> Problem | None:
    """A media header can only be sent when the template says which kind of media it is."""
    header = values.header
    if header is None or header.text is not None or template is not None:
        return None
    return Problem(
        ["header"],
        "A media header needs the template known here (createTemplate or syncTemplates), "
        "which says whether it is an image, a video or a document.",
    )


class MediaHeaders:
    """Puts Meta's media id into a template payload whose header names one of Parley's files
    (``stored_header`` keeps ``{"type": "image", "media_file_id": pk}``): the file is uploaded
    to Meta once per device (``meta_media_id``) and remembered here for the sender's life, so a
    campaign asks once for all its recipients."""

    def __init__(self, settings: Settings, device: Device) -> None:
        self.settings = settings
        self.device = device
        self._resolved: dict[int, dict[str, Any]] = {}

    async def __call__(self, payload: dict[str, Any]) -> dict[str, Any]:
        header = payload.get("header")
        if not isinstance(header, dict) or "media_file_id" not in header:
            return payload
        pk = int(header["media_file_id"])
        if pk not in self._resolved:
            media_file = await MediaFile.get_or_none(id=pk)
            if media_file is None:
                raise ProviderError(
                    "the template header's file was deleted before the send",
                    failure=FailureReason.TEMPLATE_ERROR,
                    retryable=False,
                )
            media_id = await meta_media_id(self.settings, self.device, media_file)
            self._resolved[pk] = header_parameter(str(header["type"]), media_id=media_id)
        return {**payload, "header": self._resolved[pk]}
