"""The README's configuration table, generated from :mod:`tickwatch.settings`.

``python -m tickwatch.config_table`` prints it; a test checks the README holds the current one,
so the documentation cannot drift from the code.
"""

from __future__ import annotations

from typing import Literal, get_args, get_origin

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from tickwatch.settings import ENV_PREFIX, Settings

BEGIN = "<!-- config-table:begin -->"
END = "<!-- config-table:end -->"


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
        text = " \\| ".join(f"`{choice}`" for choice in get_args(annotation))
    else:
        names = [getattr(a, "__name__", str(a)) for a in (get_args(annotation) or (annotation,))]
        text = " or ".join(n for n in names if n != "NoneType")
    for meta in info.metadata:
        for attr, symbol in _BOUNDS.items():
            if getattr(meta, attr, None) is not None:
                text += f", {symbol} `{getattr(meta, attr)}`"
    return text


def rows() -> list[str]:
    """One markdown row per setting: env var, TOML key, default, type and bounds."""
    out = [
        "| environment variable | TOML key | default | type / bounds |",
        "| --- | --- | --- | --- |",
    ]
    for section_name, section_info in Settings.model_fields.items():
        section = section_info.annotation
        assert isinstance(section, type) and issubclass(section, BaseModel)
        for key, info in section.model_fields.items():
            env = f"{ENV_PREFIX}{section_name.upper()}_{key.upper()}"
            out.append(
                f"| `{env}` | `{section_name}.{key}` | {_default(info)} | {_constraint(info)} |"
            )
    return out


def render() -> str:
    return "\n".join([BEGIN, *rows(), END])


if __name__ == "__main__":
    print(render())
