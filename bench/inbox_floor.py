"""The raw floor of the inbox benchmark: a plain Starlette route, SQL through asyncpg, orjson.

It answers ``POST /inbox {"first": N}`` with exactly the ``data`` the GraphQL inbox query
returns, so the two can be compared byte for byte: what the GraphQL server costs on top of
this is the price of the stack.
"""

from __future__ import annotations

import base64
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.statement_counter import count_statements, statements_route

_CONVERSATIONS = """
SELECT cv.id, cv.status, cv.unread_count, cv.last_message_at, cv.last_inbound_at,
       ct.id AS contact_id, ct.name AS contact_name, ct.phone_number AS contact_phone,
       d.id AS device_id, d.name AS device_name, u.id AS assignee_id, u.name AS assignee_name
FROM conversations AS cv
JOIN contacts AS ct ON ct.id = cv.contact_id
JOIN devices AS d ON d.id = cv.device_id
LEFT JOIN users AS u ON u.id = cv.assignee_id
WHERE cv.organization_id = $1
ORDER BY cv.id
LIMIT $2
"""

_LAST_MESSAGES = """
SELECT m.conversation_id, m.id, m.direction, m.body, m.status, m.created_at
FROM unnest($1::bigint[]) AS c(id)
CROSS JOIN LATERAL (
    SELECT id, conversation_id, direction, body, status, created_at
    FROM messages WHERE conversation_id = c.id ORDER BY id DESC LIMIT $2
) AS m
"""

_WINDOW = timedelta(hours=24)


def _gid(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def create_floor_app(database_url: str) -> Starlette:
    state: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(
            database_url.replace("postgres://", "postgresql://", 1), min_size=1, max_size=5
        )
        async with pool:
            state["pool"] = pool
            state["organization_id"] = await pool.fetchval(
                "SELECT id FROM organizations ORDER BY id LIMIT 1"
            )
            yield

    async def inbox(request: Request) -> Response:
        first = int(orjson.loads(await request.body())["first"])
        async with state["pool"].acquire() as connection:
            conversations = await connection.fetch(_CONVERSATIONS, state["organization_id"], first)
            messages = await connection.fetch(
                _LAST_MESSAGES, [row["id"] for row in conversations], 10
            )
        by_conversation: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for m in messages:  # latest first in each conversation
            by_conversation[m["conversation_id"]].append(
                {
                    "node": {
                        "id": _gid("Message", m["id"]),
                        "direction": m["direction"],
                        "body": m["body"],
                        "status": m["status"],
                        "createdAt": m["created_at"],
                    }
                }
            )
        now = datetime.now(UTC)
        edges = []
        for c in conversations:
            inbound = c["last_inbound_at"]
            assignee_id = c["assignee_id"]
            edges.append(
                {
                    "node": {
                        "id": _gid("Conversation", c["id"]),
                        "status": c["status"],
                        "unreadCount": c["unread_count"],
                        "lastMessageAt": c["last_message_at"],
                        "serviceWindowOpen": inbound is not None and now - inbound < _WINDOW,
                        "contact": {
                            "id": _gid("Contact", c["contact_id"]),
                            "name": c["contact_name"],
                            "phoneNumber": c["contact_phone"],
                        },
                        "device": {"id": _gid("Device", c["device_id"]), "name": c["device_name"]},
                        "assignee": None
                        if assignee_id is None
                        else {"id": _gid("User", assignee_id), "name": c["assignee_name"]},
                        "messages": {"edges": by_conversation[c["id"]][::-1]},
                    }
                }
            )
        body = orjson.dumps({"data": {"conversations": {"edges": edges}}})
        return Response(body, media_type="application/json")

    async def live(request: Request) -> Response:
        return Response(b"ok")

    count_statements()
    return Starlette(
        routes=[
            Route("/inbox", inbox, methods=["POST"]),
            Route("/health/live", live),
            Route("/__bench/statements", statements_route),
        ],
        lifespan=lifespan,
    )
