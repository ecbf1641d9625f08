"""The accounts rows global ids name, as far as the caller may see them.

An id of another organization, or of a user the caller shares none with, is left out exactly
like an id that does not exist.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.models.accounts import Membership, Organization, User
from app.platform.context import Info


async def members(info: Info, ids: Sequence[int]) -> dict[int, Membership]:
    """The members of the caller's organization, and the caller's own memberships of any
    organization (`me.memberships` lists them)."""
    viewer = info.context.viewer
    if viewer is None:
        return {}
    found = await Membership.filter(id__in=list(ids))
    return {
        m.id: m
        for m in found
        if m.organization_id == viewer.organization_id or m.user_id == viewer.user.id
    }


async def users(info: Info, ids: Sequence[int]) -> dict[int, User]:
    viewer = info.context.viewer
    if viewer is None:
        return {}
    visible = {viewer.user.id}
    if viewer.organization_id is not None:
        visible |= set(
            await Membership.filter(
                organization_id=viewer.organization_id, user_id__in=list(ids)
            ).values_list("user_id", flat=True)
        )
    return {u.id: u for u in await User.filter(id__in=[i for i in ids if i in visible])}


async def organizations(info: Info, ids: Sequence[int]) -> dict[int, Organization]:
    viewer = info.context.viewer
    if viewer is None:
        return {}
    mine = set(
        await Membership.filter(user_id=viewer.user.id, organization_id__in=list(ids)).values_list(
            "organization_id", flat=True
        )
    )
    return {o.id: o for o in await Organization.filter(id__in=[i for i in ids if i in mine])}
