"""The media domain: files stored behind one small interface (a folder or S3), sniffed and
checked against Meta's limits, deduplicated per organization, linked by short-lived signed URLs.

What other code calls:

- ``store_upload(settings, organization_id, file, file_name)`` → ``MediaFile`` (raises
  ``MediaRefused`` with a message for a userError);
- ``store_received(...)`` for a file a customer sent;
- ``url_for(settings, media_file, base_url)`` → a link a browser can open;
- ``delete_unreferenced(settings, organization_id, media_ids)`` after deleting messages;
- ``storage_for(settings)`` for the bytes themselves.

Sending a file to Meta (its media id per device) is messaging's: ``app.messaging.media``.
"""

from app.media.files import (
    FileTooLarge,
    MediaRefused,
    UnsupportedType,
    delete_unreferenced,
    store_received,
    store_upload,
)
from app.media.links import url_for
from app.media.storage import Storage, storage_for

__all__ = [
    "FileTooLarge",
    "MediaRefused",
    "Storage",
    "UnsupportedType",
    "delete_unreferenced",
    "storage_for",
    "store_received",
    "store_upload",
    "url_for",
]
