"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.platform.config import Settings

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters

MIN_LENGTH = 10
_COMMON = frozenset(
    [
        "password1234",
        "123456789012",
        "1234567890",
        "qwertyuiop",
        "password123",
        "passw0rd12",
        "iloveyou12",
        "letmein1234",
        "welcome123",
        "administrator",
        "1q2w3e4r5t",
        "qwerty12345",
        "abc1234567",
        "0987654321",
        "changeme123",
        "football123",
        "baseball123",
        "superman123",
        "trustno1234",
        "sunshine123",
    ]
)


def configure_hasher(*, time_cost: int, memory_cost: int, parallelism: int) -> None:
    global _hasher
    if (_hasher.time_cost, _hasher.memory_cost, _hasher.parallelism) == (
        time_cost,
        memory_cost,
        parallelism,
    ):
        return
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)


def configure_from(settings: Settings) -> None:
    """Use the argon2id parameters of ``settings``; older hashes are upgraded at login."""
    configure_hasher(
        time_cost=settings.password_time_cost,
        memory_cost=settings.password_memory_cost,
        parallelism=settings.password_parallelism,
    )


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def password_problem(password: str, email: str) -> str | None:
    """Why ``password`` is not acceptable, or ``None``."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters."
    if password.strip().lower() == email.strip().lower():
        return "The password must not be your email address."
    if password.lower() in _COMMON:
        return "This password is too common."
    return None
