"""Importing contacts from CSV: the header check done at once, the rows done by a job.

Columns: ``phone_number`` (required), ``name``, ``tags`` (``;``-separated); any other column
becomes a custom attribute. A number already in the organization updates that contact (name
replaced when given, tags added, attributes merged) instead of creating a second one.

New contacts count against the plan's ``contacts`` limit: the rows that fit are created, the
others fail with the limit's message. Rows are numbered as a spreadsheet shows them: the header is row 1. The job is safe to run
again: it recounts from the start, and contacts created by an interrupted run are updated.
Importing this module must not build the GraphQL schema (the worker process imports it).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.messaging.phones import to_e164
from app.messaging.tags import normalize_tags, tags_text
from app.models.messaging import Contact, ContactImport, ContactImportStatus
from app.plans import quotas
from app.plans.limits import Limit
from app.platform import clock
from app.platform.input_limits import CONTACT_NAME, TAG, too_long

if TYPE_CHECKING:
    from app.platform.runtime import Runtime

log = structlog.get_logger("parley.messaging")

PHONE, NAME, TAGS = "phone_number", "name", "tags"
MAX_ROWS = 50_000
MAX_IMPORT_ERRORS = 1000
CHUNK = 500


class ContactImportNotFound(Exception):
    def __init__(self, import_id: int) -> None:
        super().__init__(f"contact import {import_id} does not exist")


def _reader(csv_text: str) -> Iterator[list[str]]:
    # newline="": lines end at \n, \r\n or a lone \r (old Macs, some exports) and the csv
    # module sees the line endings itself, as it must for quoted values across lines.
    return csv.reader(io.StringIO(csv_text, newline=""))


def header_problem(csv_text: str) -> str | None:
    """Why this CSV cannot be imported at all, or None."""
    try:
        header = next(_reader(csv_text), None)
    except csv.Error as error:
        return f"The first line is not valid CSV ({error})."
    columns = [column.strip().lower() for column in header or []]
    if PHONE not in columns:
        return f"The first line must name the columns and include `{PHONE}`."
    duplicated = sorted({c for c in columns if c and columns.count(c) > 1})
    if duplicated:
        return f"Column `{duplicated[0]}` appears more than once."
    return None


@dataclass
class _Report:
    total: int = 0
    created: int = 0
    updated: int = 0
    failed: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def fail(self, row: int, column: str | None, message: str) -> None:
        self.failed += 1
        if len(self.errors) < MAX_IMPORT_ERRORS:
            self.errors.append({"row": row, "field": column, "message": message})


@dataclass
class _Row:
    number: int
    phone_number: str
    name: str | None
    tags: list[str]
    attributes: dict[str, str]


async def run_import(runtime: Runtime, import_id: int) -> None:
    job = await ContactImport.get_or_none(id=import_id)
    if job is None:
        raise ContactImportNotFound(import_id)
    if job.status in (ContactImportStatus.COMPLETED, ContactImportStatus.FAILED):
        return
    job.status = ContactImportStatus.RUNNING
    await job.save(update_fields=["status", "updated_at"])
    report = _Report()
    try:
        rows = _parse(job.csv_text, report)
        for start in range(0, len(rows), CHUNK):
            await _store(runtime, job.organization_id, rows[start : start + CHUNK], report)
    except Exception as error:
        log.exception("messaging.contact_import_failed", import_id=import_id)
        job.status, job.error = ContactImportStatus.FAILED, f"{type(error).__name__}: {error}"
    else:
        job.status = ContactImportStatus.COMPLETED
    job.total, job.created, job.updated = report.total, report.created, report.updated
    job.failed, job.errors, job.finished_at = report.failed, report.errors, clock.now()
    await job.save()


def _parse(csv_text: str, report: _Report) -> list[_Row]:
    reader = _reader(csv_text)
    columns = [column.strip().lower() for column in next(reader, [])]
    rows: list[_Row] = []
    first_seen: dict[str, int] = {}
    for number, values in enumerate(reader, start=2):
        if not any(value.strip() for value in values):
            continue  # blank lines are not rows
        report.total += 1
        if report.total > MAX_ROWS:
            report.fail(number, None, f"Only the first {MAX_ROWS} rows are imported.")
            continue
        if len(values) > len(columns):
            report.fail(
                number, None, f"The row has {len(values)} values for {len(columns)} columns."
            )
            continue
        cells = {column: value.strip() for column, value in zip(columns, values, strict=False)}
        e164 = to_e164(cells.get(PHONE, ""))
        if e164 is None:
            report.fail(
                number, PHONE, f"`{PHONE}` must be a phone number in E.164, e.g. +16505551234."
            )
            continue
        if e164 in first_seen:
            report.fail(number, PHONE, f"{e164} is already on row {first_seen[e164]}.")
            continue
        first_seen[e164] = number
        name = cells.get(NAME) or None
        if name is not None and len(name) > CONTACT_NAME:
            report.fail(number, NAME, too_long(NAME, CONTACT_NAME))
            continue
        raw_tags = cells.get(TAGS, "")
        if "," in raw_tags:
            report.fail(number, TAGS, "Separate tags with `;`; a tag cannot contain a comma.")
            continue
        tags = normalize_tags(raw_tags.split(";"))
        if any(len(tag) > TAG for tag in tags):
            report.fail(number, TAGS, f"A tag may be at most {TAG} characters.")
            continue
        attributes = {
            column: value
            for column, value in cells.items()
            if column not in (PHONE, NAME, TAGS) and column and value
        }
        rows.append(_Row(number, e164, name, tags, attributes))
    return rows


async def _store(runtime: Runtime, org_id: int, rows: list[_Row], report: _Report) -> None:
    existing = {
        contact.phone_number: contact
        for contact in await Contact.filter(
            organization_id=org_id, phone_number__in=[row.phone_number for row in rows]
        )
    }
    new = [row for row in rows if row.phone_number not in existing]
    if new:
        async with quotas.capacity(runtime, org_id, Limit.CONTACTS, len(new)) as no:
            # Over the plan's limit: the rows that fit are created, the rest refused.
            room = len(new) if no is None else no.remaining
            for row in new[room:]:
                assert no is not None
                report.fail(row.number, PHONE, no.message)
            for row in new[:room]:
                contact = await _create(org_id, row)
                if contact is None:
                    report.created += 1
                else:
                    existing[row.phone_number] = contact
    for row in rows:
        contact = existing.get(row.phone_number)
        if contact is None:
            continue
        _merge(contact, row)
        await contact.save(update_fields=["name", "tags", "tags_text", "attributes", "updated_at"])
        report.updated += 1


async def _create(org_id: int, row: _Row) -> Contact | None:
    """Create the row's contact; the contact created meanwhile (an inbound message), if any."""
    try:
        async with in_transaction():  # a savepoint: a duplicate leaves the rest of the chunk
            await Contact.create(
                organization_id=org_id,
                phone_number=row.phone_number,
                name=row.name,
                tags=row.tags,
                tags_text=tags_text(row.tags),
                attributes=row.attributes,
            )
    except IntegrityError:
        return await Contact.get(organization_id=org_id, phone_number=row.phone_number)
    return None


def _merge(contact: Contact, row: _Row) -> None:
    if row.name:
        contact.name = row.name
    contact.tags = normalize_tags([*(contact.tags or []), *row.tags])
    contact.tags_text = tags_text(contact.tags)
    contact.attributes = {**(contact.attributes or {}), **row.attributes}
