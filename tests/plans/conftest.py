"""Plans tests talk to the fake Graph API as the campaign tests do (one fixture)."""

from tests.support.cloud_api import fake

__all__ = ["fake"]
