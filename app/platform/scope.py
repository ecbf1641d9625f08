"""The one place a messaging read or write learns which organization it is confined to."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from app.platform.context import Info
from app.platform.errors import Forbidden, Unauthenticated

T = TypeVar("T")


def organization_id(info: Info) -> int:
    viewer = info.context.viewer
    if viewer is None:
        raise Unauthenticated()
    if viewer.organization_id is None:
        raise Forbidden("You are not a member of any organization.")
    return viewer.organization_id


def in_organization(rows: Iterable[T | None], org_id: int) -> list[T | None]:
    """Rows of another organization look exactly like rows that do not exist."""
    return [row if row is not None and _org_of(row) == org_id else None for row in rows]


def _org_of(row: Any) -> int:
    return int(row.organization_id)
