"""`parley plans`: staff manage plans from a shell, on the database the API serves."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

from tests.plans.support import USAGE
from tests.support.messaging import Member
from tests.support.server import RunningServer

ROOT = Path(__file__).resolve().parents[2]


async def _parley(server: RunningServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PARLEY_DATABASE_URL": server.settings.resolved_database_url,
        "PARLEY_VAR_DIR": str(server.settings.var_dir),
    }
    command = [sys.executable, "-m", "app.cli", "plans", *args]
    return await asyncio.to_thread(
        subprocess.run, command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


async def test_staff_create_list_update_and_assign_plans_from_the_shell(
    server: RunningServer, owner: Member
) -> None:
    name = f"Team {uuid.uuid4().hex[:6]}"

    created = await _parley(server, "create", name, "--limits", '{"devices": 2, "seats": 5}')
    updated = await _parley(
        server, "update", name, "--limits", '{"seats": null}', "--feature", "ai_teams"
    )
    assigned = await _parley(server, "assign", str(owner.organization_id), name)
    listed = await _parley(server, "list")
    refused = await _parley(server, "create", f"{name}-x", "--limits", '{"devicez": 1}')
    typo = await _parley(server, "create", f"{name}-y", "--feature", "webhooks")

    assert created.returncode == 0, created.stderr
    assert updated.returncode == 0 and '"seats"' not in updated.stdout, updated.stderr
    assert assigned.returncode == 0 and f"is on {name} (ACTIVE)" in assigned.stdout
    line = next(line for line in listed.stdout.splitlines() if f"  {name}  " in line)
    assert 'limits={"devices": 2}' in line and "organizations=1" in line
    assert "features=ai_teams" in line
    assert refused.returncode == 1 and "Unknown limit 'devicez'" in refused.stderr
    assert typo.returncode == 1 and "Unknown feature 'webhooks'" in typo.stderr
    plan = (await owner.api.data(USAGE))["organization"]["subscription"]["plan"]
    assert (
        plan["name"] == name and plan["limits"]["devices"] == 2 and plan["limits"]["seats"] is None
    )
