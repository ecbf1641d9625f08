"""The job dashboard at /admin/queues: staff users only, everyone else 404."""

from __future__ import annotations

import httpx

from app.models.accounts import User
from app.platform.queues import Job
from tests.support.client import Api
from tests.support.messaging import member
from tests.support.server import RunningServer

PARKED = Job("default", "parked_for_the_dashboard")  # no worker runs it: it stays queued


async def test_a_staff_user_sees_the_queues_and_a_queued_job_and_can_abort_it(
    server: RunningServer, api: Api
) -> None:
    staff = await member(server, api)
    await User.filter(id=staff.user_id).update(is_staff=True)
    await server.runtime.queues.enqueue(PARKED, key="dashboard-job", scheduled=2**31)
    bearer = {"Authorization": f"Bearer {staff.token}"}

    async with httpx.AsyncClient(base_url=server.url, headers=bearer) as http:
        bare = await http.get("/admin/queues")
        page = await http.get("/admin/queues/")
        queues = (await http.get("/admin/queues/api/queues")).json()["queues"]
        default = (await http.get("/admin/queues/api/queues/default")).json()["queue"]
        job = (await http.get("/admin/queues/api/queues/default/jobs/dashboard-job")).json()
        aborted = await http.post("/admin/queues/api/queues/default/jobs/dashboard-job/abort")
        script = await http.get("/admin/queues/static/app.js")

    assert (bare.status_code, bare.headers["location"]) == (307, "/admin/queues/")
    assert page.status_code == 200 and 'root_path = "/admin/queues"' in page.text
    assert {queue["name"] for queue in queues} == {"default", "campaigns", "ai"}
    assert any(j["key"] == "dashboard-job" for j in default["jobs"])
    assert job["job"]["function"] == "parked_for_the_dashboard"
    assert aborted.status_code == 200 and script.status_code == 200
    stored = await server.runtime.queues["default"].job("dashboard-job")
    assert stored is not None and stored.status in ("aborting", "aborted")


async def test_a_staff_browser_gets_a_strict_cookie_that_opens_the_dashboard(
    server: RunningServer, api: Api
) -> None:
    staff = await member(server, api)
    await User.filter(id=staff.user_id).update(is_staff=True)

    async with httpx.AsyncClient(base_url=server.url) as http:
        session = await http.post(
            "/admin/queues/session", headers={"Authorization": f"Bearer {staff.token}"}
        )
        page = await http.get("/admin/queues/api/queues")  # the cookie, no header

    assert session.status_code == 303
    cookie = session.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/admin/queues" in cookie
    assert page.status_code == 200


async def test_anyone_but_a_staff_user_gets_404_everywhere_under_admin_queues(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api)  # an organization's owner is not staff
    callers = {
        "anonymous": {},
        "member": {"Authorization": f"Bearer {owner.token}"},
        "bad token": {"Authorization": "Bearer not-a-token"},
    }
    # Without its slash too: the router's redirect to the slash would say something is there.
    paths = [
        "/admin/queues",
        "/admin/queues/",
        "/admin/queues/api/queues",
        "/admin/queues/static/app.js",
    ]

    async with httpx.AsyncClient(base_url=server.url) as http:
        answers = {
            (who, path): (await http.get(path, headers=headers)).status_code
            for who, headers in callers.items()
            for path in paths
        }
        session = await http.post("/admin/queues/session", headers=callers["member"])
        abort = await http.post(
            "/admin/queues/api/queues/default/jobs/x/abort", headers=callers["member"]
        )

    assert set(answers.values()) == {404}
    assert (session.status_code, abort.status_code) == (404, 404)
