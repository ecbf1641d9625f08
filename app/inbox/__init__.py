"""The inbox domain: the change log clients sync from (sync), search, teams and routing."""
