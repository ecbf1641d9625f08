"""Plans tests use the fake Graph API and the fake model endpoint of the other domains' tests."""

from tests.ai.conftest import fake_openai, llm
from tests.support.cloud_api import fake

__all__ = ["fake", "fake_openai", "llm"]
