"""Automatic persisted queries (Apollo's protocol) and the trusted-documents allowlist."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from gql import Client, GraphQLRequest, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport
from graphql import print_ast

from app.documents.persisted import document_hash
from app.models.accounts import User
from app.platform.security import issue_access_token
from tests.support.client import Api
from tests.support.server import make_settings, run_server

LISTED = "query Listed { __typename }"


class _HashOnly(HTTPXAsyncTransport):
    """What an APQ link sends first: the hash, not the query."""

    def _prepare_request(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        post_args = super()._prepare_request(*args, **kwargs)
        post_args["json"].pop("query")
        return post_args


async def _gql(url: str, request: GraphQLRequest, *, hash_only: bool = False) -> dict[str, Any]:
    transport = (_HashOnly if hash_only else HTTPXAsyncTransport)(url=url)
    async with Client(transport=transport) as session:
        try:
            result = await session.execute(request, get_execution_result=True)
        except TransportQueryError as error:
            return {"data": error.data, "errors": error.errors}
    return {"data": result.data, "errors": result.errors}


def _persisted(sha256: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256}}


async def test_an_apq_round_trip_with_gql_registers_then_serves_by_hash(server) -> None:  # type: ignore[no-untyped-def]
    document = gql("query ApqRoundTrip { __typename rateLimit { maximumAvailable } }")
    sha256 = document_hash(print_ast(document.document))  # gql sends the printed document
    request = GraphQLRequest(document, extensions=_persisted(sha256))

    unknown = await _gql(server.graphql_url, request, hash_only=True)
    registered = await _gql(server.graphql_url, request)
    by_hash = await _gql(server.graphql_url, request, hash_only=True)

    assert unknown["errors"] == [
        {
            "message": "PersistedQueryNotFound",
            "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
        }
    ]
    expected = {"__typename": "Query", "rateLimit": {"maximumAvailable": 1000}}
    assert registered == {"data": expected, "errors": None}
    assert by_hash == {"data": expected, "errors": None}


async def test_a_registered_query_is_served_by_hash_over_get(server) -> None:  # type: ignore[no-untyped-def]
    query = "query ApqGet { __typename }"
    extensions = json.dumps(_persisted(document_hash(query)))

    async with httpx.AsyncClient(timeout=60) as http:
        await http.post(
            server.graphql_url, json={"query": query, "extensions": json.loads(extensions)}
        )
        response = await http.get(
            server.graphql_url,
            params={"extensions": extensions},
            headers={"Accept": "application/json"},
        )

    assert response.status_code == 200
    assert response.json()["data"] == {"__typename": "Query"}


async def test_a_query_sent_with_a_hash_that_does_not_match_is_refused_and_not_registered(
    server,
) -> None:  # type: ignore[no-untyped-def]
    wrong = document_hash("query Other { __typename }")

    async with httpx.AsyncClient(timeout=60) as http:
        mismatch = await http.post(
            server.graphql_url,
            json={"query": "query Mine { __typename }", "extensions": _persisted(wrong)},
        )
        later = await http.post(server.graphql_url, json={"extensions": _persisted(wrong)})

    assert mismatch.status_code == 400
    assert mismatch.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert later.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "persisted-documents.json"
    path.write_text(json.dumps({document_hash(LISTED): LISTED}))
    return path


async def test_trusted_only_mode_refuses_an_ad_hoc_query_and_serves_a_listed_one(
    tmp_path: Path, manifest: Path
) -> None:
    settings = make_settings(
        tmp_path / "var",
        redis_url=None,
        trusted_documents_path=manifest,
        trusted_documents_only=True,
    )
    ad_hoc = "query AdHoc { __typename }"

    async with run_server(settings) as server, httpx.AsyncClient(timeout=60) as http:
        api = Api(server.graphql_url)
        refused = await api.call(ad_hoc)
        refused_apq = await http.post(
            server.graphql_url,
            json={"query": ad_hoc, "extensions": _persisted(document_hash(ad_hoc))},
        )
        by_hash = await http.post(
            server.graphql_url, json={"extensions": _persisted(document_hash(LISTED))}
        )
        by_text = await http.post(server.graphql_url, json={"query": LISTED})
        # Sockets are for signed-in clients; register is not a listed document here.
        user = await User.create(email=f"{uuid.uuid4().hex}@example.com")
        token, _ = issue_access_token(server.settings, user_id=user.id, organization_id=None)
        async with api.as_user(token).websocket() as session:
            with pytest.raises(TransportQueryError) as over_websocket:
                await session.execute(gql(ad_hoc))

    assert refused["data"] is None
    assert refused["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert "trusted" in refused["errors"][0]["message"]
    assert refused_apq.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert by_hash.json()["data"] == {"__typename": "Query"}
    assert by_text.json()["data"] == {"__typename": "Query"}
    assert over_websocket.value.errors[0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"  # type: ignore[index]


async def test_a_manifest_without_trusted_only_mode_serves_its_documents_by_hash_and_others_too(
    tmp_path: Path, manifest: Path
) -> None:
    settings = make_settings(tmp_path / "var", redis_url=None, trusted_documents_path=manifest)

    async with run_server(settings) as server, httpx.AsyncClient(timeout=60) as http:
        by_hash = await http.post(
            server.graphql_url, json={"extensions": _persisted(document_hash(LISTED))}
        )
        ad_hoc = await http.post(server.graphql_url, json={"query": "{ __typename }"})

    assert by_hash.json()["data"] == {"__typename": "Query"}
    assert ad_hoc.json()["data"] == {"__typename": "Query"}
