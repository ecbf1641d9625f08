"""Anonymous abuse benchmark (issue 15, item 3): what hostile documents cost the server.

    .venv/bin/python bench/abuse.py                  # 10 s idle probe, 10 s under attack
    .venv/bin/python bench/abuse.py --seconds 5      # quicker

One API process as shipped (uvicorn, uvloop, httptools; production settings, so introspection
is off) on a fresh SQLite file and its embedded Redis, started here. No client is signed in.

- per-request server CPU: each kind of hostile document below is sent ``--variants`` times,
  each time under a new operation name so that no cache answers for it (an attacker does
  the same), one request at a time; the server's own CPU time (``time.process_time()`` read
  through a bench-only route before and after, minus what reading it costs) is the request's
  cost. Printed: median and maximum per kind, and the answer's error code;
- the probe: ``{ __typename }`` every ``--probe-interval`` seconds from one client, alone
  (idle) and then while ``--attackers`` clients, each from its own loopback address, send
  the hostile documents in turn as fast as the shipped anonymous request limit lets one
  address (``PARLEY_REQUEST_LIMIT_ANONYMOUS``, 300/minute: one every 0.2 s). Printed: the
  probe's p50/p99 idle and under attack, and their ratio.

The request limit is raised on the server so that the probe itself and the attackers'
addresses are never refused: what is measured is what the documents cost, not the limit.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import orjson  # noqa: E402

SECRET_KEY = "bench-abuse-secret-key-0123456789abcdef-xyz"
PROBE = "{ __typename }"
SHIPPED_ANONYMOUS_INTERVAL = 60 / 300  # PARLEY_REQUEST_LIMIT_ANONYMOUS's default


# --- the documents ---------------------------------------------------------------------
# Each takes a variant number (a fresh operation name) and returns the request body.


def flat_repeats_37kb(n: int) -> dict[str, Any]:
    """The issue's document: 1,200 repeated selections, 37 KB (over the byte limit)."""
    return {"query": f"query Flat{n} {{ " + "rateLimit { maximumAvailable } " * 1200 + "}"}


def flat_repeats_under_bytes(n: int) -> dict[str, Any]:
    """The same shape kept under the byte and token limits: 400 × `me { id }` (4 KB)."""
    return {"query": f"query Repeat{n} {{ " + "me { id } " * 400 + "}"}


def deep_fragment_spreading(n: int) -> dict[str, Any]:
    """21 fragments each spreading the next twice: 2^20 selections expanded, 1 KB."""
    fragments = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(20))
    return {
        "query": f"query Deep{n} {{ ...F0 }} {fragments} fragment F20 on Query {{ __typename }}"
    }


def many_aliases(n: int) -> dict[str, Any]:
    """As many aliased selections as fit in the byte limit (~1,500)."""
    fields = " ".join(f"a{i}: __typename" for i in range(1500))
    return {"query": f"query Aliases{n} {{ {fields} }}"}


def many_aliases_at_limit(n: int) -> dict[str, Any]:
    """30 aliases (the alias limit), each the largest subtree an anonymous caller can ask."""
    rate = "rateLimit { maximumAvailable currentlyAvailable restoreRate }"
    fields = " ".join(f"a{i}: {rate}" for i in range(30))
    return {"query": f"query AliasesOk{n} {{ {fields} }}"}


def long_string(n: int) -> dict[str, Any]:
    """One string literal filling the byte limit (a valid document)."""
    return {"query": f'query Long{n} {{ node(id: "{"x" * 19_800}") {{ id }} }}'}


def many_variables(n: int) -> dict[str, Any]:
    """As many variable definitions as the token limit allows (~1,200), none used."""
    definitions = ", ".join(f"$v{i}: Int" for i in range(1200))
    return {"query": f"query Vars{n}({definitions}) {{ __typename }}"}


def large_variable_value(n: int) -> dict[str, Any]:
    """A tiny document with a list variable of 50,000 ids (~900 KB, under the body limit)."""
    return {
        "query": f"query Ids{n}($ids: [ID!]!) {{ nodes(ids: $ids) {{ id }} }}",
        "variables": {"ids": [f"id{i}" for i in range(50_000)]},
    }


