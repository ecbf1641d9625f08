"""SAQ's job dashboard under ``/admin/queues``, for staff users only.

SAQ's web UI (``saq.web``) is a page, its static files and a small JSON API. Its own Starlette
app keeps the queues in a module global; here the same page, files and JSON are served from
this process's runtime, behind one check: the caller is a signed-in, active staff user (a bearer
token, or the ``parley_admin`` cookie a staff user's browser gets from ``POST
/admin/queues/session``). Anyone else gets the same 404 as a path that does not exist: the
dashboard is not there for them. Retrying or aborting a job (the UI's two buttons) are the only
writes; they need a staff user too, and the cookie is ``SameSite=Strict``, so another site's page
cannot press them.
"""

from __future__ import annotations

from typing import Any

import structlog
from saq.queue import Queue
from saq.web.common import STATIC_PATH, job_dict, render
from saq.web.starlette import GZStaticFiles
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route, Router

from app.http.authentication import authenticate
from app.platform import clock
from app.platform.context import Viewer
from app.platform.errors import AppError

log = structlog.get_logger("parley.admin")

ROOT = "/admin/queues"
COOKIE = "parley_admin"


async def staff_viewer(request: Request) -> Viewer | None:
    """The staff user calling, from the bearer token or the dashboard's cookie; None for
    anyone else (anonymous, a bad or revoked token, a user who is not staff)."""
    authorization = request.headers.get("authorization")
    if authorization is None and (cookie := request.cookies.get(COOKIE)):
        authorization = f"Bearer {cookie}"
    if authorization is None:
        return None
    try:
        viewer = await authenticate(request.app.state.runtime, authorization, None)
    except AppError:
        return None
    return viewer if viewer is not None and viewer.user.is_staff else None


def _not_found() -> Response:
    return PlainTextResponse("Not Found", status_code=404)


def _queues(request: Request) -> dict[str, Queue]:
    return dict(request.app.state.runtime.queues.by_name)


async def _page(request: Request) -> Response:
    return Response(render(root_path=ROOT), media_type="text/html")


async def _queue_info(request: Request) -> Response:
    queues = _queues(request)
    name = request.path_params.get("queue")
    if name is None:
        return JSONResponse({"queues": [await queue.info() for queue in queues.values()]})
    if name not in queues:
        return _not_found()
    return JSONResponse({"queue": await queues[name].info(jobs=True)})


async def _job(request: Request) -> Any:
    queue = _queues(request).get(request.path_params["queue"])
    return await queue.job(request.path_params["job"]) if queue is not None else None


async def _job_info(request: Request) -> Response:
    job = await _job(request)
    return JSONResponse({"job": job_dict(job)}) if job is not None else _not_found()


async def _retry(request: Request) -> Response:
    job = await _job(request)
    if job is None:
        return _not_found()
    await job.retry("retried from the job dashboard")
    log.info("admin.job_retried", job=job.key, queue=job.queue.name if job.queue else None)
    return JSONResponse({})


async def _abort(request: Request) -> Response:
    job = await _job(request)
    if job is None:
        return _not_found()
    await job.abort("aborted from the job dashboard")
    log.info("admin.job_aborted", job=job.key, queue=job.queue.name if job.queue else None)
    return JSONResponse({})


async def _open_session(request: Request) -> Response:
    """A staff user's browser: the access token (Authorization header) becomes a cookie for
    the dashboard's pages and their JSON calls, for the token's remaining life."""
    viewer = await staff_viewer(request)
    token = (request.headers.get("authorization") or "").partition(" ")[2].strip()
    if viewer is None or not token:
        return _not_found()
    settings = request.app.state.runtime.settings
    response = RedirectResponse(f"{ROOT}/", status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        max_age=max(0, viewer.claims.expires_at - int(clock.timestamp())),
        path=ROOT,
        secure=settings.env == "production",
        httponly=True,
        samesite="strict",
    )
    return response


class AdminQueues:
    """The dashboard's ASGI app: every request is checked for a staff user first."""

    def __init__(self) -> None:
        self.router = Router(
            routes=[
                Route("/", _page),
                Route("/queues/{queue}", _page),
                Route("/queues/{queue}/jobs/{job}", _page),
                Route("/api/queues", _queue_info),
                Route("/api/queues/{queue}", _queue_info),
                Route("/api/queues/{queue}/jobs/{job}", _job_info),
                Route("/api/queues/{queue}/jobs/{job}/retry", _retry, methods=["POST"]),
                Route("/api/queues/{queue}/jobs/{job}/abort", _abort, methods=["POST"]),
                Route("/session", _open_session, methods=["POST"]),
                Mount("/static", GZStaticFiles(directory=STATIC_PATH)),
            ]
        )

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        if scope["type"] != "http" or await staff_viewer(request) is None:
            await _not_found()(scope, receive, send)
            return
        await self.router(scope, receive, send)


async def _root(request: Request) -> Response:
    """``/admin/queues`` without its slash: the dashboard for a staff user, the same 404 for
    anyone else (the router's own redirect to the slash would tell them something is there)."""
    if await staff_viewer(request) is None:
        return _not_found()
    return RedirectResponse(f"{ROOT}/", status_code=307)


def admin_routes() -> list[Route | Mount]:
    return [Route(ROOT, _root, methods=["GET", "HEAD"]), Mount(ROOT, app=AdminQueues())]
