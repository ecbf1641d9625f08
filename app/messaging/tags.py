"""Contact tags: lower-case labels, stored as a list and as ``,a,b,`` for one-LIKE filtering."""

from __future__ import annotations


def normalize_tags(tags: list[str] | None) -> list[str]:
    seen: dict[str, None] = {}
    for tag in tags or []:
        clean = tag.strip().lower()
        if clean:
            seen[clean] = None
    return list(seen)


def tags_text(tags: list[str]) -> str:
    return "," + ",".join(tags) + "," if tags else ""