def repeated_directives(n: int) -> dict[str, Any]:
    """One field with as many directives as the byte limit allows (~800)."""
    directives = " ".join("@include(if: true)" for _ in range(1000))
    return {"query": f"query Dirs{n} {{ __typename {directives} }}"}


KINDS: dict[str, Callable[[int], dict[str, Any]]] = {
    "flat repeats, 37 KB (issue's)": flat_repeats_37kb,
    "flat repeats, 4 KB (400×)": flat_repeats_under_bytes,
    "deep fragment spreading (2^20)": deep_fragment_spreading,
    "many aliases (1,500)": many_aliases,
    "30 aliases × subtree": many_aliases_at_limit,
    "long string (19.8 KB)": long_string,
    "many variables (1,200)": many_variables,
    "large variable value (50k ids)": large_variable_value,
    "repeated directives": repeated_directives,
}


# --- the server ------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(port: int, var_dir: Path) -> None:
    """Runs in the server process."""
    import uvicorn
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from app.http.app import create_app
    from app.platform.config import Settings

    async def cpu(_: Request) -> JSONResponse:
        return JSONResponse({"cpu": time.process_time()})

    settings = Settings(
        env="production",
        secret_key=SECRET_KEY,
        # Production wants URLs; these are the embedded stack's own, under the bench's var/.
        database_url=f"sqlite://{var_dir / 'parley.sqlite3'}",
        redis_url=f"unix://{var_dir / 'redis.sock'}",
        var_dir=var_dir,
        run_worker_in_process=False,
        request_limit_anonymous="10000000/minute",
        log_level="WARNING",
    )
    app = create_app(settings, extra_routes=[Route("/__bench/cpu", cpu)])
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


