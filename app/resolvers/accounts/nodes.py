"""The accounts rows global ids name, as far as the caller may see them.

An id of another organization, or of a user the caller shares none with, is left out exactly
like an id that does not exist.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.models.accounts import Membership, Organization, User
from app.platform.context import Info
from app.resolvers.accounts.members import in_org


async def members(info: Info, ids: Sequence[int]) -> dict[int, Membership]:
    viewer = info.context.viewer
    if viewer is None or viewer.organization_id is None:
        return {}
    return {m.id: m for m in await in_org(Membership.filter(id__in=list(ids)), info)}


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
