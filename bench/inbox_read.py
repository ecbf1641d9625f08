"""Inbox read benchmark: SQL statements per request and requests/s of the inbox query.

    .venv/bin/python bench/inbox_read.py [--database-url URL] [--redis-url URL] [--seconds N]

Resets and migrates the database, seeds one organization with 1,000 conversations × 50
messages, then serves, one after the other, each in its own process under the same uvicorn
setup, and loads it from this process with a few keep-alive clients:

- ``shipped``: ``app.http.app.create_app`` as configured for production (cost analysis, budget,
  access log on; the budget made large enough never to throttle the benchmark);
- ``cost off``: the same with ``cost_analysis=False``;
- ``raw floor``: a plain Starlette route running equivalent SQL with asyncpg and answering the
  same JSON with orjson (``bench/inbox_floor.py``).

Statements are counted inside the server process (asyncpg's execute paths) and read back
through a bench-only route, so they include the authentication lookups.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402
import orjson  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_inbox"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/11"
SECRET_KEY = "bench-inbox-read-secret-key-0123456789abcdef"
CONVERSATIONS = 1_000
MESSAGES_PER_CONVERSATION = 50

INBOX_QUERY = """
query Inbox($first: Int!) {
  conversations(first: $first) {
    edges {
      node {
        id status unreadCount lastMessageAt serviceWindowOpen
        contact { id name phoneNumber }
        device { id name }
        assignee { id name }
        messages(last: 10) { edges { node { id direction body status createdAt } } }
      }
    }
  }
}
"""


# --- seeding ---------------------------------------------------------------------------


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


async def reset_database(url: str) -> None:
    dsn = _asyncpg_dsn(url)
    database = dsn.rsplit("/", 1)[1]
    admin = await asyncpg.connect(dsn.rsplit("/", 1)[0] + "/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()


async def seed(url: str) -> tuple[int, int]:
    """One organization, two members, one device, contacts, conversations and messages, with
    set-based INSERTs. Returns (user id, organization id) of the reader."""
    connection = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        async with connection.transaction():
            org_id = await connection.fetchval(
                "INSERT INTO organizations (created_at, updated_at, name, business_hours) "
                "VALUES (now(), now(), 'Bench', '{}') RETURNING id"
            )
            user_ids = [
                await connection.fetchval(
                    "INSERT INTO users (created_at, updated_at, email, name, password_hash, "
                    "is_staff, is_active) VALUES (now(), now(), $1, $2, '', false, true) "
                    "RETURNING id",
                    f"agent{n}@bench.example",
                    f"Agent {n}",
                )
                for n in (1, 2)
            ]
            for user_id in user_ids:
                await connection.execute(
                    "INSERT INTO memberships (created_at, updated_at, role, organization_id, "
                    "user_id) VALUES (now(), now(), 'OWNER', $1, $2)",
                    org_id,
                    user_id,
                )
            device_id = await connection.fetchval(
                "INSERT INTO devices (created_at, updated_at, name, phone_number, provider, "
                "status, messages_per_second, verify_token, organization_id) VALUES (now(), "
                "now(), 'Support', '+16505550000', 'SANDBOX', 'CONNECTED', 80, '', $1) "
                "RETURNING id",
                org_id,
            )
            await connection.execute(
                "INSERT INTO contacts (created_at, updated_at, phone_number, name, tags, "
                "tags_text, attributes, organization_id) "
                "SELECT now(), now(), '+1415' || lpad(g::text, 7, '0'), 'Customer ' || g, "
                "'[]', '', '{}', $1 FROM generate_series(1, $2) AS g",
                org_id,
                CONVERSATIONS,
            )
            # A third unassigned, the rest split between the two members; a spread of
            # last inbound times so that some service windows are open and some closed.
            await connection.execute(
                "INSERT INTO conversations (created_at, updated_at, status, unread_count, "
                "last_inbound_at, last_message_at, ai_enabled, assignee_id, contact_id, "
                "device_id, organization_id) "
                "SELECT now(), now(), (ARRAY['OPEN','PENDING','CLOSED'])[1 + c.id % 3], "
                "c.id % 7, now() - (c.id % 48) * interval '1 hour', now(), false, "
                "CASE c.id % 3 WHEN 0 THEN NULL WHEN 1 THEN $2::bigint ELSE $3::bigint END, "
                "c.id, $4, $1 FROM contacts AS c WHERE c.organization_id = $1 ORDER BY c.id",
                org_id,
                user_ids[0],
                user_ids[1],
                device_id,
            )
            await connection.execute(
                "INSERT INTO messages (created_at, updated_at, direction, type, body, payload, "
                "status, conversation_id, device_id, organization_id, author_user_id) "
                "SELECT now() - (50 - m) * interval '1 minute', now(), "
                "CASE WHEN m % 2 = 0 THEN 'INBOUND' ELSE 'OUTBOUND' END, 'TEXT', "
                "'Message ' || m || ' of conversation ' || c.id, '{}', "
                "CASE WHEN m % 2 = 0 THEN 'RECEIVED' ELSE 'READ' END, c.id, c.device_id, "
                "c.organization_id, CASE WHEN m % 2 = 0 THEN NULL ELSE c.assignee_id END "
                "FROM conversations AS c, generate_series(1, $2) AS m "
                "WHERE c.organization_id = $1 ORDER BY c.id, m",
                org_id,
                MESSAGES_PER_CONVERSATION,
            )
        await connection.execute("ANALYZE")
        return int(user_ids[0]), int(org_id)
    finally:
        await connection.close()


# --- servers ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_settings(database_url: str, redis_url: str, *, cost_analysis: bool) -> Any:
    from app.platform.config import Settings

    return Settings(
        env="production",
        secret_key=SECRET_KEY,
        database_url=database_url,
        redis_url=redis_url,
        run_worker_in_process=False,
        var_dir=Path("/tmp/parley-bench-inbox"),
        cost_analysis=cost_analysis,
        # The inbox query costs 802 (under the shipped maximum of 1,000).
        # Budgets on, but large enough that the benchmark measures work, not throttling.
        cost_budget_maximum=10**12,
        cost_budget_restore_rate=10**9,
        # Request limits on too, high enough not to refuse the benchmark's own load.
        request_limit_user="10000000/minute",
        request_limit_anonymous="10000000/minute",
        log_level="INFO",
    )


def serve(kind: str, port: int, database_url: str, redis_url: str) -> None:
    """Runs in the server process."""
    import uvicorn

    if kind == "raw":
        from bench.inbox_floor import create_floor_app

        app = create_floor_app(database_url)
    else:
        from starlette.routing import Route

        from app.http.app import create_app
        from bench.statement_counter import count_statements, statements_route

        count_statements()
        settings = server_settings(database_url, redis_url, cost_analysis=kind == "shipped")
        app = create_app(settings, extra_routes=[Route("/__bench/statements", statements_route)])
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        lifespan="on",
    )


@dataclass
class Server:
    kind: str
    url: str
    process: subprocess.Popen[bytes]

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far (Linux)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


async def start_server(kind: str, args: argparse.Namespace, log_dir: Path) -> Server:
    port = _free_port()
    log = (log_dir / f"server-{kind.replace(' ', '-')}.log").open("wb")
    command = [sys.executable, __file__, "--serve", kind, "--port", str(port)]
    command += ["--database-url", args.database_url, "--redis-url", args.redis_url]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    server = Server(kind, f"http://127.0.0.1:{port}", process)
    deadline = time.monotonic() + 120
    async with aiohttp.ClientSession() as session:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{kind} server exited; see {log.name}")
            try:
                async with session.get(f"{server.url}/health/live") as response:
                    if response.status == 200:
                        return server
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"{kind} server did not start; see {log.name}")
            await asyncio.sleep(0.1)


# --- measuring -------------------------------------------------------------------------


def graphql_request(server: Server, token: str, first: int) -> tuple[str, dict[str, str], bytes]:
    body = orjson.dumps({"query": INBOX_QUERY, "variables": {"first": first}})
    headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
    return f"{server.url}/graphql", headers, body


def floor_request(server: Server, first: int) -> tuple[str, dict[str, str], bytes]:
    body = orjson.dumps({"first": first})
    return f"{server.url}/inbox", {"content-type": "application/json"}, body


async def fetch_json(request: tuple[str, dict[str, str], bytes]) -> Any:
    url, headers, body = request
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, headers=headers, data=body) as response,
    ):
        assert response.status == 200, (response.status, await response.text())
        return orjson.loads(await response.read())


async def statements_per_request(
    server: Server, request: tuple[str, dict[str, str], bytes]
) -> tuple[int, int]:
    """(statements, pool resets) one request costs the server."""
    async with aiohttp.ClientSession() as session:

        async def counted() -> tuple[int, int]:
            async with session.get(f"{server.url}/__bench/statements") as response:
                counts = await response.json()
                return int(counts["statements"]), int(counts["pool_resets"])

        before = await counted()
        url, headers, body = request
        async with session.post(url, headers=headers, data=body) as response:
            payload = orjson.loads(await response.read())
        assert "errors" not in payload, payload
        after = await counted()
        return after[0] - before[0], after[1] - before[1]


async def load(
    request: tuple[str, dict[str, str], bytes], *, seconds: float, clients: int, max_requests: int
) -> tuple[int, float]:
    """(requests done, seconds taken) by ``clients`` keep-alive clients."""
    url, headers, body = request
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        budget = [max_requests]

        async def client(stop_at: float) -> int:
            done = 0
            while time.perf_counter() < stop_at and budget[0] > 0:
                budget[0] -= 1
                async with session.post(url, headers=headers, data=body) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"HTTP {response.status}")
                done += 1
            return done

        started = time.perf_counter()
        counts = await asyncio.gather(*(client(started + seconds) for _ in range(clients)))
        return sum(counts), time.perf_counter() - started


def _same_shape(graphql: Any, floor: Any) -> bool:
    return bool(graphql["data"] == floor["data"])


async def run(args: argparse.Namespace) -> None:
    from app.platform.migrations import apply_migrations
    from app.platform.security import issue_access_token

    log_dir = Path(args.log_dir)
    os.makedirs(log_dir, exist_ok=True)
    started = time.perf_counter()
    await reset_database(args.database_url)
    await apply_migrations(args.database_url)
    user_id, org_id = await seed(args.database_url)
    seeded = time.perf_counter() - started
    print(
        f"seeded {CONVERSATIONS} conversations × {MESSAGES_PER_CONVERSATION} messages "
        f"in {seeded:.1f} s",
        flush=True,
    )
    import redis.asyncio as aioredis

    client = aioredis.from_url(args.redis_url)
    await client.flushdb()
    await client.aclose()
    settings = server_settings(args.database_url, args.redis_url, cost_analysis=True)
    token, _ = issue_access_token(
        settings, user_id=user_id, organization_id=org_id, ttl_seconds=3600
    )

    kinds = ("shipped", "cost off", "raw")
    servers: dict[str, Server] = {}
    requests: dict[str, tuple[str, dict[str, str], bytes]] = {}
    statements: dict[str, dict[int, tuple[int, int]]] = {}
    bodies: dict[str, Any] = {}
    done = dict.fromkeys(kinds, 0)
    took = dict.fromkeys(kinds, 0.0)
    cpu = dict.fromkeys(kinds, 0.0)
    try:
        for kind in kinds:
            servers[kind] = server = await start_server(kind, args, log_dir)

            def request_for(first: int, server: Server = server, kind: str = kind) -> Any:
                if kind == "raw":
                    return floor_request(server, first)
                return graphql_request(server, token, first)

            requests[kind] = request_for(50)
            bodies[kind] = await fetch_json(requests[kind])
            assert "errors" not in bodies[kind], bodies[kind]["errors"]
            statements[kind] = {
                first: await statements_per_request(server, request_for(first)) for first in (5, 50)
            }
            await load(requests[kind], seconds=1.0, clients=args.clients, max_requests=10**6)
        # Interleaved rounds, so that a change in the machine's load hits all three alike.
        for round_ in range(args.rounds):
            for kind in kinds:
                cpu_before = servers[kind].cpu_seconds()
                n, seconds = await load(
                    requests[kind],
                    seconds=args.seconds / args.rounds,
                    clients=args.clients,
                    max_requests=args.max_requests,
                )
                cpu[kind] += servers[kind].cpu_seconds() - cpu_before
                done[kind] += n
                took[kind] += seconds
            print(f"round {round_ + 1}/{args.rounds} done", flush=True)
    finally:
        for server in servers.values():
            server.stop()
    rates = {kind: done[kind] / took[kind] for kind in kinds}
    cpu_ms = {kind: 1000 * cpu[kind] / done[kind] for kind in kinds}

    edges = len(bodies["shipped"]["data"]["conversations"]["edges"])
    assert edges == 50, edges
    same = _same_shape(bodies["shipped"], bodies["raw"])
    raw = rates["raw"]
    print()
    print(
        f"inbox: conversations(first: N) with contact, device, assignee, messages(last: 10); "
        f"{args.clients} keep-alive clients, {args.seconds:g} s each in {args.rounds} "
        "interleaved rounds, PostgreSQL"
    )
    print(
        f"{'server':<28}{'SQL N=5':>9}{'SQL N=50':>9}{'resets':>8}"
        f"{'requests':>10}{'req/s N=50':>12}{'× raw':>8}{'CPU ms/req':>12}{'× raw':>8}"
    )
    labels = {
        "shipped": "shipped (cost analysis on)",
        "cost off": "cost analysis off",
        "raw": "raw floor (asyncpg+orjson)",
    }
    for kind in ("shipped", "cost off", "raw"):
        counts = statements[kind]
        print(
            f"{labels[kind]:<28}{counts[5][0]:>9}{counts[50][0]:>9}{counts[50][1]:>8}"
            f"{done[kind]:>10}{rates[kind]:>12.1f}{rates[kind] / raw:>8.3f}"
            f"{cpu_ms[kind]:>12.2f}{cpu_ms['raw'] / cpu_ms[kind]:>8.3f}"
        )
    cost_share = 1 - rates["shipped"] / rates["cost off"]
    cpu_share = 1 - cpu_ms["cost off"] / cpu_ms["shipped"]
    print(
        f"cost analysis costs {cost_share:.1%} of throughput, {cpu_share:.1%} of the server's "
        "CPU time per request (shipped vs cost off)"
    )
    print(
        "CPU ms/req: the server process's own CPU time per request (PostgreSQL's and Redis's "
        "not included); its ratio holds when other work on the machine skews requests/s"
    )
    print(
        "SQL: statements per request, authentication included; resets: asyncpg pool resets "
        "(a round trip each time a connection goes back to the pool) at N=50"
    )
    print(f"GraphQL data identical to the raw floor's: {'yes' if same else 'NO'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument(
        "--seconds", type=float, default=15.0, help="Measuring time per server, all rounds."
    )
    parser.add_argument("--rounds", type=int, default=3, help="Interleaved measuring rounds.")
    parser.add_argument("--clients", type=int, default=4, help="Concurrent keep-alive clients.")
    parser.add_argument("--max-requests", type=int, default=100_000, help="Per server.")
    parser.add_argument("--log-dir", default="/tmp/parley-bench-inbox")
    parser.add_argument("--serve", choices=("shipped", "cost off", "raw"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.database_url, args.redis_url)
    else:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
