"""What anonymous callers can make the server store or compute (issue 15, items 2 and 3)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis

from app.documents.persisted import document_hash
from app.platform.redis import redis_url
from tests.live.support import Socket
from tests.support.accounts import register_user
from tests.support.client import Api
from tests.support.messaging import member
from tests.support.server import make_settings, run_server


def _persisted(sha256: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256}}


async def _apq_keys(settings: Any) -> list[bytes]:
    client = aioredis.from_url(redis_url(settings))
    try:
        return [key async for key in client.scan_iter("parley:apq:*")]
    finally:
        await client.aclose()


async def test_apq_registers_only_valid_documents_a_few_a_minute_for_a_day_at_most(
    tmp_path: Path,
) -> None:
    settings = make_settings(
        tmp_path / "var",
        persisted_query_registrations_per_minute=3,
        persisted_query_max_entries=4,
    )
    junk = "x" * 900_000  # arbitrary text, under the body limit
    invalid = "{ noSuchField }"
    valid = [f"query Valid{n} {{ __typename }}" for n in range(6)]

    async with run_server(settings) as server, httpx.AsyncClient(timeout=60) as http:

        async def send(query: str) -> httpx.Response:
            body = {"query": query, "extensions": _persisted(document_hash(query))}
            return await http.post(server.graphql_url, json=body)

        async def known(query: str) -> bool:
            body = {"extensions": _persisted(document_hash(query))}
            response = await http.post(server.graphql_url, json=body)
            return response.json().get("data") == {"__typename": "Query"}

        junk_answer = await send(junk)
        await send(invalid)
        answers = [await send(query) for query in valid]
        registered = [await known(query) for query in valid]
        # The server's own Redis (run_server gives a test's server one of its own).
        client = aioredis.from_url(redis_url(server.settings))
        try:
            ttls = [await client.ttl(key) for key in await _apq_keys(server.settings)]
        finally:
            await client.aclose()

    assert junk_answer.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    # Every valid query is answered; only the first 3 of the minute are registered.
    assert all(a.json()["data"] == {"__typename": "Query"} for a in answers)
    assert registered == [True, True, True, False, False, False]
    assert 0 < max(ttls) <= 24 * 3600
    assert len(ttls) == 3


async def test_a_full_apq_registry_evicts_its_oldest_entry(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "var", persisted_query_max_entries=2)
    queries = [f"query Kept{n} {{ __typename }}" for n in range(3)]

    async with run_server(settings) as server, httpx.AsyncClient(timeout=60) as http:
        for query in queries:
            await http.post(
                server.graphql_url,
                json={"query": query, "extensions": _persisted(document_hash(query))},
            )
        by_hash = [
            await http.post(
                server.graphql_url, json={"extensions": _persisted(document_hash(query))}
            )
            for query in queries
        ]

    codes = [(r.json().get("errors") or [{}])[0].get("extensions", {}).get("code") for r in by_hash]
    assert codes == ["PERSISTED_QUERY_NOT_FOUND", None, None]


async def test_documents_that_would_cost_seconds_are_refused_within_50_ms_of_cpu(server) -> None:  # type: ignore[no-untyped-def]
    # Each document is new to the server (its name differs), so no cache answers for it.
    def flat(n: int) -> str:  # the issue's: 1,200 repeated selections, 37 KB
        return f"query Flat{n} {{ " + "rateLimit { maximumAvailable } " * 1200 + "}"

    def repeated(n: int) -> str:  # under the byte and token limits; 400 repeats
        return f"query Repeated{n} {{ " + "me { id } " * 400 + "}"

    def spreading(n: int) -> str:  # 2^20 selections once 21 short fragments are expanded
        fragments = " ".join(
            f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(20)
        )
        return f"query Deep{n} {{ ...F0 }} {fragments} fragment F20 on Query {{ __typename }}"

    answers, cpu = [], []
    async with httpx.AsyncClient(timeout=60) as http:
        await http.post(server.graphql_url, json={"query": "{ __typename }"})  # warm up
        for n, document in enumerate([flat, repeated, spreading] * 3):
            started = time.process_time()  # the server runs in this process
            response = await http.post(server.graphql_url, json={"query": document(n)})
            cpu.append(time.process_time() - started)
            answers.append(response.json())

    for answer in answers:
        assert answer["data"] is None
        assert [e["extensions"]["code"] for e in answer["errors"]] == ["QUERY_TOO_COMPLEX"]
    assert "larger than 20000 bytes" in answers[0]["errors"][0]["message"]
    assert "more than 1000" in answers[1]["errors"][0]["message"]
    assert "more than 1000" in answers[2]["errors"][0]["message"]
    assert max(cpu) < 0.05, cpu


def _code_and_message(answer: dict[str, Any]) -> tuple[str, str]:
    error = answer["errors"][0]
    return error["extensions"]["code"], error["message"]


async def test_variables_are_bounded_before_they_are_coerced_tighter_without_a_token(
    server, api
) -> None:  # type: ignore[no-untyped-def]
    # 50,000 ids: ~900 KB, under the body limit; their coercion alone took 50–120 ms.
    ids = "query Ids{n}($ids: [ID!]!) {{ nodes(ids: $ids) {{ id }} }}"
    user = await register_user(api)
    headers = {"Authorization": f"Bearer {user.access_token}"}

    cpu, anonymous = [], []
    async with httpx.AsyncClient(timeout=60) as http:
        await http.post(server.graphql_url, json={"query": "{ __typename }"})  # warm up
        for n in range(3):
            body = {
                "query": ids.format(n=n),
                "variables": {"ids": [f"id{i}" for i in range(50_000)]},
            }
            started = time.process_time()  # the server runs in this process
            response = await http.post(server.graphql_url, json=body)
            cpu.append(time.process_time() - started)
            anonymous.append(response.json())
        long_text = {"query": ids.format(n=9), "variables": {"ids": ["x" * 30_000]}}
        too_long = (await http.post(server.graphql_url, json=long_text)).json()
        # A signed-in caller may send more: 2,000 ids reach the resolver (which takes 100).
        signed_in = (
            await http.post(
                server.graphql_url,
                headers=headers,
                json={"query": ids.format(n=10), "variables": {"ids": ["x"] * 2000}},
            )
        ).json()

    for answer in anonymous:
        assert answer["data"] is None
        assert _code_and_message(answer) == (
            "BAD_USER_INPUT",
            "The variables hold more than 1000 values.",
        )
    assert max(cpu) < 0.05, cpu
    assert _code_and_message(too_long)[0] == "BAD_USER_INPUT"
    assert "more than 20000 characters" in _code_and_message(too_long)[1]
    assert _code_and_message(signed_in) == ("BAD_USER_INPUT", "At most 100 ids at once.")


async def test_a_caller_without_a_token_has_a_tighter_token_limit(server, api) -> None:  # type: ignore[no-untyped-def]
    # ~2,500 tokens in two selections: under the signed-in limit (5,000), over 2,000.
    items = ", ".join('"a"' for _ in range(2500))  # 12.5 KB
    query = f"query ManyTokens {{ nodes(ids: [{items}]) {{ id }} }}"
    user = await register_user(api)

    async with httpx.AsyncClient(timeout=60) as http:
        anonymous = (await http.post(server.graphql_url, json={"query": query})).json()
        signed_in = (
            await http.post(
                server.graphql_url,
                headers={"Authorization": f"Bearer {user.access_token}"},
                json={"query": query},
            )
        ).json()

    assert _code_and_message(anonymous) == (
        "QUERY_TOO_COMPLEX",
        "Syntax Error: Document contains more than 2000 tokens. Parsing aborted.",
    )
    assert _code_and_message(signed_in) == ("BAD_USER_INPUT", "At most 100 ids at once.")


async def test_documents_over_the_limits_are_refused_over_websocket_too(server) -> None:  # type: ignore[no-untyped-def]
    too_large = "subscription Big { " + "messageEvents { __typename } " * 1000 + "}"  # 30 KB
    # A socket signs in at connection_init (4401 without a token): a member's limits apply.
    too_many_tokens = "subscription Tokens { " + "a " * 6000 + "}"  # 12 KB
    repeated = "subscription Repeated { " + "messageEvents { __typename } " * 400 + "}"
    who = await member(server, Api(server.graphql_url))

    socket = await Socket.open(server, who.token)
    try:
        for number, query in enumerate([too_large, too_many_tokens, repeated]):
            await socket.subscribe(str(number), query)
        frames = [await socket.receive() for _ in range(3)]
    finally:
        await socket.close()

    by_id = {frame["id"]: frame for frame in frames}
    messages = []
    for number in ("0", "1", "2"):
        frame = by_id[number]
        assert frame["type"] == "error", frame
        assert [e["extensions"]["code"] for e in frame["payload"]] == ["QUERY_TOO_COMPLEX"]
        messages.append(frame["payload"][0]["message"])
    assert "larger than 20000 bytes" in messages[0]
    assert "more than 5000 tokens" in messages[1]
    assert "more than 1000" in messages[2]
