"""The per-operation GraphQL context: who is asking, for which organization, and the loaders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import strawberry
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from app.models.accounts import Membership, Organization, Role, User
from app.platform.runtime import Runtime
from app.platform.security import AccessClaims

T = TypeVar("T")


@dataclass
class Viewer:
    """The signed-in user and the organization this operation runs in."""

    user: User
    claims: AccessClaims
    membership: Membership | None
    # Set when the caller is an API key (``user`` is then the key's service user).
    api_key_id: int | None = None

    @property
    def organization_id(self) -> int | None:
        return self.membership.organization_id if self.membership else None

    @property
    def role(self) -> Role | None:
        return Role(self.membership.role) if self.membership else None

    @property
    def organization(self) -> Organization | None:
        return self.membership.organization if self.membership else None


class Loaders:
    """DataLoaders built lazily, one per factory, for the lifetime of one operation."""

    def __init__(self) -> None:
        self._loaders: dict[Callable[..., Any], Any] = {}

    def get(self, factory: Callable[[], T]) -> T:
        loader = self._loaders.get(factory)
        if loader is None:
            loader = self._loaders[factory] = factory()
        return loader  # type: ignore[no-any-return]

    def clear(self) -> None:
        self._loaders.clear()


@dataclass
class Context:
    request: Request | WebSocket
    response: Response | WebSocket | None
    runtime: Runtime
    viewer: Viewer | None = None
    loaders: Loaders = field(default_factory=Loaders)
    # Filled by the cost layer; read when the response's `extensions.cost` is built.
    cost: dict[str, Any] = field(default_factory=dict)
    # A bad bearer token: the operation is refused with it before anything executes.
    auth_error: Exception | None = None
    # The `connection_init` payload of a WebSocket (strawberry sets it).
    connection_params: dict[str, Any] | None = None
    # The live events a subscription sees instead of its Redis channel: a webhook's document
    # runs over one outbox event (app.live.webhooks).
    replay: list[dict[str, Any]] | None = None

    @property
    def settings(self) -> Any:
        return self.runtime.settings


Info = strawberry.Info[Context, None]
