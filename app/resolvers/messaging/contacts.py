"""Contacts: E.164 numbers, unique per organization, with tags and attributes."""

from __future__ import annotations

from typing import Any

from tortoise.exceptions import IntegrityError

from app.messaging import contact_imports
from app.messaging.jobs import IMPORT_CONTACTS
from app.messaging.phones import to_e164
from app.messaging.tags import normalize_tags, tags_text
from app.models.messaging import Contact, ContactImport
from app.platform.context import Info
from app.platform.scope import organization_id
from app.platform.user_errors import UserError, UserErrorCode, user_error
from app.resolvers.messaging.devices import bad_phone


async def create_contact(
    info: Info,
    *,
    phone_number: str,
    name: str | None,
    tags: list[str] | None,
    attributes: dict[str, Any] | None,
) -> tuple[Contact | None, list[UserError]]:
    e164 = to_e164(phone_number)
    if e164 is None:
        return None, [bad_phone("phoneNumber")]
    if attributes is not None and not isinstance(attributes, dict):
        return None, [
            user_error("attributes", "Attributes must be a JSON object.", UserErrorCode.INVALID)
        ]
    if any("," in tag for tag in tags or []):
        return None, [user_error("tags", "Tags cannot contain commas.", UserErrorCode.INVALID)]
    clean_tags = normalize_tags(tags)
    try:
        contact = await Contact.create(
            organization_id=organization_id(info),
            phone_number=e164,
            name=(name or "").strip() or None,
            tags=clean_tags,
            tags_text=tags_text(clean_tags),
            attributes=attributes or {},
        )
    except IntegrityError:
        return None, [
            user_error("phoneNumber", "A contact with this number exists.", UserErrorCode.TAKEN)
        ]
    return contact, []


async def csv_from(
    text: str | None, upload: Any, *, max_bytes: int
) -> tuple[str | None, list[UserError]]:
    """The CSV text of an import given as text or as an uploaded file (exactly one). A file is
    bounded like a CSV sent as text (``max_bytes``, the plain request body limit): the larger
    multipart limit is for media files, which stream to storage."""
    if (text is None) == (upload is None):
        return None, [
            user_error("csv", "Give the CSV as `csv` text or as a `file`.", UserErrorCode.REQUIRED)
        ]
    if text is not None:
        return text, []
    data = await upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        return None, [
            user_error(
                "file", f"The CSV file is larger than {max_bytes} bytes.", UserErrorCode.INVALID
            )
        ]
    try:
        # Spreadsheets often save UTF-8 with a byte-order mark; it is not part of the header.
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        return None, [user_error("file", "The file must be UTF-8 text.", UserErrorCode.INVALID)]


async def start_import(
    info: Info, *, csv_text: str
) -> tuple[ContactImport | None, list[UserError]]:
    """Check the CSV's header now; the rows are imported by a job on the `default` queue."""
    if not csv_text.strip():
        return None, [user_error("csv", "Give the CSV text to import.", UserErrorCode.REQUIRED)]
    problem = contact_imports.header_problem(csv_text)
    if problem is not None:
        return None, [user_error("csv", problem, UserErrorCode.INVALID)]
    viewer = info.context.viewer
    assert viewer is not None
    job = await ContactImport.create(
        organization_id=organization_id(info), created_by_id=viewer.user.id, csv_text=csv_text
    )
    await info.context.runtime.queues.enqueue(
        IMPORT_CONTACTS, key=f"contact-import:{job.id}", import_id=job.id, timeout=600
    )
    return job, []
