"""How long a string input may be, and how large a JSON one: the one table of input limits.

A string that is stored in a column may be as long as that column and no longer; the lengths
are read from the models, so the table and the columns cannot drift apart. A string that is
not stored as it is (a password, a token, a search term, a part of a message's JSON payload)
gets a bound of its own, named below. ``app.schema.input_checks`` applies the table to every
mutation's ``input`` and to the query arguments listed, before any resolver runs; a test
checks that every String field of every input type of the schema has its entry here.
"""

from __future__ import annotations

from tortoise.fields import CharField
from tortoise.models import Model

from app.models.accounts import OneTimeToken, Organization, User
from app.models.ai import AIAgent, KnowledgeEntry
from app.models.campaigns import Campaign
from app.models.inbox import AdReferral, CannedResponse, Label
from app.models.integrations import ApiKey, Webhook
from app.models.messaging import Contact, Device, Message, Template
from app.models.plans import Plan
from app.models.routing import InboxSettings, Team


def column(model: type[Model], name: str) -> int:
    """The length of a CharField column."""
    field = model._meta.fields_map[name]
    if not isinstance(field, CharField):
        raise TypeError(f"{model.__name__}.{name} is not a CharField")
    return int(field.max_length)


EMAIL = column(User, "email")
CONTACT_NAME = column(Contact, "name")
TEMPLATE_NAME = column(Template, "name")
TEMPLATE_LANGUAGE = column(Template, "language")

# Not stored as given: bounds of their own.
PASSWORD = 1024  # hashed; generous for passphrases and password managers
TOKEN = 512  # opaque tokens are 43 characters; hashed before they are looked up
OTP = 64  # a 6-digit TOTP code or a recovery code, with the spaces people type
SECRET = 4096  # Meta's access tokens and app secrets, stored encrypted
PHONE_INPUT = 64  # a number as typed, spaces and punctuation included; stored as E.164
URL = 2048
TAG = 100  # contact and campaign tags, stored in JSON and in `tags_text`
CONTENT = 4096  # any part of a message (WhatsApp's longest text); message rules say more
NAME_IN_JSON = 200  # tool names, keywords and variable names kept in JSON lists
WEBHOOK_DOCUMENT = 10_000  # a webhook's subscription document (a text column)
LONG_TEXT = 100_000  # agent instructions, knowledge entries and briefs (text columns)
SEARCH_QUERY = 500  # full-text search: its first 12 words count

# JSON inputs (contact attributes, business hours, template components).
JSON_DEPTH = 10
JSON_BYTES = 65_536

