"""`parley serve` serves the inbox SPA's build under /app when PARLEY_WEB_DIST names it: its
files as they are (hashed assets cached for a year), every other path under /app the SPA's
index.html (revalidated on each load), and nothing outside the build."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from app.http.web import WebApp
from tests.support.server import make_settings, run_server


def _build(folder: Path) -> Path:
    (folder / "assets").mkdir(parents=True)
    (folder / "index.html").write_text('<script src="/app/assets/index-3f9a.js"></script>')
    (folder / "assets" / "index-3f9a.js").write_text("console.log('inbox')")
    (folder / "favicon.svg").write_text("<svg/>")
    (folder.parent / "secret.txt").write_text("not part of the build")
    return folder


async def test_the_build_is_served_under_app_with_its_routes_falling_back_to_the_page(
    tmp_path: Path,
) -> None:
    dist = _build(tmp_path / "web" / "dist")
    settings = make_settings(tmp_path / "var", web_dist=dist)

    async with run_server(settings) as server, httpx.AsyncClient(base_url=server.url) as http:
        root = await http.get("/app")
        page = await http.get("/app/")
        script = await http.get("/app/assets/index-3f9a.js")
        icon = await http.get("/app/favicon.svg")
        route = await http.get("/app/inbox/Q29udmVyc2F0aW9uOjE=")
        old_script = await http.get("/app/assets/index-0000.js")
        outside = await http.get("/app/../secret.txt")
        escaped = await http.get("/app/%2e%2e/secret.txt")
        api = await http.post("/graphql", json={"query": "{ __typename }"})

    assert root.status_code == 308 and root.headers["location"] == "/app/"
    assert page.status_code == 200 and "index-3f9a.js" in page.text
    assert page.headers["cache-control"] == "no-cache"
    assert script.status_code == 200 and script.text == "console.log('inbox')"
    assert script.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "javascript" in script.headers["content-type"]
    assert icon.status_code == 200 and icon.headers["cache-control"] == "no-cache"
    assert route.status_code == 200 and route.text == page.text
    assert old_script.status_code == 404
    for response in (outside, escaped):
        assert "not part of the build" not in response.text
    assert api.json()["data"] == {"__typename": "Query"}


async def test_without_the_setting_there_is_no_app(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "var")

    async with run_server(settings) as server, httpx.AsyncClient(base_url=server.url) as http:
        response = await http.get("/app/")

    assert response.status_code == 404


def test_a_folder_without_index_html_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"no index\.html there"):
        WebApp(tmp_path)
