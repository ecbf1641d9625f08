"""Frames of the two WebSocket protocols, graphql-transport-ws and the legacy graphql-ws.

Both the sockets (:mod:`app.live.connection`) and the groups (:mod:`app.live.groups`) write
them, so they live beneath both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class Dialect:
    """The frames that differ between the two WebSocket protocols."""

    next_type: str
    keepalive_frame: str
    # graphql-transport-ws errors are a list; graphql-ws sends one error object.
    errors_as_list: bool
    # graphql-ws clients have no message to answer `ka` with; see LiveSocket.silent_for.
    client_answers_keepalive: bool

    def error_frame(self, operation_id: str, errors: list[Any]) -> str:
        payload = errors if self.errors_as_list else errors[0]
        return orjson.dumps({"id": operation_id, "type": "error", "payload": payload}).decode()


TRANSPORT_WS = Dialect(
    "next", '{"type":"ping"}', errors_as_list=True, client_answers_keepalive=True
)
LEGACY_WS = Dialect("data", '{"type":"ka"}', errors_as_list=False, client_answers_keepalive=False)


def complete_frame(operation_id: str) -> str:
    return orjson.dumps({"id": operation_id, "type": "complete"}).decode()
