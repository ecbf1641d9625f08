"""Live GraphQL over WebSocket at scale: shared execution, bounded sends, keep-alive, metrics."""
