"""The integrations domain: API keys, and outbound webhooks delivered from an outbox."""
