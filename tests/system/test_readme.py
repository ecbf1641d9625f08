from __future__ import annotations

from pathlib import Path

from app.platform.config import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_documents_every_setting() -> None:
    readme = README.read_text()

    missing = [
        f"PARLEY_{name.upper()}"
        for name in Settings.model_fields
        if f"`PARLEY_{name.upper()}`" not in readme
    ]

    assert missing == []


def test_the_readme_opens_with_the_two_commands() -> None:
    opening = README.read_text()[:800]

    assert "make dev" in opening and "make test" in opening
