"""The email to an organization's OWNERs and ADMINs when a plan limit is 80 % or 100 % used."""

from __future__ import annotations

from app.accounts.mail import queue_mail_from
from app.models.accounts import Membership, Organization, Role
from app.platform.events import UsageThresholdReached


async def on_usage_threshold(reached: UsageThresholdReached) -> None:
    event = reached.event
    organization = await Organization.get_or_none(id=event.organization_id)
    if organization is None:
        return
    addresses = await Membership.filter(
        organization_id=event.organization_id,
        role__in=(Role.OWNER, Role.ADMIN),
        user__is_active=True,
    ).values_list("user__email", flat=True)
    if event.threshold >= 100:
        subject = f"{organization.name} has reached a plan limit on Parley"
        what = "is used up: actions that need more are refused until the next period or an upgrade"
    else:
        subject = f"{organization.name} has used {event.threshold}% of a plan limit on Parley"
        what = f"is {event.threshold}% used"
    body = (
        f"The limit {event.limit} of {organization.name}'s plan {what}.\n"
        f"Used: {event.used} of {event.allowed}.\n"
        f"See where you stand: {reached.settings.public_url} (organization usage)."
    )
    for address in sorted(set(addresses)):
        await queue_mail_from(
            reached.settings, reached.broker, to=str(address), subject=subject, body=body
        )
