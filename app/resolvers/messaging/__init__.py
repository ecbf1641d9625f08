"""The work behind the messaging fields: devices, contacts, the inbox, messages, events."""
