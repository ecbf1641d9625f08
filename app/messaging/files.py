"""A file leaves with the last message that carried it, and gives its bytes back to the plan."""

from __future__ import annotations

from collections.abc import Iterable

from app.media import delete_unreferenced
from app.plans import quotas
from app.plans.keys import file_key
from app.plans.limits import Limit
from app.platform.config import Settings


async def delete_files(
    settings: Settings, organization_id: int, media_ids: Iterable[int]
) -> list[int]:
    """Delete the files among ``media_ids`` that no message carries any more (rows and stored
    objects) and release the storage they took; returns the ids deleted."""
    deleted = await delete_unreferenced(settings, organization_id, media_ids)
    await quotas.release_each(
        organization_id, Limit.STORAGE_BYTES, [file_key(media_id) for media_id in deleted]
    )
    return deleted
