from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum(description="Why a mutation did not do what was asked.")
class UserErrorCode(Enum):
    INVALID = "INVALID"
    REQUIRED = "REQUIRED"
    NOT_FOUND = "NOT_FOUND"
    TAKEN = "TAKEN"
    FORBIDDEN = "FORBIDDEN"
    CONFLICT = "CONFLICT"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
    AI_NOT_CONFIGURED = "AI_NOT_CONFIGURED"


@strawberry.type(description="An expected failure of a mutation, shown to the user.")
class UserError:
    field: list[str] | None = strawberry.field(
        description='Path to the input field at fault, e.g. `["input", "email"]`.'
    )
    message: str = strawberry.field(description="What went wrong, in a sentence.")
    code: UserErrorCode = strawberry.field(description="A stable code to branch on.")


def user_error(field: str | list[str] | None, message: str, code: UserErrorCode) -> UserError:
    path = None if field is None else ["input", field] if isinstance(field, str) else field
    return UserError(field=path, message=message, code=code)
