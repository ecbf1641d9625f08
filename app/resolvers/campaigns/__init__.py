"""Campaigns: create and steer them, resolve their audience, send, and follow their statuses."""
