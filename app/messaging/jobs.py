"""The messaging jobs, by reference (implemented in ``app.workers.messaging``)."""

from __future__ import annotations

from app.platform.queues import Job

SEND_MESSAGE = Job("default", "send_message")
MARK_READ_AT_PROVIDER = Job("default", "mark_read_at_provider")
SANDBOX_PROGRESS = Job("default", "sandbox_progress")
ROTATE_SANDBOX_QR = Job("default", "rotate_sandbox_qr")
PROCESS_WEBHOOK_EVENT = Job("default", "process_webhook_event")
PROCESS_WEBHOOK_EVENTS = Job("default", "process_webhook_events")
IMPORT_CONTACTS = Job("default", "import_contacts")
SYNC_TEMPLATES = Job("default", "sync_templates")
UNSNOOZE_CONVERSATION = Job("default", "unsnooze_conversation")
DOWNLOAD_MEDIA = Job("default", "download_media")
SEND_TYPING_INDICATOR = Job("default", "send_typing_indicator")
PURGE_EXPIRED = Job("default", "purge_expired")
