"""Batch loaders for accounts; built per operation through ``info.context.loaders.get``."""

from __future__ import annotations

from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from app.models.accounts import Membership, Organization, User


async def _load_users(keys: Sequence[int]) -> list[User | None]:
    users = {user.id: user for user in await User.filter(id__in=list(keys))}
    return [users.get(key) for key in keys]


def user_by_id() -> DataLoader[int, User | None]:
    return DataLoader(load_fn=_load_users)


async def _load_memberships(keys: Sequence[tuple[int, int]]) -> list[Membership | None]:
    by_org: dict[int, list[int]] = {}
    for org_id, user_id in keys:
        by_org.setdefault(org_id, []).append(user_id)
    found: dict[tuple[int, int], Membership] = {}
    for org_id, user_ids in by_org.items():
        for membership in await Membership.filter(organization_id=org_id, user_id__in=user_ids):
            found[(membership.organization_id, membership.user_id)] = membership
    return [found.get(key) for key in keys]


def membership_by_org_and_user() -> DataLoader[tuple[int, int], Membership | None]:
    """Key ``(organization_id, user_id)``."""
    return DataLoader(load_fn=_load_memberships)


async def _load_memberships_of_users(keys: Sequence[int]) -> list[list[Membership]]:
    by_user: dict[int, list[Membership]] = {key: [] for key in keys}
    for membership in await Membership.filter(user_id__in=list(keys)).order_by("id"):
        by_user[membership.user_id].append(membership)
    return [by_user[key] for key in keys]


def memberships_by_user() -> DataLoader[int, list[Membership]]:
    """Key ``user_id``: the user's memberships, oldest first (the first is the organization a
    request without `X-Organization-Id` runs in)."""
    return DataLoader(load_fn=_load_memberships_of_users)


async def _load_organizations(keys: Sequence[int]) -> list[Organization | None]:
    organizations = {o.id: o for o in await Organization.filter(id__in=list(keys))}
    return [organizations.get(key) for key in keys]


def organization_by_id() -> DataLoader[int, Organization | None]:
    return DataLoader(load_fn=_load_organizations)
