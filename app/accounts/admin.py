"""Operator tasks on accounts that run outside a request (``parley createsuperuser``)."""

from __future__ import annotations

from tortoise import Tortoise

from app.accounts.addresses import normalize_email
from app.accounts.passwords import configure_from, hash_password, password_problem
from app.models.accounts import User
from app.platform.config import Settings, tortoise_config


async def create_superuser(settings: Settings, *, email: str, password: str, name: str) -> User:
    email = normalize_email(email)
    problem = password_problem(password, email)
    if problem:
        raise SystemExit(problem)
    configure_from(settings)  # the same argon2id parameters as sign-ups under these settings
    await Tortoise.init(config=tortoise_config(settings.resolved_database_url))
    try:
        user = await User.get_or_none(email=email)
        if user is None:
            user = await User.create(
                email=email,
                name=name,
                password_hash=hash_password(password),
                is_staff=True,
            )
        else:
            user.is_staff = True
            user.password_hash = hash_password(password)
            await user.save(update_fields=["is_staff", "password_hash", "updated_at"])
        return user
    finally:
        await Tortoise.close_connections()
