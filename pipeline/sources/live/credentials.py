"""Vendor credentials: from settings (environment) or from a TOML secrets file.

``settings.sources.secrets_file`` names a TOML file with top-level keys named like the
``SourceCredentials`` fields that hold secrets::

    alpaca_key_id = "AK..."
    alpaca_secret_key = "..."
    polygon_api_key = "..."
    finnhub_api_key = "..."

A non-empty value from settings (``TICKWATCH_SOURCES_ALPACA_KEY_ID``...) wins over the file.
Values stay :class:`~pydantic.SecretStr` until the moment they are put into an auth frame, and
errors name keys, never values.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass

from pydantic import SecretStr

from pipeline.sources.live.errors import FatalFeedError
from tickwatch.settings import SourceCredentials

SECRET_KEYS = ("alpaca_key_id", "alpaca_secret_key", "polygon_api_key", "finnhub_api_key")


@dataclass(frozen=True)
class Credentials:
    """The secrets a vendor session needs; ``repr`` shows only ``**********``."""

    alpaca_key_id: SecretStr
    alpaca_secret_key: SecretStr
    polygon_api_key: SecretStr
    finnhub_api_key: SecretStr


def resolve_credentials(sources: SourceCredentials) -> Credentials:
    """Merge settings and the secrets file; raises :class:`FatalFeedError` on a bad file."""
    from_file = _read_file(sources) if sources.secrets_file is not None else {}
    values: dict[str, SecretStr] = {}
    for key in SECRET_KEYS:
        configured: SecretStr = getattr(sources, key)
        fallback = from_file.get(key, SecretStr(""))
        values[key] = configured if configured.get_secret_value() else fallback
    return Credentials(**values)


def _read_file(sources: SourceCredentials) -> dict[str, SecretStr]:
    path = sources.secrets_file
    assert path is not None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FatalFeedError(f"secrets file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError:
        # Say nothing about where: a message near the error could echo part of a secret.
        raise FatalFeedError(f"secrets file {path}: not valid TOML") from None
    unknown = sorted(set(data) - set(SECRET_KEYS))
    if unknown:
        raise FatalFeedError(f"secrets file {path}: unknown keys {unknown}; known {SECRET_KEYS}")
    bad = sorted(key for key, value in data.items() if not isinstance(value, str))
    if bad:
        raise FatalFeedError(f"secrets file {path}: keys {bad} must be strings")
    return {key: SecretStr(value) for key, value in data.items()}
