"""Node.js for the tests of clients/ and the README's JavaScript: skipped where node is missing,
except under CI=true, where those tests must run."""

from __future__ import annotations

import os
import shutil
import subprocess
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
    """``npm ci`` (from package-lock.json) where node_modules is missing."""
    if not (folder / "node_modules").is_dir():
        run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], folder)


def run(command: list[str], cwd: Path) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout
