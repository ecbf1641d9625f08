"""``UserError`` and ``UserErrorCode`` declared for the schema.

The classes are plain data in ``app.platform.user_errors`` (resolvers and the domain build
them); declared here in place, they are the very objects the payloads carry.
"""

from __future__ import annotations

import strawberry

from app.platform.user_errors import UserError, UserErrorCode, user_error

strawberry.enum(UserErrorCode, description="Why a mutation did not do what was asked.")
strawberry.type(UserError, description="An expected failure of a mutation, shown to the user.")

_FIELD_DESCRIPTIONS = {
    "field": 'Path to the input field at fault, e.g. `["input", "email"]`.',
    "message": "What went wrong, in a sentence.",
    "code": "A stable code to branch on.",
}
for _field in UserError.__strawberry_definition__.fields:  # type: ignore[attr-defined]
    _field.description = _FIELD_DESCRIPTIONS[_field.python_name]

__all__ = ["UserError", "UserErrorCode", "user_error"]
