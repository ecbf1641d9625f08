"""Plans tests: the staff member who makes plans and the organization put on them, and the
fake Graph API and fake model endpoint of the other domains' tests."""

from __future__ import annotations

import pytest

from app.models.accounts import Role
from tests.ai.conftest import fake_openai, llm
from tests.plans.support import staff
from tests.support.client import Api
from tests.support.cloud_api import fake
from tests.support.messaging import Member, member
from tests.support.server import RunningServer

__all__ = ["admin", "fake", "fake_openai", "llm", "org_admin", "owner"]


@pytest.fixture
async def admin(server: RunningServer, api: Api) -> Member:
    """Staff: makes plans and puts organizations on them."""
    return await staff(server, api)


@pytest.fixture
async def owner(server: RunningServer, api: Api) -> Member:
    """The OWNER of a new organization, the one a test puts on a plan."""
    return await member(server, api)


@pytest.fixture
async def org_admin(server: RunningServer, api: Api) -> Member:
    """An ADMIN of a new organization (campaigns and templates are an ADMIN's work)."""
    return await member(server, api, Role.ADMIN)
