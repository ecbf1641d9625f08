"""WhatsApp providers (sandbox, Cloud API) and webhook verification/parsing."""
