"""Node.js for the tests of clients/ and the README's JavaScript: skipped where node is missing,
except under CI=true, where those tests must run."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TYPESCRIPT_CLIENT = ROOT / "clients" / "typescript"


def require_node() -> None:
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{' and '.join(missing)} not found: CI must run the tests that need node")
        pytest.skip(f"{' and '.join(missing)} not found")


def npm_ci(folder: Path) -> None:
    """``npm ci`` (from package-lock.json) where node_modules is missing. One install at a time
    on the machine: two test workers installing the same package at once (clients/typescript
    and clients/audit both hold `graphql`) once left one of them without a file of it."""
    with open(Path(tempfile.gettempdir()) / "parley-npm-ci.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "node_modules").is_dir():
            run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], folder)


def run(command: list[str], cwd: Path) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout
