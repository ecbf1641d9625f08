"""Campaigns in the schema: queries, mutations and the campaignProgress subscription."""

from app.schema.campaigns.mutations import CampaignsMutation
from app.schema.campaigns.queries import CampaignsQuery, CampaignsSubscription

__all__ = ["CampaignsMutation", "CampaignsQuery", "CampaignsSubscription"]
