"""Persisted documents: automatic persisted queries (APQ) and trusted documents.

APQ follows Apollo's protocol. A request with ``extensions.persistedQuery {version: 1,
sha256Hash}`` and no ``query`` is served from the registry when the hash is known, else it
fails with PERSISTED_QUERY_NOT_FOUND (message ``PersistedQueryNotFound``, which Apollo's
and urql's links look for); the client then sends the query with its hash, which is checked
(BAD_USER_INPUT when it differs).

Anybody may register, so registering costs the registry as little as it can: a document is
registered only once it parsed and validated (which bounds its size: see
``app.documents.limits``), at most ``persisted_query_registrations_per_minute`` times a minute
per caller (user, or ip), for ``persisted_query_ttl_seconds``; and the registry holds at most
``persisted_query_max_entries`` documents, a new one evicting the oldest. Its Redis memory is
therefore bounded by entries × the document byte limit (20 MB with the defaults), whatever the
traffic. A caller over its rate, or a Redis that fails, still gets its answer: only the
registration is skipped, and the client sends the query again next time.

Trusted documents are a manifest ``{"sha256:<hex>": document}`` as GraphQL Codegen's client
preset writes ``persisted-documents.json`` (bare ``<hex>`` keys are read too). Listed documents
are served by hash like APQ, over HTTP and in a WebSocket ``subscribe`` payload's
``extensions``. With ``trusted_documents_only`` every other document is refused with
PERSISTED_QUERY_NOT_FOUND, over HTTP and WebSocket alike, and APQ registers nothing.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
import structlog
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.http import GraphQLRequestData

from app.cost.budget import budget_key
from app.platform.config import Settings
from app.platform.errors import AppError, BadUserInput, ErrorCode, RateLimited
from app.platform.ratelimit import enforce

log = structlog.get_logger("parley.persisted")

_KEY_PREFIX = "parley:apq:"
# Hash → time of registration, to find the oldest entry when the registry is full.
_INDEX_KEY = "parley:apq-index"
# Where the view leaves the hash of a document to register once it validated. The value is
# a _Registration, which no JSON a client sends can produce.
_REGISTRATION = "parley.registration"

# KEYS: the index. ARGV: key prefix, hash, document, now, ttl, most entries.
_REGISTER = """
local index, prefix, hash = KEYS[1], ARGV[1], ARGV[2]
local now, ttl, most = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
redis.call('ZREMRANGEBYSCORE', index, '-inf', now - ttl)
if not redis.call('ZSCORE', index, hash) then
  local excess = redis.call('ZCARD', index) - most + 1
  if excess > 0 then
    local oldest = redis.call('ZPOPMIN', index, excess)
    for i = 1, #oldest, 2 do redis.call('DEL', prefix .. oldest[i]) end
  end
