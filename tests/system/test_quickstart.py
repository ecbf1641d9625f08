"""The README's quick start, run as written: its curl blocks in bash and its graphql-ws snippet in
node, against a test server (so the README cannot rot)."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from pathlib import Path

import httpx
import pytest

from tests.support.node import ROOT, TYPESCRIPT_CLIENT, npm_ci, require_node
from tests.support.server import make_settings, run_server

README = ROOT / "README.md"
HEADING = "## Quick start for a frontend developer"

# clients/typescript is one folder: its `npm ci` and code generation must not run in two
# pytest-xdist workers at once (tests/system/test_quickstart.py and test_clients.py).
pytestmark = pytest.mark.xdist_group("clients")


def quick_start_blocks() -> list[tuple[str, str]]:
    section = README.read_text().split(HEADING, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(\w+)\n(.*?)```", section, re.S)


async def _bash(script: str, env: dict[str, str]) -> str:
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-euo",
        "pipefail",
        "-c",
        script,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, f"{script}\n{stdout.decode()}\n{stderr.decode()}"
    return stdout.decode()


async def _subscriptions(http: httpx.AsyncClient, url: str) -> float:
    metrics = (await http.get(f"{url}/metrics")).text
    return float(re.search(r"^parley_ws_subscriptions (\S+)$", metrics, re.M)[1])  # type: ignore[index]


@pytest.fixture
def subscriber_dir(tmp_path: Path) -> Path:
    """A folder where `npm install graphql-ws ws` was run: the TypeScript client's packages."""
    require_node()
    npm_ci(TYPESCRIPT_CLIENT)
    folder = tmp_path / "subscriber"
    folder.mkdir()
    (folder / "node_modules").symlink_to(TYPESCRIPT_CLIENT / "node_modules")
    return folder


def test_the_quick_start_has_its_steps_in_order() -> None:
    blocks = quick_start_blocks()

    assert [language for language, _ in blocks] == ["sh", "sh", "js", "sh"]
    assert "make dev" in blocks[0][1] and "PARLEY_PORT=" in blocks[0][1]
    assert "register" in blocks[1][1] and "createDevice" in blocks[1][1]
    assert "messageEvents" in blocks[2][1] and "graphql-ws" in blocks[2][1]
    assert "simulateInboundMessage" in blocks[3][1] and "sendMessage" in blocks[3][1]


async def test_the_quick_start_runs_from_sign_up_to_a_read_reply(
    subscriber_dir: Path, tmp_path: Path
) -> None:
    _, sign_up = quick_start_blocks()[1]
    _, subscriber = quick_start_blocks()[2]
    _, conversation = quick_start_blocks()[3]
    (subscriber_dir / "subscribe.mjs").write_text(subscriber)
    email = f"dev-{uuid.uuid4().hex[:12]}@example.com"
    settings = make_settings(
        tmp_path / "var", rate_limit_register_per_ip="100/hour", sandbox_status_delay_seconds=0.1
    )

    async with run_server(settings) as server, httpx.AsyncClient(timeout=30) as http:
        env = {"PARLEY_PORT": server.url.rsplit(":", 1)[1]}
        output = await _bash(
            sign_up.replace("dev@example.com", email)
            + '\nprintf "\\n%s %s %s\\n" "$TOKEN" "$DEVICE" "$API"',
            env,
        )
        connected, last_line = output.rstrip("\n").rsplit("\n", 1)
        token, device, api = last_line.split(" ")
        env |= {"TOKEN": token, "DEVICE": device, "API": api}
        node = await asyncio.create_subprocess_exec(
            "node",
            "subscribe.mjs",
            cwd=subscriber_dir,
            env={**os.environ, **env},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            for _ in range(200):  # until the server holds the subscription
                if await _subscriptions(http, server.url) >= 1 or node.returncode is not None:
                    break
                await asyncio.sleep(0.05)
            replied = await _bash(conversation, env)
            stdout, stderr = await asyncio.wait_for(node.communicate(), 30)
        finally:
            if node.returncode is None:
                node.kill()

    assert '"status":"CONNECTED"' in connected
    assert token.startswith("ey") and device
    assert '"status":"QUEUED"' in replied and '"userErrors":[]' in replied
    assert node.returncode == 0, stderr.decode()
    assert stdout.decode().splitlines() == [
        "CREATED INBOUND RECEIVED Hi! Is my order on its way?",
        "CREATED OUTBOUND QUEUED Hi Ada, it left this morning.",
        "STATUS_CHANGED OUTBOUND SENT Hi Ada, it left this morning.",
        "STATUS_CHANGED OUTBOUND DELIVERED Hi Ada, it left this morning.",
        "STATUS_CHANGED OUTBOUND READ Hi Ada, it left this morning.",
    ]
