"""GraphiQL without a CDN: strawberry's page, its scripts and styles served by Parley.

Strawberry's ``graphiql.html`` loads React, GraphiQL and its explorer plugin from unpkg.com, each
with a subresource-integrity hash. ``make graphiql`` (run by ``make dev`` when npm is there)
installs the same package versions from ``clients/graphiql/package-lock.json`` and
``python -m app.http.graphiql`` copies the files the page names into ``app/static/graphiql/``,
checking each against the page's hash. The page is then served with those addresses pointing at
``/graphql/ide/…`` and the hashes kept, so a browser runs only the very bytes the CDN would have
served. Without the files the page loads nothing from the network: it says how to install them
and how to query the API with curl meanwhile.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles
from strawberry.http.ides import get_graphql_ide_html

ASSETS_DIR = Path(__file__).resolve().parents[1] / "static" / "graphiql"
ASSETS_PATH = "/graphql/ide"

# <script src="https://unpkg.com/react@18.2.0/umd/…" integrity="sha384-…">, attributes in order.
_CDN_ASSET = re.compile(
    r'(?P<attr>src|href)="https://unpkg\.com/'
    r"(?P<package>(?:@[\w.-]+/)?[\w.-]+)@(?P<version>[\w.-]+)/(?P<file>[^\"]+)\"\s+"
    r'integrity="(?P<integrity>sha384-[A-Za-z0-9+/=]+)"'
)


@dataclass(frozen=True)
class Asset:
    package: str
    version: str
    file: str
    integrity: str

    @property
    def path(self) -> str:
        """Where it lives under the assets directory and under ``/graphql/ide/``."""
        return f"{self.package}/{self.file}"


def page_assets(page: str) -> list[Asset]:
    return [
        Asset(m["package"], m["version"], m["file"], m["integrity"])
        for m in _CDN_ASSET.finditer(page)
    ]


def integrity_of(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def installed(page: str, directory: Path = ASSETS_DIR) -> bool:
    assets = page_assets(page)
    return bool(assets) and all((directory / asset.path).is_file() for asset in assets)


def render(page: str, directory: Path = ASSETS_DIR) -> str:
    """Strawberry's page on local assets, or a page that needs no network when they are missing."""
    if not installed(page, directory):
        return _fallback_page()

    def local(match: re.Match[str]) -> str:
        path = f"{match['package']}/{match['file']}"
        return f'{match["attr"]}="{ASSETS_PATH}/{path}" integrity="{match["integrity"]}"'

    rendered = _CDN_ASSET.sub(local, page)
    # Same-origin now: `crossorigin` would only ask for CORS headers nobody needs.
    return re.sub(r"\n\s*crossorigin\n", "\n", rendered)


class AssetFiles(StaticFiles):
    async def check_config(self) -> None:
        try:
            await super().check_config()
        except RuntimeError:  # no folder: not installed (yet), and files installed later are found
            raise HTTPException(status_code=404) from None


def asset_files(directory: Path = ASSETS_DIR) -> StaticFiles:
    return AssetFiles(directory=directory, check_dir=False)


def install(node_modules: Path, directory: Path = ASSETS_DIR, page: str | None = None) -> int:
    """Copy every file strawberry's page names out of ``node_modules``, checking its hash."""
    page = page if page is not None else get_graphql_ide_html("graphiql")
    problems = []
    for asset in page_assets(page):
        source = node_modules / asset.path
        if not source.is_file():
            problems.append(f"{source} is missing (npm package {asset.package}@{asset.version})")
            continue
        if integrity_of(source.read_bytes()) != asset.integrity:
            problems.append(f"{source} is not {asset.package}@{asset.version}'s file")
            continue
        target = directory / asset.path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


def _fallback_page() -> str:
    example = html.escape(
        "curl -s -XPOST http://HOST/graphql -H 'content-type: application/json' \\\n"
        '  -d \'{"query":"{ __typename }"}\''
    )
    return f"""<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>Parley GraphQL</title>
    <style>
      body {{ font-family: system-ui, sans-serif; max-width: 46rem; margin: 3rem auto; padding: 0 1rem; line-height: 1.5; }}
      pre {{ background: #f4f4f4; padding: 1rem; overflow-x: auto; }}
    </style>
  </head>
  <body>
    <h1>GraphiQL is not installed here</h1>
    <p>This server serves GraphiQL's scripts itself and never loads them from a CDN, but its
    copy of them is missing. Install them once (npm needs to reach its registry), then reload:</p>
    <pre>make graphiql</pre>
    <p>(<code>make dev</code> does it when npm is available.) Meanwhile the API answers at this
    address: POST a JSON body <code>{{"query": …, "variables": …}}</code>, with
    <code>Authorization: Bearer &lt;accessToken&gt;</code> once signed in:</p>
    <pre id="curl">{example}</pre>
    <p>Subscriptions speak graphql-transport-ws on the same address. The schema is the
    repository's <code>schema.graphql</code>; the README's quick start goes from sign-up to a
    live conversation.</p>
    <script>
      const example = document.getElementById("curl");
      example.textContent = example.textContent.replace("http://HOST/graphql", location.href.split("?")[0]);
    </script>
  </body>
</html>
"""


if __name__ == "__main__":
    # python -m app.http.graphiql NODE_MODULES [TARGET]
    arguments = sys.argv[1:]
    if not 1 <= len(arguments) <= 2:
        sys.exit("usage: python -m app.http.graphiql NODE_MODULES [TARGET_DIR]")
    target = Path(arguments[1]) if len(arguments) == 2 else ASSETS_DIR
    sys.exit(install(Path(arguments[0]), target))