# Input type -> field -> the longest string it accepts (GraphQL names; list fields: each item).
LENGTHS: dict[str, dict[str, int]] = {
    "RegisterInput": {
        "email": EMAIL,
        "password": PASSWORD,
        "name": column(User, "name"),
        "organizationName": column(Organization, "name"),
        "invitationToken": TOKEN,
    },
    "LoginInput": {"email": EMAIL, "password": PASSWORD, "otp": OTP},
    "RefreshTokenInput": {"refreshToken": TOKEN},
    "LogoutInput": {"refreshToken": TOKEN},
    "RequestPasswordResetInput": {"email": EMAIL},
    "ResetPasswordInput": {"token": TOKEN, "password": PASSWORD, "otp": OTP},
    "ConfirmEmailInput": {"token": TOKEN},
    "ChangePasswordInput": {"currentPassword": PASSWORD, "newPassword": PASSWORD},
    "BeginTotpEnrollmentInput": {"password": PASSWORD},
    "ConfirmTotpEnrollmentInput": {"otp": OTP},
    "DisableTotpInput": {"password": PASSWORD},
    "InviteMemberInput": {"email": column(OneTimeToken, "email")},
    "AcceptInvitationInput": {"token": TOKEN},
    "CloudApiCredentialsInput": {
        "phoneNumberId": column(Device, "phone_number_id"),
        "accessToken": SECRET,
        "appSecret": SECRET,
        "verifyToken": column(Device, "verify_token"),
        "wabaId": column(Device, "waba_id"),
        "appId": column(Device, "app_id"),
    },
    "CreateDeviceInput": {"name": column(Device, "name"), "phoneNumber": PHONE_INPUT},
    "UpdateDeviceInput": {"name": column(Device, "name")},
    "SimulateQrScanInput": {"qrCode": column(Device, "qr_code")},
    "CreateContactInput": {"phoneNumber": PHONE_INPUT, "name": CONTACT_NAME, "tags": TAG},
    "CreateTemplateInput": {
        "name": TEMPLATE_NAME,
        "language": TEMPLATE_LANGUAGE,
        "category": column(Template, "category"),
    },
    "TemplateHeaderInput": {"text": CONTENT, "link": URL},
    "TemplateButtonInput": {"parameter": CONTENT},
    "TemplateMessageInput": {
        "oneTimeCode": CONTENT,
        "name": TEMPLATE_NAME,
        "language": TEMPLATE_LANGUAGE,
        "parameters": CONTENT,
    },
    "MediaMessageInput": {
        "link": URL,
        "mediaId": CONTENT,
        "caption": CONTENT,
        "filename": CONTENT,
    },
    "LocationMessageInput": {"name": CONTENT, "address": CONTENT},
    "ReactionMessageInput": {"emoji": CONTENT},
    "ReplyButtonInput": {"id": CONTENT, "title": CONTENT},
    "ListRowInput": {"id": CONTENT, "title": CONTENT, "description": CONTENT},
    "ListSectionInput": {"title": CONTENT},
    "InteractiveMessageInput": {
        "body": CONTENT,
        "header": CONTENT,
        "footer": CONTENT,
        "listButton": CONTENT,
    },
    "SendMessageInput": {
        "to": PHONE_INPUT,
        "text": CONTENT,
        "clientMessageId": column(Message, "client_message_id"),
    },
    "UpdateContactInput": {"name": CONTACT_NAME, "tags": TAG},
    "ContactTagsInput": {"tags": TAG},
    "ContactFilterInput": {
        "search": max(CONTACT_NAME, column(Contact, "phone_number")),
        "tags": TAG,
        "anyTags": TAG,
    },
    "CreateLabelInput": {"name": column(Label, "name"), "color": column(Label, "color")},
    "AddConversationNoteInput": {"body": LONG_TEXT},
    "CreateCannedResponseInput": {
        "shortcut": column(CannedResponse, "shortcut"),
        "body": CONTENT,
    },
    "ReactToMessageInput": {
        "emoji": CONTENT,
        "clientMessageId": column(Message, "client_message_id"),
    },
    "SimulateInboundMessageInput": {"from": PHONE_INPUT, "text": CONTENT, "name": CONTACT_NAME},
    "CreateAIAgentInput": {
        "name": column(AIAgent, "name"),
        "instructions": LONG_TEXT,
        "model": column(AIAgent, "model"),
        "tools": NAME_IN_JSON,
        "handoffKeywords": NAME_IN_JSON,
    },
    "UpdateAIAgentInput": {
        "name": column(AIAgent, "name"),
        "instructions": LONG_TEXT,
        "model": column(AIAgent, "model"),
        "tools": NAME_IN_JSON,
        "handoffKeywords": NAME_IN_JSON,
    },
    "DraftCampaignCopyInput": {"brief": LONG_TEXT, "variables": NAME_IN_JSON},
    "SaveKnowledgeEntryInput": {"title": column(KnowledgeEntry, "title"), "body": LONG_TEXT},
    "CampaignTemplateInput": {
        "name": column(Campaign, "template_name"),
        "language": column(Campaign, "template_language"),
        "parameters": CONTENT,
    },
    "CreateApiKeyInput": {"name": column(ApiKey, "name")},
    "CreateWebhookInput": {
        "name": column(Webhook, "name"),
        "url": column(Webhook, "url"),
        "query": WEBHOOK_DOCUMENT,
    },
    "UpdateWebhookInput": {
        "name": column(Webhook, "name"),
        "url": column(Webhook, "url"),
        "query": WEBHOOK_DOCUMENT,
    },
    "CreateCampaignInput": {"name": column(Campaign, "name"), "text": CONTENT, "tags": TAG},
    "CreateTeamInput": {"name": column(Team, "name")},
    "RenameTeamInput": {"name": column(Team, "name")},
    "UpdateInboxSettingsInput": {
        "awayMessage": CONTENT,
        "searchLanguage": column(InboxSettings, "search_language"),
    },
    "CreatePlanInput": {"name": column(Plan, "name"), "features": NAME_IN_JSON},
    "UpdatePlanInput": {"name": column(Plan, "name"), "features": NAME_IN_JSON},
}

# String inputs with no length of their own here, and why.
NOT_LIMITED: dict[str, dict[str, str]] = {
    "ImportContactsInput": {
        "csv": "each row is checked by the import against the contact columns; the request "
        "body limit bounds the whole",
    },
}

# Query field -> argument -> the longest string it accepts.
ARGUMENTS: dict[str, dict[str, int]] = {
    # A search term longer than the longest column it is matched against matches nothing.
    "contacts": {
        "search": max(CONTACT_NAME, column(Contact, "phone_number")),
        "tags": TAG,
    },
    "knowledgeEntries": {"search": column(KnowledgeEntry, "title")},
    "cannedResponses": {"search": column(CannedResponse, "shortcut") + 1},
    "adReferrals": {"sourceId": column(AdReferral, "source_id")},
    "searchMessages": {"query": SEARCH_QUERY},
    "searchContacts": {"query": SEARCH_QUERY},
}


def too_long(field: str, limit: int) -> str:
    return f"`{field}` may be at most {limit} characters."


def json_problem(field: str, value: object) -> tuple[str, int] | None:
    """Why a JSON input is too deep or too large (and the limit it broke), or None."""
    if _depth_exceeds(value, JSON_DEPTH):
        return f"`{field}` may nest at most {JSON_DEPTH} levels deep.", JSON_DEPTH
    if _size_exceeds(value, JSON_BYTES):
        return f"`{field}` may be at most {JSON_BYTES} bytes as JSON.", JSON_BYTES
    return None


def _depth_exceeds(value: object, limit: int) -> bool:
    # Iterative: the value may be nested far deeper than Python's recursion limit.
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def _size_exceeds(value: object, limit: int) -> bool:
    """Whether ``value`` as JSON is longer than ``limit`` bytes (counted up to the limit)."""
    size = 0
    stack: list[object] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            size += 2 + len(item)
            for key, child in item.items():
                size += len(str(key).encode()) + 3
                stack.append(child)
        elif isinstance(item, list):
            size += 2 + len(item)
            stack.extend(item)
        elif isinstance(item, str):
            size += len(item.encode()) + 2
        else:
            size += len(str(item))
        if size > limit:
            return True
    return False
