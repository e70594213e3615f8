"""Where the archive lives, and the ``s3()`` table-function arguments that reach it.

Credentials travel as query parameters (``{s3_key:String}``), never inside SQL text, and are
unwrapped from :class:`~pydantic.SecretStr` only in :meth:`ObjectStore.parameters`. ClickHouse
also masks ``s3()`` secrets in its own logs.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlsplit

from pydantic import SecretStr

from pipeline.archive.errors import ArchiveConfigError
from tickwatch.settings import ArchiveSettings

PIECE = "part-0.parquet"
SECRET_KEYS = ("access_key_id", "secret_access_key")


@dataclass(frozen=True)
class ObjectStore:
    """An S3 bucket (``endpoint`` like ``https://host:port``) and a key prefix."""

    endpoint: str
    bucket: str
    prefix: str = ""
    addressing_style: str = "path"
    access_key_id: SecretStr = field(default_factory=lambda: SecretStr(""))
    secret_access_key: SecretStr = field(default_factory=lambda: SecretStr(""))

    def key(self, table: str, day: date) -> str:
        """The object key of ``table``'s piece for ``day`` (Hive-style ``date=`` folder)."""
        return f"{self._root()}{table}/date={day.isoformat()}/{PIECE}"

    def url(self, key: str) -> str:
        """The HTTP(S) URL of ``key`` in the configured addressing style."""
        parts = urlsplit(self.endpoint)
        if self.addressing_style == "virtual":
            return f"{parts.scheme}://{self.bucket}.{parts.netloc}/{key}"
        return f"{parts.scheme}://{parts.netloc}/{self.bucket}/{key}"

    def table_glob(self, table: str) -> str:
        """The URL matching every archived piece of ``table`` (read path)."""
        return self.url(f"{self._root()}{table}/date=*/*.parquet")

    def s3_function(self, url_param: str, structure_param: str | None = None) -> str:
        """``s3(...)`` with the URL (and structure) from query parameters, Parquet format."""
        args = [f"{{{url_param}:String}}"]
        if self.signed:
            args += ["{s3_key:String}", "{s3_secret:String}"]
        args.append("'Parquet'")
        if structure_param:
            args.append(f"{{{structure_param}:String}}")
        return f"s3({', '.join(args)})"

    def parameters(self) -> dict[str, str]:
        """The credential query parameters :meth:`s3_function` refers to."""
        if not self.signed:
            return {}
        return {
            "s3_key": self.access_key_id.get_secret_value(),
            "s3_secret": self.secret_access_key.get_secret_value(),
        }

    @property
    def signed(self) -> bool:
        return bool(self.access_key_id.get_secret_value())

    def _root(self) -> str:
        return f"{self.prefix}/" if self.prefix else ""


def object_store(settings: ArchiveSettings, endpoint: str) -> ObjectStore:
    """The store from settings; ``endpoint`` is the resolved one (settings or local stack).

    Raises :class:`ArchiveConfigError` for a missing endpoint or a bad secrets file (naming the
    file and key, never a value).
    """
    if not endpoint:
        raise ArchiveConfigError(
            "no S3 endpoint: set TICKWATCH_ARCHIVE_ENDPOINT or start the local stack "
            "(tickwatch stack up)"
        )
    key, secret = _credentials(settings)
    return ObjectStore(
        endpoint.rstrip("/"),
        settings.bucket,
        settings.prefix,
        settings.addressing_style,
        key,
        secret,
    )


def _credentials(settings: ArchiveSettings) -> tuple[SecretStr, SecretStr]:
    if settings.access_key_id.get_secret_value() or settings.secrets_file is None:
        return settings.access_key_id, settings.secret_access_key
    path = settings.secrets_file
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ArchiveConfigError(f"archive secrets file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError:
        raise ArchiveConfigError(f"archive secrets file {path}: not valid TOML") from None
    unknown = sorted(set(data) - set(SECRET_KEYS))
    if unknown or not all(isinstance(data.get(k, ""), str) for k in SECRET_KEYS):
        raise ArchiveConfigError(
            f"archive secrets file {path}: expected string keys {SECRET_KEYS}, unknown {unknown}"
        )
    return SecretStr(data.get("access_key_id", "")), SecretStr(data.get("secret_access_key", ""))
