"""Accounts in the schema: `me`, `organization`, `auditEvents` and the auth mutations."""

from app.schema.accounts.mutations import AccountsMutation
from app.schema.accounts.queries import AccountsQuery

__all__ = ["AccountsMutation", "AccountsQuery"]
