"""Prometheus metrics of the live (WebSocket) layer, per process."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

CONNECTIONS = Gauge("parley_ws_connections", "Open GraphQL WebSocket connections.")
SUBSCRIPTIONS = Gauge("parley_ws_subscriptions", "Active subscriptions (members of groups).")
GROUPS = Gauge(
    "parley_ws_subscription_groups",
    "Groups of subscriptions executed once per event (same document, variables and scope).",
)
EXECUTIONS = Counter(
    "parley_ws_subscription_executions_total", "Subscription events executed (once per group)."
)
DELIVERIES = Counter("parley_ws_deliveries_total", "Subscription frames queued to a connection.")
DROPS = Counter(
    "parley_ws_slow_consumers_dropped_total",
    "Connections closed because their client fell too far behind.",
)
CLOSED_IDLE = Counter(
    "parley_ws_idle_closed_total", "Connections closed because their client stayed silent."
)
