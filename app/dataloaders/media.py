"""Batch loaders for media files (``Message.media``, ``node(id:)``)."""

from __future__ import annotations

from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from app.models.media import MediaFile


async def _load_media_files(keys: Sequence[int]) -> list[MediaFile | None]:
    by_id = {row.id: row for row in await MediaFile.filter(id__in=set(keys))}
    return [by_id.get(key) for key in keys]


def media_file_by_id() -> DataLoader[int, MediaFile | None]:
    return DataLoader(load_fn=_load_media_files)
