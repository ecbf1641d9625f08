"""The suite's own helper: a server a test starts beside the session's never shares its Redis
database (its worker would take the other's jobs and run them with its own settings)."""

from __future__ import annotations

from pathlib import Path

from tests.support.server import RunningServer, make_settings, run_server


async def test_servers_beside_the_session_s_each_have_a_redis_of_their_own(
    server: RunningServer, tmp_path: Path
) -> None:
    async with (
        run_server(make_settings(tmp_path / "one")) as one,
        run_server(make_settings(tmp_path / "two")) as two,
    ):
        assert len({_redis_of(s) for s in (server, one, two)}) == 3
    # The spare database is free again once its server stopped.
    async with run_server(make_settings(tmp_path / "three")) as three:
        if server.settings.redis_url is not None:
            assert three.settings.redis_url not in (None, server.settings.redis_url)


def _redis_of(running: RunningServer) -> str:
    """Its Redis database's URL, or its embedded Redis's socket."""
    settings = running.settings
    return settings.redis_url or str(settings.redis_socket_path)
