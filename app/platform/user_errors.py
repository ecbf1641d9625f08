"""Expected failures of a mutation, as resolvers and the domain hand them back.

Plain data: ``app.schema.user_errors`` declares these very classes as the GraphQL
``UserError`` and ``UserErrorCode``, so nothing below the schema imports a schema type and no
answer is copied from one class into another.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class UserErrorCode(Enum):
    INVALID = "INVALID"
    REQUIRED = "REQUIRED"
    NOT_FOUND = "NOT_FOUND"
    TAKEN = "TAKEN"
    FORBIDDEN = "FORBIDDEN"
    CONFLICT = "CONFLICT"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
    AI_NOT_CONFIGURED = "AI_NOT_CONFIGURED"
    # The organization's plan does not include the feature (the message names both).
    FEATURE_NOT_IN_PLAN = "FEATURE_NOT_IN_PLAN"


@dataclass
class UserError:
    field: list[str] | None
    message: str
    code: UserErrorCode


def user_error(field: str | list[str] | None, message: str, code: UserErrorCode) -> UserError:
    path = None if field is None else ["input", field] if isinstance(field, str) else field
    return UserError(field=path, message=message, code=code)
