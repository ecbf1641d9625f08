"""The plan's storage (`storageBytes`): uploads count their bytes once per file, an upload
beyond the limit is refused and leaves nothing stored, and a deleted file gives its bytes back."""

from __future__ import annotations

from tests.plans.support import on_plan, usage
from tests.support.media import png, upload, uploaded
from tests.support.messaging import Member, sandbox_device
from tests.support.server import RunningServer

DELETE_DEVICE = """
mutation($input: DeleteDeviceInput!) {
  deleteDevice(input: $input) { deletedDeviceId userErrors { field code } }
}
"""
SIMULATE = """
mutation($input: SimulateInboundMessageInput!) {
  simulateInboundMessage(input: $input) { userErrors { field message code } }
}
"""


async def test_uploads_beyond_the_plans_storage_are_refused_and_deleted_files_give_it_back(
    server: RunningServer, owner: Member, admin: Member
) -> None:
    first, second = png(width=40, height=40, seed=1), png(width=40, height=40, seed=2)
    await on_plan(admin, owner, storageBytes=len(first) + len(second) // 2)

    stored = (await uploaded(owner, first, "a.png"))["mediaFile"]
    again = (await uploaded(owner, first, "copy-of-a.png"))["mediaFile"]
    refused = (await upload(owner, second, "b.png")).json()["data"]["uploadMedia"]
    files = sorted((server.settings.var_dir / "media" / str(owner.organization_id)).iterdir())

    assert again["id"] == stored["id"]  # the same bytes: one file, counted once
    assert (await usage(owner))["storageBytes"] == len(first)
    assert refused["mediaFile"] is None
    [error] = refused["userErrors"]
    assert (error["field"], error["code"]) == (["input", "file"], "LIMIT_EXCEEDED")
    assert "storage" in error["message"].lower() or "storageBytes" in error["message"]
    assert [path.name for path in files] == [stored["sha256"]]  # nothing of the refused file

    # The file goes with the device whose message carried it, and its bytes with it.
    device_id = await sandbox_device(owner)
    sent = await owner.api.data(
        SIMULATE,
        {"input": {"deviceId": device_id, "from": "+14155550111", "mediaFileId": stored["id"]}},
    )
    assert sent["simulateInboundMessage"]["userErrors"] == []
    deleted = await owner.api.data(DELETE_DEVICE, {"input": {"deviceId": device_id}})
    assert deleted["deleteDevice"]["userErrors"] == []
    assert (await usage(owner))["storageBytes"] == 0
    assert (await uploaded(owner, second, "b.png"))["mediaFile"]["size"] == len(second)
