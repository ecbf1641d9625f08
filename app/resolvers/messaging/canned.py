"""Canned responses: saved replies an agent finds by shortcut and sends rendered."""

from __future__ import annotations

from tortoise.exceptions import IntegrityError
from tortoise.queryset import QuerySet

from app.messaging import canned_responses
from app.models.inbox import CannedResponse
from app.platform.context import Info
from app.platform.scope import organization_id
from app.platform.user_errors import UserError, UserErrorCode, user_error

MAX_SHORTCUT = 64
MAX_BODY = 4096


def canned(info: Info, search: str | None) -> QuerySet[CannedResponse]:
    """The organization's canned responses; ``search`` matches the start of the shortcut
    (a leading `/` as typed in a composer is ignored), then anywhere in it."""
    queryset = CannedResponse.filter(organization_id=organization_id(info))
    term = (search or "").strip().removeprefix("/").lower()
    if term:
        queryset = queryset.filter(shortcut__icontains=term)
    return queryset


async def create_canned_response(
    info: Info, *, shortcut: str, body: str
) -> tuple[CannedResponse | None, list[UserError]]:
    shortcut = shortcut.strip().removeprefix("/").lower()
    if not 0 < len(shortcut) <= MAX_SHORTCUT or any(c.isspace() for c in shortcut):
        return None, [
            user_error(
                "shortcut",
                f"A shortcut is 1 to {MAX_SHORTCUT} characters without spaces.",
                UserErrorCode.INVALID,
            )
        ]
    if not body.strip() or len(body) > MAX_BODY:
        return None, [
            user_error("body", f"A body is 1 to {MAX_BODY} characters.", UserErrorCode.INVALID)
        ]
    if unknown := canned_responses.unknown_variables(body):
        return None, [
            user_error(
                "body",
                f"Unknown variable(s): {', '.join(unknown)}. Use contact.name, "
                "contact.phoneNumber, agent.name or contact.attributes.<key>.",
                UserErrorCode.INVALID,
            )
        ]
    org_id = organization_id(info)
    viewer = info.context.viewer
    assert viewer is not None
    if await CannedResponse.exists(organization_id=org_id, shortcut=shortcut):
        return None, [user_error("shortcut", "This shortcut is taken.", UserErrorCode.TAKEN)]
    try:
        row = await CannedResponse.create(
            organization_id=org_id, shortcut=shortcut, body=body, created_by_id=viewer.user.id
        )
    except IntegrityError:
        return None, [user_error("shortcut", "This shortcut is taken.", UserErrorCode.TAKEN)]
    return row, []
