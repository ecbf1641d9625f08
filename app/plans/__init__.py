"""The plans domain: plans, subscriptions, usage and the limits enforced where things happen.

The public surface other domains call at their point of action:

- ``quotas.capacity(runtime, org_id, Limit.DEVICES)``: an async context manager for limits
  counted from rows (devices, seats, contacts); create the rows inside it.
- ``quotas.reserve(runtime, org_id, limit, amount, key=…)``: count something against a limit
  (a send, an AI run, an API key, stored bytes), at most once per key; ``LimitExceeded`` or
  None.
- ``quotas.release(org_id, limit, key=…)``: take back what was reserved and never happened.
"""
