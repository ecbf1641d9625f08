from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.platform.config import Settings


def test_production_refuses_the_default_secret_key() -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings(env="production", database_url="postgres://db/x", redis_url="redis://r")


def test_production_turns_introspection_and_graphiql_off_unless_enabled() -> None:
    secret = "s" * 40

    default = Settings(
        env="production", secret_key=secret, database_url="postgres://d/x", redis_url="redis://r"
    )
    enabled = Settings(
        env="production",
        secret_key=secret,
        database_url="postgres://d/x",
        redis_url="redis://r",
        introspection=True,
        graphiql=True,
    )

    assert (default.introspection_enabled, default.graphiql_enabled) == (False, False)
    assert (enabled.introspection_enabled, enabled.graphiql_enabled) == (True, True)


def test_development_runs_embedded_with_the_worker_in_process() -> None:
    settings = Settings(env="development")

    assert settings.embedded_redis and settings.worker_in_process
    assert settings.resolved_database_url.startswith("sqlite://")
