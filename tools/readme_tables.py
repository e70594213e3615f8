"""The README's generated tables: settings (from :mod:`tickwatch.settings`) and metrics (from
the telemetry catalog).

``python -m tools.readme_tables`` rewrites them in README.md between their markers; a test
checks the README holds the current ones, so the documentation cannot drift from the code.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal, get_args, get_origin

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from tickwatch.settings import ENV_PREFIX, Settings
from tickwatch.telemetry.definitions import CATALOG

README = Path(__file__).resolve().parent.parent / "README.md"


def _default(info: FieldInfo) -> str:
    value = info.default
    if isinstance(value, SecretStr):
        return "*(secret, empty)*"
    if value is None or value == "":
        return "*(empty)*"
    return f"`{value}`"


_BOUNDS = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<", "pattern": "matches"}


def _constraint(info: FieldInfo) -> str:
    annotation = info.annotation
    if get_origin(annotation) is Literal:
        text = " \\| ".join(
            f"`{choice}`" if choice != "" else "*(unset)*" for choice in get_args(annotation)
        )
    else:
        names = [getattr(a, "__name__", str(a)) for a in (get_args(annotation) or (annotation,))]
        text = " or ".join(n for n in names if n != "NoneType")
    for meta in info.metadata:
        for attr, symbol in _BOUNDS.items():
            if getattr(meta, attr, None) is not None:
                text += f", {symbol} `{getattr(meta, attr)}`"
    return text


def config_rows() -> list[str]:
    """One markdown row per setting: env var, TOML key, default, type and bounds."""
    out = [
        "| environment variable | TOML key | default | type / bounds |",
        "| --- | --- | --- | --- |",
    ]
    for section_name, section_info in Settings.model_fields.items():
        section = section_info.annotation
        assert isinstance(section, type) and issubclass(section, BaseModel)
        # A section with its own env_prefix (OtelSettings: the standard OTEL_* names) is read
        # from the environment only, not from the TOML file.
        prefix = getattr(section, "env_prefix", f"{ENV_PREFIX}{section_name.upper()}_")
        for key, info in section.model_fields.items():
            env = f"{prefix}{key.upper()}"
            toml = f"`{section_name}.{key}`" if prefix.startswith(ENV_PREFIX) else "—"
            out.append(f"| `{env}` | {toml} | {_default(info)} | {_constraint(info)} |")
    return out


def metric_rows() -> list[str]:
    """One markdown row per metric in the telemetry catalog."""
    out = ["| metric | type | labels | meaning |", "| --- | --- | --- | --- |"]
    for metric in CATALOG:
        labels = ", ".join(f"`{label}`" for label in metric.labels) or "—"
        out.append(f"| `{metric.name}` | {metric.kind} | {labels} | {metric.help} |")
    return out


TABLES: dict[str, Callable[[], list[str]]] = {"config": config_rows, "metrics": metric_rows}


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}-table:begin -->", f"<!-- {name}-table:end -->"


def render(name: str) -> str:
    begin, end = markers(name)
    return "\n".join([begin, *TABLES[name](), end])


def refresh(text: str) -> str:
    """``text`` with every generated table replaced by its current rendering."""
    for name in TABLES:
        begin, end = markers(name)
        start, stop = text.index(begin), text.index(end) + len(end)
        text = text[:start] + render(name) + text[stop:]
    return text


if __name__ == "__main__":
    README.write_text(refresh(README.read_text(encoding="utf-8")), encoding="utf-8")
