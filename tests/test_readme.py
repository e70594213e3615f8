"""The README stays true: its generated tables are the ones the code produces now."""

from __future__ import annotations

import pytest

from tools.readme_tables import README, TABLES, markers, render


@pytest.mark.parametrize("name", sorted(TABLES))
def test_generated_table_is_current(name: str) -> None:
    text = README.read_text(encoding="utf-8")
    begin, end = markers(name)
    start, stop = text.index(begin), text.index(end) + len(end)
    assert text[start:stop] == render(name), (
        f"README {name} table is stale: run `.venv/bin/python -m tools.readme_tables`"
    )


def test_readme_gives_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert "make run" in text
    assert "make test" in text
