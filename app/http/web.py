"""The built inbox SPA (`web/`, `make web`) under `/app`, when `PARLEY_WEB_DIST` names its build.

One origin in production: the page, its scripts and the API share it, so no CORS is needed. A
file of the build is served as it is; any other path under `/app` is a route of the SPA and gets
`index.html` (the router reads the address). Vite names the files under `assets/` by their
content's hash, so a browser keeps them for a year without asking again; `index.html` names the
current ones and is revalidated on every load, so a new build is picked up at once.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

MOUNT = "/app"
HASHED_ASSETS = "assets/"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


class WebApp:
    def __init__(self, dist: Path) -> None:
        self.dist = dist.resolve()
        if not (self.dist / "index.html").is_file():
            raise ValueError(f"PARLEY_WEB_DIST={dist}: no index.html there (run `make web`)")

    def routes(self) -> list[BaseRoute]:
        return [
            Route(MOUNT, self._to_slash, methods=["GET", "HEAD"]),
            Route(MOUNT + "/{path:path}", self.serve, methods=["GET", "HEAD"]),
        ]

    async def _to_slash(self, request: Request) -> Response:
        return RedirectResponse(MOUNT + "/", status_code=308)

    async def serve(self, request: Request) -> Response:
        path: str = request.path_params["path"]
        file = self._file(path)
        if file is not None:
            cache = IMMUTABLE if path.startswith(HASHED_ASSETS) else REVALIDATE
            return FileResponse(file, headers={"Cache-Control": cache})
        if path.startswith(HASHED_ASSETS):
            # A script of an older build: a 404, never a page in its place.
            return PlainTextResponse("Not Found\n", status_code=404)
        return FileResponse(self.dist / "index.html", headers={"Cache-Control": REVALIDATE})

    def _file(self, path: str) -> Path | None:
        """The build's file at `path`; None outside the build, for a folder or nothing."""
        candidate = (self.dist / path).resolve()
        if not candidate.is_relative_to(self.dist) or not candidate.is_file():
            return None
        return candidate