end
redis.call('ZADD', index, now, hash)
redis.call('SET', prefix .. hash, ARGV[3], 'EX', ttl)
redis.call('EXPIRE', index, ttl)
return 1
"""


class PersistedQueryNotFound(AppError):
    code = ErrorCode.PERSISTED_QUERY_NOT_FOUND
    default_message = "PersistedQueryNotFound"


class UntrustedDocument(AppError):
    code = ErrorCode.PERSISTED_QUERY_NOT_FOUND
    default_message = "Only trusted documents are accepted; this one is not in the manifest."


def document_hash(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def load_manifest(path: Path) -> dict[str, str]:
    """A ``persisted-documents.json``: a JSON object of sha256 digest → document, keyed here by
    the hex digest (codegen writes ``sha256:<hex>``)."""
    manifest = json.loads(path.read_text())
    if not isinstance(manifest, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in manifest.items()
    ):
        raise ValueError(f"{path} must be a JSON object of hash → document strings")
    documents = {}
    for key, document in manifest.items():
        sha256 = key.lower().removeprefix("sha256:")
        if document_hash(document) != sha256:
            raise ValueError(f"{path}: {key} is not the sha256 of its document")
        documents[sha256] = document
    return documents


@dataclass(frozen=True)
class _Registration:
    sha256: str


class PersistedDocuments:
    def __init__(
        self,
        *,
        manifest: dict[str, str],
        trusted_only: bool,
        ttl_seconds: int,
        registrations_per_minute: int = 20,
        max_entries: int = 1000,
    ) -> None:
        self.manifest = manifest
        self.trusted_only = trusted_only
        self.ttl_seconds = ttl_seconds
        self.registration_limit = f"{registrations_per_minute}/minute"
        self.max_entries = max_entries
        self._trusted_texts = frozenset(manifest.values())

    @classmethod
    def from_settings(cls, settings: Settings) -> PersistedDocuments:
        path = settings.trusted_documents_path
        if settings.trusted_documents_only and path is None:
            raise ValueError("PARLEY_TRUSTED_DOCUMENTS_ONLY needs PARLEY_TRUSTED_DOCUMENTS_PATH")
        return cls(
            manifest=load_manifest(path) if path is not None else {},
            trusted_only=settings.trusted_documents_only,
            ttl_seconds=settings.persisted_query_ttl_seconds,
            registrations_per_minute=settings.persisted_query_registrations_per_minute,
            max_entries=settings.persisted_query_max_entries,
        )

    def is_trusted(self, document: str) -> bool:
        # The manifest's hashes were checked against its texts when it was loaded.
        return document in self._trusted_texts

    async def resolve(self, request: GraphQLRequestData, redis: aioredis.Redis) -> None:
        """Fill in the query of a request sent by hash; mark one sent with its hash for
        registration (by :class:`RegisterPersistedQuery`, once it validated)."""
        sha256 = _requested_hash(request.extensions)
        if sha256 is None:
            return
        if request.query is None:
            request.query = await self._lookup(sha256, redis)
            return
        if document_hash(request.query) != sha256:
            raise BadUserInput("The persistedQuery sha256Hash does not match the query.")
        if not self.trusted_only and sha256 not in self.manifest:
            request.extensions = {
                **(request.extensions or {}),
                _REGISTRATION: _Registration(sha256),
            }

    async def register(
        self, sha256: str, document: str, *, caller: str, redis: aioredis.Redis, settings: Settings
    ) -> None:
        try:
            await enforce(settings, self.registration_limit, "apq", caller)
        except RateLimited:
            log.info("persisted_query_not_registered", reason="rate")
            return
        await redis.eval(  # type: ignore[misc]
            _REGISTER,
            1,
            _INDEX_KEY,
            _KEY_PREFIX,
            sha256,
            document,
            time.time(),
            self.ttl_seconds,
            self.max_entries,
        )

    async def _lookup(self, sha256: str, redis: aioredis.Redis) -> str:
        document = self.manifest.get(sha256)
        if document is None and not self.trusted_only:
            stored = await redis.get(_KEY_PREFIX + sha256)
            document = stored.decode() if isinstance(stored, bytes) else stored
        if document is None:
            raise PersistedQueryNotFound()
        return document


async def resolve_subscribe_payload(
    documents: PersistedDocuments | None, payload: dict[str, Any], redis: aioredis.Redis
) -> None:
    """A WebSocket ``subscribe`` payload sent by hash gets its query, as over HTTP. graphql-ws
    clients must send a ``query`` string: an empty one counts as none."""
    if documents is None or payload.get("query") or not payload.get("extensions"):
        return
    request = GraphQLRequestData(
        query=None, variables=None, operation_name=None, extensions=payload["extensions"]
    )
    await documents.resolve(request, redis)
    payload["query"] = request.query


def _requested_hash(extensions: dict[str, Any] | None) -> str | None:
    persisted = (extensions or {}).get("persistedQuery")
    if persisted is None:
        return None
    if not isinstance(persisted, dict):
        raise BadUserInput("persistedQuery must be {version: 1, sha256Hash: <hex digest>}.")
    sha256 = persisted.get("sha256Hash")
    if persisted.get("version") != 1 or not isinstance(sha256, str):
        raise BadUserInput("persistedQuery must be {version: 1, sha256Hash: <hex digest>}.")
    return sha256.lower().removeprefix("sha256:")


class TrustedDocumentsOnly(SchemaExtension):
    """Refuses any operation whose document is not in the manifest, as a validation error.

    A schema extension rather than a view check so WebSocket operations honour it too; a
    validation error rather than an exception so both transports report it with its code.
    Runs after the validation cache, which would otherwise overwrite the errors.
    """

    def __init__(self, documents: PersistedDocuments) -> None:
        self.documents = documents

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if context.query is not None and not self.documents.is_trusted(context.query):
            error = UntrustedDocument()
            context.pre_execution_errors = [
                GraphQLError(error.message, extensions={"code": error.code.value})
            ]
        yield


class RegisterPersistedQuery(SchemaExtension):
    """Registers a document sent with its hash once it parsed and validated (see the module)."""

    def __init__(self, documents: PersistedDocuments) -> None:
        self.documents = documents

    async def on_validate(self) -> AsyncIterator[None]:  # type: ignore[override]
        yield
        context = self.execution_context
        registration = (context.operation_extensions or {}).get(_REGISTRATION)
        if (
            not isinstance(registration, _Registration)
            or context.pre_execution_errors
            or context.query is None
        ):
            return
        runtime = context.context.runtime
        try:
            await self.documents.register(
                registration.sha256,
                context.query,
                caller=budget_key(context.context),
                redis=runtime.redis,
                settings=runtime.settings,
            )
        except (aioredis.RedisError, OSError) as error:
            # The answer does not depend on it: the client sends the query again next time.
            log.warning("persisted_query_not_registered", error=type(error).__name__)
