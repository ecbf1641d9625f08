"""A private PostgreSQL cluster on a loopback TCP port that a fault test can restart.

The machine's PostgreSQL is shared (other tests and other work use it), so a test that restarts
PostgreSQL starts its own: ``initdb`` into a temporary directory, trust authentication, a free
port, ``pg_ctl`` to start, stop and restart it. ``initdb`` refuses to run as root: as root the
cluster belongs to the ``postgres`` system user, and its commands run as that user.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import asyncpg

from tests.support.server import free_port


def postgres_bin() -> Path | None:
    """The newest PostgreSQL server binaries on the machine (Debian's layout, or PATH)."""
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if versions:
        return versions[-1].parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


class PostgresProcess:
    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.port = free_port()
        self.user = "postgres" if os.geteuid() == 0 else None
        # Not under pytest's tmp_path: as root that is private to root, and the cluster's user
        # must own its directory.
        self.folder = Path(tempfile.mkdtemp(prefix="parley-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "postgres.log"
        if self.user is not None:
            owner = pwd.getpwnam(self.user)
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *command: str) -> None:
        args = [str(self.bin / command[0]), *command[1:]]
        if self.user is not None:
            args = ["runuser", "-u", self.user, "--", *args]
        done = subprocess.run(
            args, stdin=subprocess.DEVNULL, capture_output=True, cwd=self.folder, check=False
        )
        if done.returncode != 0:
            output = (done.stdout + done.stderr).decode(errors="replace")
            raise RuntimeError(f"{' '.join(command[:2])} failed ({done.returncode}):\n{output}")

    async def init(self) -> None:
        await asyncio.to_thread(
            self._run,
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
            "--encoding=UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip

    async def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
            " -c fsync=off -c full_page_writes=off -c max_connections=100"
        )
        await asyncio.to_thread(
            self._run, "pg_ctl", "start", "-D", str(self.data), "-l", str(self.log),
            "-o", options, "-w", "-t", "60",
        )  # fmt: skip
        for _ in range(100):  # pg_ctl -w waits for "ready"; make sure TCP answers too
            with contextlib.suppress(OSError, asyncpg.PostgresError):
                connection = await asyncpg.connect(self.url(), timeout=2)
                await connection.close()
                return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"PostgreSQL did not answer on port {self.port}:\n{self.output()}")

    async def stop(self, mode: str = "fast") -> None:
        """``fast``: what a restart does (sessions are ended, the data written);
        ``immediate``: a crash (recovery from the WAL on the next start)."""
        await asyncio.to_thread(
            self._run, "pg_ctl", "stop", "-D", str(self.data), "-m", mode, "-w", "-t", "60"
        )

    async def restart(self, *, down_seconds: float = 2.0, mode: str = "fast") -> None:
        await self.stop(mode)
        await asyncio.sleep(down_seconds)
        await self.start()

    async def create_database(self, name: str) -> str:
        connection = await asyncpg.connect(self.url())
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        return self.url(name)

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    async def destroy(self) -> None:
        with contextlib.suppress(RuntimeError):
            await self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)
