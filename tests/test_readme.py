"""The README stays true: its configuration table is the one the settings generate."""

from __future__ import annotations

from pathlib import Path

from tickwatch.config_table import BEGIN, END, render

README = Path(__file__).resolve().parent.parent / "README.md"


def test_configuration_table_matches_settings() -> None:
    text = README.read_text(encoding="utf-8")
    start, end = text.index(BEGIN), text.index(END) + len(END)
    assert text[start:end] == render(), (
        "README configuration table is stale: run `.venv/bin/python -m tickwatch.config_table` "
        "and paste its output between the config-table markers"
    )


def test_readme_gives_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert "make run" in text
    assert "make test" in text
