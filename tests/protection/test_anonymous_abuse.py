"""What anonymous callers can make the server store or compute (issue 15, items 2 and 3)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis

from app.documents.persisted import document_hash
from app.platform.redis import redis_url
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
        client = aioredis.from_url(redis_url(settings))
        try:
            ttls = [await client.ttl(key) for key in await _apq_keys(settings)]
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
