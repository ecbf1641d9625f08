"""The generated client, sending each operation by its hash in the trusted-documents manifest.

ariadne-codegen's client posts the document text; a server in trusted-documents-only mode
wants the hash GraphQL Code Generator listed the same operation under
(``persisted-documents.json``, ``{"sha256:<hex>": document}``). Operations are matched by name.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic_core import to_jsonable_python

from parley_client.client import Client

_OPERATION = re.compile(r"^\s*(?:query|mutation|subscription)\s+(\w+)")


def operation_hashes(manifest: Path) -> dict[str, str]:
    """Operation name → sha256 hex digest, from a ``persisted-documents.json``."""
    hashes = {}
    for key, document in json.loads(manifest.read_text()).items():
        match = _OPERATION.match(document)
        if match is not None:
            hashes[match[1]] = key.removeprefix("sha256:")
    return hashes


class TrustedClient(Client):
    def __init__(self, *, manifest: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hashes = operation_hashes(manifest)

    def _persisted(self, operation_name: str | None) -> dict[str, Any]:
        if operation_name not in self.hashes:
            raise KeyError(f"{operation_name} is not in the trusted-documents manifest")
        return {"persistedQuery": {"version": 1, "sha256Hash": self.hashes[operation_name]}}

    async def _execute_json(
        self, query: str, operation_name: str | None, variables: dict[str, Any], **kwargs: Any
    ) -> Any:
        body = {
            "operationName": operation_name,
            "variables": variables,
            "extensions": self._persisted(operation_name),
        }
        return await self.http_client.post(url=self.url, json=to_jsonable_python(body), **kwargs)

    async def _send_subscribe(
        self,
        websocket: Any,
        operation_id: str,
        query: str,
        operation_name: str | None = None,
        variables: dict[str, Any] | None = None,
    ) -> None:
        payload: dict[str, Any] = {
            "query": "",  # graphql-transport-ws wants a string; the hash says which document
            "operationName": operation_name,
            "extensions": self._persisted(operation_name),
        }
        if variables:
            payload["variables"] = self._convert_dict_to_json_serializable(variables)
        await websocket.send(
            json.dumps({"id": operation_id, "type": "subscribe", "payload": payload})
        )
