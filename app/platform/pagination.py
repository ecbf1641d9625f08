"""Page arguments of keyset pagination: ``first``/``after``/``last``/``before``, validated once.

Pages are cut on an indexed, unique, monotonic column (``id`` by default): ``first``/``after``
reads ``id > cursor ORDER BY id LIMIT first + 1``; ``last``/``before`` reads in reverse and
flips the page. The schema turns the rows into a connection (``app.schema.pagination``).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from app.platform.errors import BadUserInput
from app.platform.ids import KEY_MAX, KEY_MIN, urlsafe_b64

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


def encode_cursor(value: int) -> str:
    return urlsafe_b64(f"k:{value}")


def decode_cursor(cursor: str, *, field: str) -> int:
    """The key of ``cursor``; BAD_USER_INPUT naming the argument ``field`` when it is not one
    of ours (a key beyond 64 bits included: no row has it)."""
    try:
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()).decode()
        prefix, _, value = raw.partition(":")
        if prefix != "k":
            raise ValueError(cursor)
        key = int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        key = None
    if key is None or not KEY_MIN <= key <= KEY_MAX:
        raise BadUserInput(f"'{cursor}' is not a valid cursor.", field=[field])
    return key


@dataclass(frozen=True, slots=True)
class PageArgs:
    """Validated ``first``/``after``/``last``/``before``."""

    first: int | None
    after: int | None
    last: int | None
    before: int | None

    @property
    def limit(self) -> int:
        return self.last if self.last is not None else (self.first or DEFAULT_PAGE_SIZE)

    @property
    def backwards(self) -> bool:
        return self.last is not None


def page_args(
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> PageArgs:
    for name, value in (("first", first), ("last", last)):
        if value is not None and not 0 <= value <= MAX_PAGE_SIZE:
            raise BadUserInput(f"`{name}` must be between 0 and {MAX_PAGE_SIZE}.", field=[name])
    if first is not None and last is not None:
        raise BadUserInput("Pass `first` or `last`, not both.", field=["last"])
    if first is None and last is None:
        first = DEFAULT_PAGE_SIZE
    return PageArgs(
        first=first,
        after=decode_cursor(after, field="after") if after else None,
        last=last,
        before=decode_cursor(before, field="before") if before else None,
    )
