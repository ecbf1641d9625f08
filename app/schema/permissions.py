"""Declarative permissions for fields and mutations.

    @strawberry.field(permission_classes=[HasRole(Role.ADMIN)])

``IsAuthenticated`` answers UNAUTHENTICATED; a role that is too low answers FORBIDDEN.
"""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from app.models.accounts import Role
from app.platform.context import Info
from app.platform.errors import Forbidden, Unauthenticated


class IsAuthenticated(BasePermission):
    message = "You must be signed in."

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        if info.context.viewer is None:
            raise Unauthenticated()
        return True


class RolePermission(IsAuthenticated):
    minimum: Role

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        super().has_permission(source, info, **kwargs)
        viewer = info.context.viewer
        assert viewer is not None
        if viewer.role is None or not viewer.role.at_least(self.minimum):
            raise Forbidden(f"This needs the {self.minimum.value} role or higher.")
        return True


_ROLE_PERMISSIONS: dict[Role, type[BasePermission]] = {}


def HasRole(minimum: Role) -> type[BasePermission]:  # reads as a class at the use site
    """A permission class requiring at least ``minimum`` in the current organization."""
    permission = _ROLE_PERMISSIONS.get(minimum)
    if permission is None:
        permission = type(
            f"HasRole{minimum.value.title()}", (RolePermission,), {"minimum": minimum}
        )
        _ROLE_PERMISSIONS[minimum] = permission
    return permission


class IsStaff(IsAuthenticated):
    """Parley's own operators (``parley createsuperuser``): plans and subscriptions."""

    message = "Only staff may do this."

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        super().has_permission(source, info, **kwargs)
        viewer = info.context.viewer
        assert viewer is not None
        if not viewer.user.is_staff:
            raise Forbidden(self.message)
        return True
