"""`parley dev` and `parley serve` as started from a shell: subprocesses on a fresh var dir."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.platform.config import DEFAULT_SECRET_KEY, Settings
from app.platform.ids import from_global_id
from app.platform.security import issue_access_token
from tests.support.accounts import LOGIN, REGISTER, unique_email
from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[2]
ME = "{ me { id } }"


@dataclass
class Parley:
    process: subprocess.Popen[bytes]
    output_path: Path
    port: int
    var_dir: Path

    @property
    def graphql_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def wait_for(self, text: str, within: float = 120) -> None:
        deadline = time.monotonic() + within
        while text not in self.output():
            if self.process.poll() is not None:
                raise AssertionError(f"parley exited ({self.process.returncode}):\n{self.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} within {within} s:\n{self.output()}")
            time.sleep(0.1)

    def wait_until_answering(self, within: float = 120) -> None:
        deadline = time.monotonic() + within
        while True:
            try:
                httpx.post(self.graphql_url, json={"query": "{ __typename }"}, timeout=5)
                return
            except httpx.TransportError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"parley never answered:\n{self.output()}") from None
                time.sleep(0.2)

    def exit_code(self, within: float) -> int | None:
        try:
            return self.process.wait(timeout=within)
        except subprocess.TimeoutExpired:
            return None

    def interrupt(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        code = self.exit_code(60)
        if code is None:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"parley outlived Ctrl-C by a minute:\n{self.output()}")
        return code


def start(tmp_path: Path, *args: str, port: int | None = None, **env: str) -> Parley:
    """`parley ARGS` with only the PARLEY_ settings given here, in a directory of its own."""
    port = port or free_port()
    var_dir = tmp_path / "var"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    environment.update(
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",  # stdout and stderr interleave in the order they are written
        PARLEY_VAR_DIR=str(var_dir),
        PARLEY_PORT=str(port),
        **env,
    )
    output_path = tmp_path / f"{args[0]}.log"
    with output_path.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", *args],
            cwd=tmp_path,  # no .env of the checkout
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return Parley(process, output_path, port, var_dir)


@pytest.fixture
def stop() -> Iterator[list[Parley]]:
    started: list[Parley] = []
    yield started
    for parley in started:
        if parley.process.poll() is None:
            parley.process.kill()
            parley.process.wait()


def post(
    parley: Parley, query: str, variables: dict | None = None, token: str | None = None
) -> dict:  # type: ignore[type-arg]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = httpx.post(
        parley.graphql_url,
        json={"query": query, "variables": variables or {}},
        headers=headers,
        timeout=30,
    )
    return answer.json()  # type: ignore[no-any-return]


def sign_up(parley: Parley) -> tuple[int, str]:
    answer = post(
        parley,
        REGISTER,
        {
            "input": {
                "email": unique_email(),
                "password": "a long and unguessable passphrase",
                "name": "Ana",
                "organizationName": "Ana's",
            }
        },
    )
    assert answer["data"], answer
    payload = answer["data"]["register"]
    assert payload["userErrors"] == [], payload
    return from_global_id(payload["user"]["id"])[1], payload["accessToken"]


def forged_token(user_pk: int) -> str:
    """A token signed with the key anyone can read in app/platform/config.py."""
    public = Settings(env="test", secret_key=DEFAULT_SECRET_KEY)
    return issue_access_token(public, user_id=user_pk, organization_id=None)[0]


def error_code(answer: dict) -> str | None:  # type: ignore[type-arg]
    errors = answer.get("errors") or []
    return errors[0]["extensions"]["code"] if errors else None


def test_dev_logs_quietly_prints_running_once_serving_and_stops_cleanly_on_ctrl_c(
    tmp_path: Path, stop: list[Parley]
) -> None:
    parley = start(tmp_path, "dev")
    stop.append(parley)

    parley.wait_for("Parley is running")
    answer = post(parley, "{ __typename }")  # the banner means it is listening already
    time.sleep(12)  # two cron ticks of the campaign watchdog, and more
    code = parley.interrupt()

    output = parley.output()
    assert answer["data"] == {"__typename": "Query"}
    assert code == 0, output
    lines = output.splitlines()
    banner = [n for n, line in enumerate(lines) if "Parley is running" in line]
    started = [n for n, line in enumerate(lines) if "Application startup complete" in line]
    assert len(banner) == 1 and started and banner[0] > started[0], output
    for noise in ("Deprecat", "Warning", "[warning", '"warning"', "Traceback", "[error"):
        assert noise not in output, output
    assert "campaign_watchdog" not in output, output


def test_a_busy_port_is_one_clear_line_and_a_failing_exit(
    tmp_path: Path, stop: list[Parley]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        parley = start(tmp_path, "dev", port=taken.getsockname()[1])
        stop.append(parley)

        code = parley.exit_code(90)

    lines = [line for line in parley.output().splitlines() if line.strip()]
    assert code not in (None, 0)
    assert len(lines) == 1, lines
    assert "in use" in lines[0] and str(parley.port) in lines[0]


def test_dev_signs_with_a_key_of_this_install_and_refuses_tokens_signed_with_the_public_one(
    tmp_path: Path, stop: list[Parley]
) -> None:
    parley = start(tmp_path, "dev")
    stop.append(parley)
    parley.wait_until_answering()
    user_pk, token = sign_up(parley)

    own = post(parley, ME, token=token)
    forged = post(parley, ME, token=forged_token(user_pk))

    assert own["data"]["me"] is not None
    assert error_code(forged) == "UNAUTHENTICATED"
    key_file = parley.var_dir / "secret_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert len(key_file.read_text().strip()) >= 32


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_serve_and_worker_refuse_the_public_key_unless_development_is_explicit(
    tmp_path: Path, stop: list[Parley], command: str
) -> None:
    parley = start(tmp_path, command)
    stop.append(parley)

    code = parley.exit_code(60)

    assert code not in (None, 0), parley.output()
    assert "PARLEY_SECRET_KEY" in parley.output()


@pytest.fixture(scope="module")
def development_serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Parley]:
    directory = tmp_path_factory.mktemp("serve")
    settings = {"PARLEY_ENV": "development", "PARLEY_RATE_LIMIT_LOGIN_PER_IP": "2/minute"}
    assert start(directory, "migrate", **settings).exit_code(120) == 0
    parley = start(directory, "serve", **settings)
    try:
        parley.wait_until_answering()
        yield parley
    finally:
        parley.interrupt()


def test_serve_under_explicit_development_refuses_tokens_signed_with_the_public_key(
    development_serve: Parley,
) -> None:
    user_pk, token = sign_up(development_serve)

    own = post(development_serve, ME, token=token)
    forged = post(development_serve, ME, token=forged_token(user_pk))

    assert own["data"]["me"] is not None
    assert error_code(forged) == "UNAUTHENTICATED"


def test_x_forwarded_for_from_a_peer_that_is_no_configured_proxy_is_ignored(
    development_serve: Parley,
) -> None:
    def login_from(address: str) -> str | None:
        answer = httpx.post(
            development_serve.graphql_url,
            json={
                "query": LOGIN,
                "variables": {"input": {"email": unique_email(), "password": "x"}},
            },
            headers={"X-Forwarded-For": address},
            timeout=30,
        )
        return error_code(answer.json())

    outcomes = [login_from(f"203.0.113.{n}") for n in range(1, 4)]

    assert outcomes == [None, None, "RATE_LIMITED"]
