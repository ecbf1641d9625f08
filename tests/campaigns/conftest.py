"""Campaign tests talk to the fake Graph API as the messaging tests do (one fixture)."""

from tests.support.cloud_api import fake

__all__ = ["fake"]
