"""Relay global ids and cursors: the one codec.

A global id is ``base64url("<TypeName>:<primary key>")``: opaque to clients, decodable here.
An id that is not one, names another type, or holds a number beyond 64 bits is BAD_USER_INPUT
naming the argument it came in.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence

import strawberry

from app.platform.errors import BadUserInput


def to_global_id(type_name: str, pk: int) -> strawberry.ID:
    # strawberry.ID is a NewType: the string itself at run time (no call for each id).
    return urlsafe_b64(f"{type_name}:{pk}")  # type: ignore[return-value]


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def urlsafe_b64(text: str) -> str:
    """``base64.urlsafe_b64encode`` without padding, in fewer calls: every id and cursor of a
    page goes through it (~1,900 on an inbox page)."""
    return (
        binascii.b2a_base64(text.encode(), newline=False).translate(_URLSAFE).decode().rstrip("=")
    )


# Primary keys are signed 64-bit integers in both databases: a larger number in an id or a
# cursor can name no row, and would fail in the driver instead.
KEY_MIN, KEY_MAX = -(2**63), 2**63 - 1

ArgumentPath = str | Sequence[str | int]


def argument_path(field: ArgumentPath) -> list[str | int]:
    """``"deviceId"`` (an argument) → ``["deviceId"]``; a path, e.g. ``("input", "deviceId")``,
    as it is."""
    return [field] if isinstance(field, str) else list(field)


class InvalidId(BadUserInput):
    """Not an id of the kind the argument takes; ``field`` is the argument's path."""

    def __init__(self, global_id: str, field: ArgumentPath, expected_type: str | None) -> None:
        kind = f"a {expected_type} id" if expected_type else "a valid id"
        super().__init__(f"'{global_id}' is not {kind}.", field=argument_path(field))


class KeyOutOfRange(InvalidId):
    """An id whose number does not fit 64 bits: no row has it, whatever its type."""


def from_global_id(global_id: str, *, field: ArgumentPath = "id") -> tuple[str, int]:
    """The type name and primary key of ``global_id``."""
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        type_name, _, key = base64.urlsafe_b64decode(padded.encode()).decode().partition(":")
        pk = int(key)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidId(global_id, field, None) from None
    if not KEY_MIN <= pk <= KEY_MAX:
        raise KeyOutOfRange(global_id, field, None)
    return type_name, pk


def decode_id(global_id: str, expected_type: str, *, field: ArgumentPath = "id") -> int:
    """The primary key of ``global_id``, which must name an ``expected_type``.

    Anything else (not an id, another type's id, a number beyond 64 bits) is BAD_USER_INPUT
    naming ``field``, the argument's path: ``("input", "deviceId")`` in a mutation,
    ``"deviceId"`` for a field's argument. Whether the id names a visible object is the
    caller's question (NOT_FOUND).
    """
    try:
        type_name, pk = from_global_id(global_id, field=field)
    except InvalidId as error:
        raise type(error)(global_id, field, expected_type) from None
    if type_name != expected_type:
        raise InvalidId(global_id, field, expected_type)
    return pk
