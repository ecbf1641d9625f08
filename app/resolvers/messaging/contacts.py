"""Contacts: E.164 numbers, unique per organization, with tags and attributes."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from app.messaging import contact_csv, contact_imports, erasure
from app.messaging.jobs import IMPORT_CONTACTS
from app.messaging.phones import to_e164
from app.messaging.tags import normalize_tags, tags_text
from app.models.messaging import Contact, ContactImport
from app.plans import quotas
from app.plans.limits import Limit
from app.platform.context import Info
from app.platform.ids import decode_id
from app.platform.scope import organization_id
from app.platform.user_errors import UserError, UserErrorCode, user_error
from app.resolvers.accounts.common import audit
from app.resolvers.messaging.devices import bad_phone, not_found

MAX_EXPORT = 100_000  # contacts in one CSV export
EXPORT_PAGE = 1000


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
    org_id = organization_id(info)
    taken = [user_error("phoneNumber", "A contact with this number exists.", UserErrorCode.TAKEN)]
    if await Contact.exists(organization_id=org_id, phone_number=e164):
        return None, taken
    async with quotas.capacity(info.context.runtime, org_id, Limit.CONTACTS) as no:
        if no is not None:
            return None, [no.user_error()]
        try:
            async with (
                in_transaction()
            ):  # a savepoint: a duplicate leaves the lock's transaction usable
                contact = await Contact.create(
                    organization_id=org_id,
                    phone_number=e164,
                    name=(name or "").strip() or None,
                    tags=clean_tags,
                    tags_text=tags_text(clean_tags),
                    attributes=attributes or {},
                )
        except IntegrityError:
            return None, taken
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


ContactResult = tuple[Contact | None, list[UserError]]


async def find_contact(info: Info, contact_id: str) -> Contact | None:
    pk = decode_id(contact_id, "Contact", field=("input", "contactId"))
    return await Contact.get_or_none(id=pk, organization_id=organization_id(info))


def _tag_problem(tags: list[str] | None) -> list[UserError]:
    if any("," in tag for tag in tags or []):
        return [user_error("tags", "Tags cannot contain commas.", UserErrorCode.INVALID)]
    return []


async def update_contact(
    info: Info,
    *,
    contact_id: str,
    name: str | None,
    tags: list[str] | None,
    attributes: dict[str, Any] | None,
) -> ContactResult:
    """Change what is given: ``name`` (empty clears it), ``tags`` (replaced), ``attributes``
    (merged: a key set to null is removed)."""
    contact = await find_contact(info, contact_id)
    if contact is None:
        return None, [not_found("contactId", "contact")]
    if attributes is not None and not isinstance(attributes, dict):
        return None, [
            user_error("attributes", "Attributes must be a JSON object.", UserErrorCode.INVALID)
        ]
    if errors := _tag_problem(tags):
        return None, errors
    changed: list[str] = []
    if name is not None:
        contact.name = name.strip() or None
        changed.append("name")
    if tags is not None:
        _set_tags(contact, normalize_tags(tags))
        changed += ["tags", "tags_text"]
    if attributes is not None:
        merged = dict(contact.attributes or {}) | attributes
        contact.attributes = {key: value for key, value in merged.items() if value is not None}
        changed.append("attributes")
    if changed:
        await contact.save(update_fields=[*changed, "updated_at"])
    return contact, []


def _set_tags(contact: Contact, tags: list[str]) -> None:
    contact.tags = tags
    contact.tags_text = tags_text(tags)


async def change_tags(info: Info, *, contact_id: str, tags: list[str], add: bool) -> ContactResult:
    contact = await find_contact(info, contact_id)
    if contact is None:
        return None, [not_found("contactId", "contact")]
    if errors := _tag_problem(tags):
        return None, errors
    given = normalize_tags(tags)
    if not given:
        return None, [user_error("tags", "Give at least one tag.", UserErrorCode.REQUIRED)]
    current = list(contact.tags or [])
    if add:
        new = normalize_tags([*current, *given])
    else:
        new = [tag for tag in current if tag not in given]
    if new != current:
        _set_tags(contact, new)
        await contact.save(update_fields=["tags", "tags_text", "updated_at"])
    return contact, []


async def delete_contact(
    info: Info, *, contact_id: str, confirm: bool
) -> tuple[int | None, list[UserError]]:
    """Erase the contact (the right to erasure): irreversible, so ``confirm`` must be true.
    The audit event names the contact's id and counts only, none of the erased data."""
    contact = await find_contact(info, contact_id)
    if contact is None:
        return None, [not_found("contactId", "contact")]
    if not confirm:
        return None, [
            user_error(
                "confirm",
                "Erasing a contact deletes its conversations and messages for good: pass "
                "`confirm: true`.",
                UserErrorCode.REQUIRED,
            )
        ]
    erased = await erasure.erase_contact(info.context.settings, contact)
    viewer = info.context.viewer
    assert viewer is not None
    await audit(
        info,
        "contact.erased",
        actor_id=viewer.user.id,
        organization_id=contact.organization_id,
        contact_id=contact.id,
        **asdict(erased),
    )
    return contact.id, []


async def export_csv(info: Info, queryset: QuerySet[Contact]) -> tuple[str, int]:
    """The contacts as CSV, in the columns importContacts reads (attributes one column each),
    read a page at a time; audited (who exported how many, not what)."""
    rows: list[Contact] = []
    after = 0
    while len(rows) < MAX_EXPORT:
        page = await queryset.filter(id__gt=after).order_by("id").limit(EXPORT_PAGE)
        rows += page
        if len(page) < EXPORT_PAGE:
            break
        after = page[-1].id
    rows = rows[:MAX_EXPORT]
    text = contact_csv.write(rows)
    viewer = info.context.viewer
    assert viewer is not None
    await audit(
        info,
        "contacts.exported",
        actor_id=viewer.user.id,
        organization_id=organization_id(info),
        count=len(rows),
    )
    return text, len(rows)
