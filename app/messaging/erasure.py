"""The right to erasure: a contact and everything Parley holds about them, gone for good.

``erase_contact`` is the one place that knows what a contact leaves behind. Whatever stores
more of a contact (media files, search entries) adds its deletion here, so `deleteContact`
stays complete.
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.expressions import Subquery
from tortoise.transactions import in_transaction

from app.messaging.files import delete_files
from app.models.ai import AgentRun
from app.models.campaigns import Campaign, CampaignRecipient
from app.models.inbox import (
    AdReferral,
    ConversationActivity,
    ConversationLabel,
    ConversationNote,
    MessageReaction,
    Order,
)
from app.models.inbox_sync import InboxChange
from app.models.messaging import Contact, ContactImport, Conversation, Message, WebhookEvent
from app.models.routing import ConversationRoute
from app.platform.config import Settings


@dataclass(frozen=True, slots=True)
class Erased:
    """How much went: counts only, so the audit trail keeps no erased data."""

    conversations: int
    messages: int
    notes: int
    webhook_events: int
    campaign_recipients: int
    import_rows: int
    media_files: int


async def erase_contact(settings: Settings, contact: Contact) -> Erased:
    """Delete ``contact``, its conversations, messages, reactions, orders, ad referrals,
    notes, labels, activity, AI runs, inbox change log entries and routes; blank it out of campaign recipients (the campaign's counts stay) and of
    contact import files; delete the webhook deliveries that carried its number or user id."""
    org_id = contact.organization_id
    async with in_transaction():
        conversation_ids = list(
            await Conversation.filter(organization_id=org_id, contact_id=contact.id).values_list(
                "id", flat=True
            )
        )
        messages = Message.filter(conversation_id__in=conversation_ids)
        media_ids: set[int] = {
            row["media_id"]
            for row in await messages.filter(media_id__isnull=False).values("media_id")
        }
        message_ids = Subquery(messages.values("id"))
        await MessageReaction.filter(message_id__in=message_ids).delete()
        await Order.filter(contact_id=contact.id).delete()
        await AdReferral.filter(contact_id=contact.id).delete()
        await Message.filter(reply_to_id__in=message_ids).update(reply_to_id=None)
        await CampaignRecipient.filter(message_id__in=message_ids).update(message_id=None)
        recipients = await CampaignRecipient.filter(contact_id=contact.id).update(
            contact_id=None, phone="", send_phone=None, variables={}
        )
        if contact.phone_number:
            recipients += await CampaignRecipient.filter(
                campaign_id__in=Subquery(Campaign.filter(organization_id=org_id).values("id")),
                phone=contact.phone_number,
            ).update(phone="", send_phone=None, variables={})
        erased_messages = await messages.count()  # counted first: the search triggers inflate a
        await messages.delete()  # delete's own count on SQLite
        notes = await ConversationNote.filter(conversation_id__in=conversation_ids).delete()
        await ConversationLabel.filter(conversation_id__in=conversation_ids).delete()
        await ConversationActivity.filter(conversation_id__in=conversation_ids).delete()
        await AgentRun.filter(conversation_id__in=conversation_ids).delete()
        await InboxChange.filter(conversation_id__in=conversation_ids).delete()
        await ConversationRoute.filter(conversation_id__in=conversation_ids).delete()
        conversations = await Conversation.filter(id__in=conversation_ids).delete()
        webhook_events, import_rows = 0, 0
        digits = (contact.phone_number or "").removeprefix("+")
        for identifier in (digits, contact.user_id):
            if identifier:
                webhook_events += await WebhookEvent.filter(
                    organization_id=org_id, raw_body__contains=identifier
                ).delete()
        if digits:
            import_rows = await _drop_import_rows(org_id, digits)
        await Contact.filter(id=contact.id).delete()
    # The files only this contact's messages carried, rows and stored objects (after the
    # commit: an object store is not part of the transaction).
    media_files = await delete_files(settings, org_id, media_ids)
    return Erased(
        conversations,
        erased_messages,
        notes,
        webhook_events,
        recipients,
        import_rows,
        len(media_files),
    )


async def _drop_import_rows(org_id: int, digits: str) -> int:
    """Remove the lines naming the number from the organization's imported CSV files."""
    dropped = 0
    for job in await ContactImport.filter(organization_id=org_id, csv_text__contains=digits):
        lines = job.csv_text.splitlines(keepends=True)
        kept = [line for line in lines if digits not in line]
        dropped += len(lines) - len(kept)
        job.csv_text = "".join(kept)
        await job.save(update_fields=["csv_text", "updated_at"])
    return dropped
