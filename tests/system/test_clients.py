"""The example clients (clients/): both generators, the TypeScript type check, and the generated
operations run by hash against a server that accepts trusted documents only.

Needs node and npm (npm ci when clients/typescript/node_modules is missing; ariadne-codegen runs
through uv in a tool environment of its own): skipped without them, except under CI=true.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import re
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from app.documents.persisted import document_hash
from app.models.accounts import User
from app.platform.security import issue_access_token
from tests.support.node import npm_ci, require_node, run
from tests.support.server import RunningServer, make_settings, run_server

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = ROOT / "clients"
TYPESCRIPT = CLIENTS / "typescript"
PYTHON = CLIENTS / "python"
MANIFEST = TYPESCRIPT / "src" / "gql" / "persisted-documents.json"
ARIADNE_CODEGEN = "ariadne-codegen[subscriptions]==0.19.0"

# clients/typescript is one folder: its `npm ci` and code generation must not run in two
# pytest-xdist workers at once (tests/system/test_quickstart.py and test_clients.py).
pytestmark = pytest.mark.xdist_group("clients")


def _uv() -> str:
    """The uv `make env` used (scripts/uv-path finds it, or installs a private one)."""
    found = subprocess.run(
        [str(ROOT / "scripts" / "uv-path")], capture_output=True, text=True, check=False
    ).stdout.strip()
    if not found:
        pytest.fail("uv not found (make env installs it)")
    return found


@pytest.fixture(scope="module")
def generated() -> Path:
    """Runs both generators and type-checks the TypeScript; the manifest codegen wrote."""
    require_node()
    npm_ci(TYPESCRIPT)
    # One generation at a time on the machine: the xdist group keeps this module's tests on
    # one worker, but a CI run once set both tests up at once on two, and ariadne-codegen's
    # check-then-mkdir of clients/python/parley_client failed with FileExistsError.
    with open(Path(tempfile.gettempdir()) / "parley-clients-codegen.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        run(["npx", "graphql-codegen", "--config", "codegen.ts"], TYPESCRIPT)
        run(["npx", "tsc"], TYPESCRIPT)  # type-checks, and builds dist/ for node
        run([_uv(), "tool", "run", "--from", ARIADNE_CODEGEN, "ariadne-codegen"], PYTHON)
    return MANIFEST


async def _output(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    except TimeoutError:
        process.kill()
        raise
    assert process.returncode == 0, f"{' '.join(command)}:\n{stdout.decode()}\n{stderr.decode()}"
    return stdout.decode()


async def _signed_in(server: RunningServer) -> str:
    """An access token for a new user, made in the database: a trusted-documents-only server
    runs no ad-hoc `register`, and a WebSocket signs in at `connection_init`."""
    user = await User.create(email=f"{uuid.uuid4().hex}@example.com")
    token, _ = issue_access_token(server.settings, user_id=user.id, organization_id=None)
    return token


async def _subscribe_over_websocket(
    url: str, payload: dict[str, Any], token: str
) -> dict[str, Any]:
    """The first frame answering one graphql-transport-ws subscribe."""
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
        await socket.send(json.dumps(init))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        while True:
            frame = json.loads(await asyncio.wait_for(socket.recv(), 10))
            if frame["type"] != "ping":
                return frame


def _persisted(sha256: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256}}


async def test_the_generated_clients_run_by_hash_against_a_trusted_documents_only_server(
    generated: Path, tmp_path: Path
) -> None:
    manifest = json.loads(generated.read_bytes())  # noqa: ASYNC240  (before the server starts)
    settings = make_settings(
        tmp_path / "var",
        trusted_documents_path=generated,
        trusted_documents_only=True,
        rate_limit_register_per_ip="100/hour",
        sandbox_status_delay_seconds=0.1,
    )
    unlisted = "query Unlisted { me { id email } }"

    async with run_server(settings) as server, httpx.AsyncClient(timeout=30) as http:
        typescript = await _output(
            ["node", "dist/main.js"], TYPESCRIPT, {"PARLEY_URL": server.graphql_url}
        )
        python = await _output(
            [sys.executable, "example.py", server.graphql_url, str(generated)], PYTHON
        )
        refused = await http.post(server.graphql_url, json={"query": unlisted})
        refused_by_hash = await http.post(
            server.graphql_url, json={"extensions": _persisted(document_hash(unlisted))}
        )
        refused_over_websocket = await _subscribe_over_websocket(
            server.ws_url,
            {"query": "subscription { messageEvents { cursor } }"},
            await _signed_in(server),
        )

    assert sorted(
        document.split("(")[0].split("{")[0].strip() for document in manifest.values()
    ) == [
        "mutation ConnectDevice",
        "mutation CreateSandboxDevice",
        "mutation Register",
        "mutation SendMessage",
        "mutation SimulateInboundMessage",
        "query InboxPage",
        "subscription MessageEvents",
    ]
    assert all(key.startswith("sha256:") for key in manifest)
    for output in (typescript, python):
        seen = json.loads(output.strip().splitlines()[-1])
        assert seen["device"]["status"] == "CONNECTED"
        assert seen["inbox"]["contact"] == "+14155552671"
        assert seen["inbox"]["attributes"] == {}
        assert seen["events"][0] == "CREATED INBOUND RECEIVED"
        assert seen["events"][-3:] == [
            "STATUS_CHANGED OUTBOUND SENT",
            "STATUS_CHANGED OUTBOUND DELIVERED",
            "STATUS_CHANGED OUTBOUND READ",
        ]
    assert refused.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert refused_by_hash.json()["errors"][0]["extensions"]["code"] == (
        "PERSISTED_QUERY_NOT_FOUND"
    )
    assert refused_over_websocket["type"] == "error"
    assert refused_over_websocket["payload"][0]["extensions"]["code"] == (
        "PERSISTED_QUERY_NOT_FOUND"
    )


def test_scalars_are_generated_as_real_types(generated: Path) -> None:
    typescript = (TYPESCRIPT / "src" / "gql" / "graphql.ts").read_text()
    python_inbox = (PYTHON / "parley_client" / "inbox_page.py").read_text()
    python_send = (PYTHON / "parley_client" / "send_message.py").read_text()

    # The client preset writes each operation's types with the scalars inlined.
    assert "createdAt: string" in typescript  # DateTime: ISO 8601, as it travels
    assert "attributes: import('../json.js').JSONValue" in typescript
    assert "payload: import('../json.js').JSONValue" in typescript
    assert re.findall(r"\w+\??: (?:unknown|any)\b", typescript) == []
    assert "last_message_at: Optional[datetime]" in python_inbox
    assert "attributes: JsonValue" in python_inbox
    assert "created_at: datetime" in python_send


# Codegen's manifest format, without node: keys are "sha256:<hex>" and clients send the hash.

SUBSCRIPTION = "subscription Ticks { messageEvents { cursor } }"
LISTED = "query Listed { __typename }"


@pytest.fixture
def codegen_manifest(tmp_path: Path) -> Path:
    path = tmp_path / "persisted-documents.json"
    path.write_text(json.dumps({f"sha256:{document_hash(d)}": d for d in (LISTED, SUBSCRIPTION)}))
    return path


async def test_a_codegen_manifest_serves_its_documents_by_hash_over_http_and_websocket(
    tmp_path: Path, codegen_manifest: Path
) -> None:
    settings = make_settings(
        tmp_path / "var",
        trusted_documents_path=codegen_manifest,
        trusted_documents_only=True,
    )

    async with run_server(settings) as server, httpx.AsyncClient(timeout=30) as http:
        by_hash = await http.post(
            server.graphql_url, json={"extensions": _persisted(document_hash(LISTED))}
        )
        by_prefixed_hash = await http.post(
            server.graphql_url,
            json={"extensions": _persisted(f"sha256:{document_hash(LISTED)}")},
        )
        token = await _signed_in(server)
        # graphql-ws sends a query string: an empty one and the hash in extensions.
        query_over_websocket = await _subscribe_over_websocket(
            server.ws_url, {"query": "", "extensions": _persisted(document_hash(LISTED))}, token
        )
        # messageEvents of a user with no organization: FORBIDDEN proves the document was
        # found and run.
        subscription = await _subscribe_over_websocket(
            server.ws_url,
            {"query": "", "extensions": _persisted(document_hash(SUBSCRIPTION))},
            token,
        )
        unknown = await _subscribe_over_websocket(
            server.ws_url, {"query": "", "extensions": _persisted("0" * 64)}, token
        )

    assert by_hash.json()["data"] == {"__typename": "Query"}
    assert by_prefixed_hash.json()["data"] == {"__typename": "Query"}
    assert query_over_websocket["type"] == "next"
    assert query_over_websocket["payload"]["data"] == {"__typename": "Query"}
    assert subscription["type"] == "next"
    assert subscription["payload"]["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert unknown["type"] == "error"
    assert unknown["payload"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


def test_a_manifest_whose_key_is_not_its_documents_hash_is_refused_at_start(
    tmp_path: Path,
) -> None:
    from app.documents.persisted import load_manifest

    path = tmp_path / "persisted-documents.json"
    path.write_text(json.dumps({f"sha256:{document_hash(LISTED)}": SUBSCRIPTION}))

    with pytest.raises(ValueError, match="is not the sha256 of its document"):
        load_manifest(path)
