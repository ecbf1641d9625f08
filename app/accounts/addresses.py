"""Email addresses as accounts hold them: one spelling per address, checked before use."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email


def normalize_email(email: str) -> str:
    return email.strip().lower()


def email_problem(email: str) -> str | None:
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as error:
        return str(error)
    return None