async def start_server(var_dir: Path) -> tuple[subprocess.Popen[bytes], str, Any]:
    from app.platform.migrations import apply_migrations
    from app.platform.redis import EmbeddedRedis

    await apply_migrations(f"sqlite://{var_dir / 'parley.sqlite3'}")
    redis = EmbeddedRedis(var_dir / "redis.sock")
    await redis.start()
    port = _free_port()
    log = (var_dir / "server.log").open("wb")
    command = [sys.executable, __file__, "--serve", "--port", str(port), "--var-dir", str(var_dir)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    async with httpx.AsyncClient() as http:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited; see {log.name}")
            try:
                if (await http.get(f"{url}/health/live")).status_code == 200:
                    return process, url, redis
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start; see {log.name}")
            await asyncio.sleep(0.1)


# --- measuring -------------------------------------------------------------------------


def _code(response: httpx.Response) -> str:
    try:
        errors = orjson.loads(response.content).get("errors") or []
    except orjson.JSONDecodeError:
        return f"HTTP {response.status_code}"
    codes = sorted({e.get("extensions", {}).get("code", "?") for e in errors})
    return "/".join(codes) or "(no error)"


async def cpu_per_request(url: str, variants: int) -> dict[str, tuple[float, float, str]]:
    """Kind → (median, max) server CPU ms per request, and the answer's error code."""
    async with httpx.AsyncClient(timeout=120) as http:

        async def server_cpu() -> float:
            return float((await http.get(f"{url}/__bench/cpu")).json()["cpu"])

        # What reading the CPU time costs (two reads with nothing between).
        reads = []
        for _ in range(20):
            before = await server_cpu()
            reads.append(await server_cpu() - before)
        read_cost = statistics.median(reads)
        await http.post(f"{url}/graphql", json={"query": PROBE})
        figures: dict[str, tuple[float, float, str]] = {}
        for name, kind in KINDS.items():
            costs, code = [], ""
            for n in range(variants):
                body = orjson.dumps(kind(n))
                headers = {"content-type": "application/json"}
                before = await server_cpu()
                response = await http.post(f"{url}/graphql", content=body, headers=headers)
                costs.append(max(0.0, await server_cpu() - before - read_cost) * 1000)
                code = _code(response)
            figures[name] = (statistics.median(costs), max(costs), code)
        return figures


async def probe(url: str, seconds: float, interval: float) -> list[float]:
    """Latencies (ms) of the probe sent every ``interval`` s for ``seconds``."""
    latencies: list[float] = []
    async with httpx.AsyncClient(timeout=60) as http:
        await http.post(f"{url}/graphql", json={"query": PROBE})
        stop = time.perf_counter() + seconds
        while time.perf_counter() < stop:
            started = time.perf_counter()
            response = await http.post(f"{url}/graphql", json={"query": PROBE})
            latencies.append((time.perf_counter() - started) * 1000)
            assert response.json()["data"] == {"__typename": "Query"}, response.text
            await asyncio.sleep(max(0.0, interval - (time.perf_counter() - started)))
    return latencies


async def attacker(url: str, number: int, until: float) -> int:
    """Sends the hostile documents in turn, one every 0.2 s, from its own address."""
    transport = httpx.AsyncHTTPTransport(local_address=f"127.0.0.{2 + number}")
    kinds = list(KINDS.values())
    async with httpx.AsyncClient(timeout=120, transport=transport) as http:
        n = 0
        while time.time() < until:
            started = time.perf_counter()
            body = orjson.dumps(kinds[n % len(kinds)](1_000_000 * (number + 1) + n))
            await http.post(
                f"{url}/graphql", content=body, headers={"content-type": "application/json"}
            )
            n += 1
            elapsed = time.perf_counter() - started
            await asyncio.sleep(max(0.0, SHIPPED_ANONYMOUS_INTERVAL - elapsed))
        return n


def attack(url: str, attackers: int, until: float, sent: Connection) -> None:
    """Runs in its own process, so that making the documents does not slow the probe."""

    async def all_of_them() -> int:
        counts = await asyncio.gather(*(attacker(url, i, until) for i in range(attackers)))
        return sum(counts)

    sent.send(asyncio.run(all_of_them()))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(args: argparse.Namespace) -> None:
    var_dir = Path(tempfile.mkdtemp(prefix="parley-bench-abuse-"))
    process, url, redis = await start_server(var_dir)
    try:
        figures = await cpu_per_request(url, args.variants)
        idle = await probe(url, args.seconds, args.probe_interval)
        receiving, sending = mp.Pipe(duplex=False)
        until = time.time() + args.seconds + 1.5
        attackers = mp.get_context("spawn").Process(
            target=attack, args=(url, args.attackers, until, sending)
        )
        attackers.start()
        await asyncio.sleep(1.0)  # the attack under way
        attacked = await probe(url, args.seconds, args.probe_interval)
        sent = await asyncio.to_thread(receiving.recv)
        attackers.join()
    finally:
        process.terminate()
        process.wait(timeout=15)
        await redis.stop()
        shutil.rmtree(var_dir, ignore_errors=True)

    print()
    print(f"per-request server CPU of anonymous documents ({args.variants} fresh variants each)")
    print(f"{'document':<34}{'median ms':>10}{'max ms':>9}  answer")
    for name, (median, worst, code) in figures.items():
        print(f"{name:<34}{median:>10.2f}{worst:>9.2f}  {code}")
    idle_p50, idle_p99 = _percentile(idle, 0.5), _percentile(idle, 0.99)
    hit_p50, hit_p99 = _percentile(attacked, 0.5), _percentile(attacked, 0.99)
    print()
    print(
        f"probe {PROBE} every {args.probe_interval * 1000:g} ms, {args.seconds:g} s each: "
        f"idle p50 {idle_p50:.2f} ms, p99 {idle_p99:.2f} ms ({len(idle)} probes); "
        f"under attack p50 {hit_p50:.2f} ms, p99 {hit_p99:.2f} ms ({len(attacked)} probes, "
        f"max {max(attacked):.2f} ms); p99 ratio {hit_p99 / idle_p99:.2f}×"
    )
    print(
        f"attack: {args.attackers} clients, {sent} hostile documents "
        f"({sent / (args.seconds + 1.5):.1f}/s); load average {os.getloadavg()[0]:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="Probe time, each phase.")
    parser.add_argument("--variants", type=int, default=20, help="Requests per document kind.")
    parser.add_argument("--attackers", type=int, default=4)
    parser.add_argument("--probe-interval", type=float, default=0.02)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--var-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.port, args.var_dir)
    else:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
