"""GraphiQL works offline: its page loads nothing from another origin, and its scripts and styles
are served by the API itself (the very bytes strawberry's page pins by hash), or, before `make
graphiql` installed them, the page says so and shows curl."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from strawberry.http.ides import get_graphql_ide_html

from app.http import graphiql
from tests.support.server import RunningServer

HTML = {"accept": "text/html"}


def _external_addresses(page: str) -> list[str]:
    return re.findall(r'(?:src|href)="((?:https?:)?//[^"]+)"', page)


async def test_the_graphiql_page_loads_nothing_from_another_origin(server: RunningServer) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        page = await http.get(server.graphql_url, headers=HTML)
        assets = re.findall(r'(?:src|href)="(/graphql/ide/[^"]+)" integrity="([^"]+)"', page.text)
        served = [(await http.get(server.url + path), integrity) for path, integrity in assets]

    assert page.status_code == 200
    assert "unpkg.com" not in page.text and _external_addresses(page.text) == []
    if graphiql.installed(get_graphql_ide_html("graphiql")):
        assert len(assets) == len(graphiql.page_assets(get_graphql_ide_html("graphiql"))) == 7
        for response, integrity in served:
            assert response.status_code == 200
            assert graphiql.integrity_of(response.content) == integrity
    else:
        assert "GraphiQL is not installed here" in page.text and "make graphiql" in page.text


def test_without_its_files_the_page_says_so_and_shows_curl(tmp_path: Path) -> None:
    page = graphiql.render(get_graphql_ide_html("graphiql"), tmp_path / "empty")

    assert "GraphiQL is not installed here" in page
    assert "make graphiql" in page and "curl -s -XPOST" in page
    assert _external_addresses(page) == []


def test_with_its_files_the_page_points_at_them_with_the_same_hashes(tmp_path: Path) -> None:
    strawberry_page = get_graphql_ide_html("graphiql")
    for asset in graphiql.page_assets(strawberry_page):
        (tmp_path / asset.path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / asset.path).write_text("…")

    page = graphiql.render(strawberry_page, tmp_path)

    assert _external_addresses(page) == []
    assert [(a.path, a.integrity) for a in graphiql.page_assets(strawberry_page)] == re.findall(
        r'(?:src|href)="/graphql/ide/([^"]+)" integrity="([^"]+)"', page
    )


def test_installing_refuses_a_file_that_is_not_the_one_the_page_pins(tmp_path: Path) -> None:
    strawberry_page = get_graphql_ide_html("graphiql")
    node_modules = tmp_path / "node_modules"
    for asset in graphiql.page_assets(strawberry_page):
        (node_modules / asset.path).parent.mkdir(parents=True, exist_ok=True)
        (node_modules / asset.path).write_text("not the real file")

    status = graphiql.install(node_modules, tmp_path / "assets", strawberry_page)

    assert status == 1
    assert not (tmp_path / "assets").exists()


@pytest.mark.parametrize("path", ["/graphql/ide/../../config.py", "/graphql/ide/%2e%2e/main.py"])
async def test_the_asset_route_serves_nothing_outside_its_folder(
    server: RunningServer, path: str
) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.get(server.url + path)

    assert response.status_code == 404
