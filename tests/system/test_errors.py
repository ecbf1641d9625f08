from __future__ import annotations

from pathlib import Path

import httpx
import strawberry

from tests.support.server import make_settings, run_server


@strawberry.type
class _BrokenQuery:
    @strawberry.field
    def explode(self) -> str:
        raise RuntimeError("database password is hunter2")


async def test_a_resolver_that_raises_is_masked_with_a_trace_id_that_is_in_the_log(
    tmp_path: Path,
    log_lines,  # type: ignore[no-untyped-def]
) -> None:
    # Its own embedded Redis; the database is the suite's (one SQL dialect per test process).
    settings = make_settings(tmp_path / "var", redis_url=None)

    async with (
        run_server(settings, extra_query_types=[_BrokenQuery]) as server,
        httpx.AsyncClient() as http,
    ):
        response = await http.post(server.graphql_url, json={"query": "{ explode }"})

    body = response.json()
    assert response.status_code == 200
    error = body["errors"][0]
    assert error["message"] == "Internal server error."
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "hunter2" not in response.text and "Traceback" not in response.text
    trace_id = error["extensions"]["traceId"]
    logged = [e for e in log_lines.events() if e.get("trace_id") == trace_id]
    assert len(logged) == 1
    assert "RuntimeError" in logged[0]["exception"]
    # Logged once, with the id the client got: no second line with an id nobody saw.
    unhandled = [e for e in log_lines.events() if e.get("event") == "unhandled_error"]
    assert [e["trace_id"] for e in unhandled] == [trace_id]
