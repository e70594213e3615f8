"""Frozen settings, read once at the entry point.

Sources, highest priority first: keyword arguments, environment variables (``TICKWATCH_`` prefix,
one ``_`` between section and key, e.g. ``TICKWATCH_KAFKA_BOOTSTRAP``,
``TICKWATCH_LOAD_BATCH_MAX_ROWS``), a ``.env`` file, an optional TOML file (``[kafka]``,
``[load]``... tables), then the defaults below. Every default works on the local stack.

Library code receives these objects; it never reads the environment itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

ENV_PREFIX = "TICKWATCH_"


class Section(BaseModel):
    """Base of every settings section: frozen, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class StackSettings(Section):
    """The local stack launched by ``tickwatch stack up`` (not used in compose)."""

    state_dir: Path = Path(".tickwatch")
    kafka_heap_mb: int = Field(512, ge=128, le=8192)
    start_prometheus: bool = True
    start_smtp: bool = True
    ready_timeout_s: float = Field(90.0, gt=0)


class KafkaSettings(Section):
    """Broker connection and topic names. ``bootstrap`` empty = use the local stack's broker."""

    bootstrap: str = ""
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    ssl_ca_location: Path | None = None
    ssl_certificate_location: Path | None = None
    ssl_key_location: Path | None = None
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    sasl_username: str = ""
    sasl_password: SecretStr = SecretStr("")
    topic_trades: str = "ticks.trades"
    topic_quotes: str = "ticks.quotes"
    topic_bars: str = "ticks.bars"
    topic_dlq: str = "ticks.dlq"
    partitions: int = Field(6, ge=1, le=1024)
    replication_factor: int = Field(1, ge=1, le=7)
    consumer_group: str = "tickwatch-load"

    def client_config(self, bootstrap: str) -> dict[str, str]:
        """librdkafka settings shared by producers, consumers and admin clients."""
        conf: dict[str, str] = {
            "bootstrap.servers": bootstrap,
            "security.protocol": self.security_protocol,
        }
        if self.ssl_ca_location:
            conf["ssl.ca.location"] = str(self.ssl_ca_location)
        if self.ssl_certificate_location:
            conf["ssl.certificate.location"] = str(self.ssl_certificate_location)
        if self.ssl_key_location:
            conf["ssl.key.location"] = str(self.ssl_key_location)
        if self.security_protocol.startswith("SASL"):
            conf["sasl.mechanism"] = self.sasl_mechanism
            conf["sasl.username"] = self.sasl_username
            conf["sasl.password"] = self.sasl_password.get_secret_value()
        return conf


class ClickHouseSettings(Section):
    """ClickHouse HTTP endpoint. ``url`` empty = use the local stack's server."""

    url: str = ""
    username: str = "default"
    password: SecretStr = SecretStr("")
    verify_tls: bool = True
    ca_cert: Path | None = None
    market_database: str = Field("market", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    ops_database: str = Field("ops", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    ticks_ttl_days: int = Field(30, ge=1)
    ops_ttl_days: int = Field(14, ge=1)
    connect_timeout_s: float = Field(5.0, gt=0)
    send_receive_timeout_s: float = Field(30.0, gt=0)


class IngestSettings(Section):
    """The ingest worker: which source, how fast, how the producer behaves."""

    source: Literal["simulator", "replay", "alpaca", "polygon", "binance", "coinbase"] = "simulator"
    seed: int = 42
    symbols: int = Field(20, ge=1, le=100_000)
    rate: float = Field(200.0, gt=0, le=2_000_000)
    quote_ratio: float = Field(0.5, ge=0, le=10)
    trading_calendar: str = ""
    anomalies: str = ""
    replay_path: Path | None = None
    replay_speed: float = Field(0.0, ge=0)
    replay_rebase: bool = False  # shift event times to the replay's own clock (old files)
    symbols_file: Path | None = None
    symbol_list: str = ""
    duration_s: float = Field(0.0, ge=0)
    compression: Literal["none", "lz4", "zstd", "snappy", "gzip"] = "lz4"
    linger_ms: int = Field(20, ge=0, le=5000)
    flush_timeout_s: float = Field(10.0, gt=0)
    metrics_port: int = Field(9101, ge=0, le=65535)


class LoadSettings(Section):
    """The load worker: batching, validation bounds, retries."""

    batch_max_rows: int = Field(50_000, ge=1, le=5_000_000)
    batch_max_ms: int = Field(500, ge=1, le=600_000)
    max_pending_rows: int = Field(500_000, ge=1)
    poll_batch: int = Field(5_000, ge=1, le=1_000_000)
    max_past_s: float = Field(7 * 86400.0, gt=0)
    max_future_s: float = Field(300.0, gt=0)
    symbol_pattern: str = r"^[A-Z0-9][A-Z0-9.\-/:_=^]{0,31}$"
    retry_initial_s: float = Field(0.5, gt=0)
    retry_max_s: float = Field(15.0, gt=0)
    shutdown_timeout_s: float = Field(30.0, gt=0)
    session_timeout_ms: int = Field(45_000, ge=1_000, le=3_600_000)
    metrics_port: int = Field(9102, ge=0, le=65535)
    flush_budget_s: float = Field(10.0, gt=0, le=600)
    dlq_max_payload_bytes: int = Field(262_144, ge=1024, le=900_000)
    insert_timeout_s: float = Field(15.0, ge=1, le=600)
    kafka_timeout_s: float = Field(10.0, gt=0, le=120)
    max_poll_interval_ms: int = Field(300_000, ge=10_000, le=86_400_000)
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    # Sanity bounds per asset class: a price above max_price or a size above max_size is
    # rejected (reason implausible_price / implausible_size). They keep every candle finite:
    # price * size stays below 1e25 however many trades a bucket sums.
    equity_max_price: float = Field(1e7, gt=0, le=1e12)
    equity_max_size: float = Field(1e10, gt=0, le=1e13)
    etf_max_price: float = Field(1e6, gt=0, le=1e12)
    etf_max_size: float = Field(1e10, gt=0, le=1e13)
    index_max_price: float = Field(1e7, gt=0, le=1e12)
    index_max_size: float = Field(1e12, gt=0, le=1e13)
    crypto_max_price: float = Field(1e8, gt=0, le=1e12)
    crypto_max_size: float = Field(1e13, gt=0, le=1e13)
    fx_max_price: float = Field(1e6, gt=0, le=1e12)
    fx_max_size: float = Field(1e12, gt=0, le=1e13)


class TelemetrySettings(Section):
    """Metrics, traces, logs: where they go and how much of them."""

    metrics_host: str = "127.0.0.1"
    traces_enabled: bool = True
    trace_sample_ratio: float = Field(1.0, ge=0, le=1)
    export_interval_s: float = Field(10.0, gt=0)
    export_queue_max: int = Field(20_000, ge=100)
    log_level: Literal["TRACE", "DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    clickhouse_log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    per_symbol_labels_max: int = Field(50, ge=0)
    heartbeat_interval_s: float = Field(5.0, gt=0)
    enabled: bool = True


class MonitorSettings(Section):
    """The downtime detector's checks: intervals and thresholds."""

    metrics_port: int = Field(9103, ge=0, le=65535)
    reachability_interval_s: float = Field(5.0, gt=0)
    lag_interval_s: float = Field(2.0, gt=0)
    lag_window: int = Field(5, ge=2, le=100)
    lag_warn_seconds: float = Field(30.0, gt=0)
    lag_crit_seconds: float = Field(120.0, gt=0)
    freshness_interval_s: float = Field(10.0, gt=0)
    freshness_warn_s: float = Field(60.0, gt=0)
    freshness_crit_s: float = Field(300.0, gt=0)
    equity_calendar: str = "XNYS"
    heartbeat_interval_s: float = Field(5.0, gt=0)
    heartbeat_timeout_s: float = Field(30.0, gt=0)
    latency_interval_s: float = Field(15.0, gt=0)
    latency_p99_threshold_s: float = Field(5.0, gt=0)
    dlq_interval_s: float = Field(15.0, gt=0)
    dlq_rate_threshold: float = Field(1.0, ge=0)
    probe_urls: str = ""
    probe_interval_s: float = Field(15.0, gt=0)
    check_timeout_s: float = Field(5.0, gt=0)
    offset_reset_interval_s: float = Field(15.0, gt=0)
    offset_reset_window_s: float = Field(900.0, gt=0)
    expected_services: str = "ingest,load"
    results_buffer_max: int = Field(10_000, ge=100)


class AlertSettings(Section):
    """Alert state machine and notification policy."""

    open_after: int = Field(2, ge=1)
    resolve_after: int = Field(2, ge=1)
    flap_window: int = Field(10, ge=2)
    flap_threshold: int = Field(4, ge=2)
    repeat_interval_s: float = Field(3600.0, gt=0)
    group_wait_s: float = Field(1.0, ge=0)
    max_emails_per_hour: int = Field(30, ge=1)
    outbox_max: int = Field(1000, ge=1)
    grafana_url: str = "http://127.0.0.1:3000"
    silences: str = ""
    maintenance_windows: str = ""
    stale_after_s: float = Field(600.0, gt=0)
    flap_window_s: float = Field(900.0, gt=0)
    flap_start_changes: int = Field(6, ge=2)
    flap_stop_changes: int = Field(2, ge=0)
    inhibit_grace_s: float = Field(60.0, ge=0)


class SmtpSettings(Section):
    """Email delivery through aiosmtplib. Empty ``host`` = the local stack's mail server."""

    host: str = ""
    port: int = Field(0, ge=0, le=65535)
    tls: Literal["none", "starttls", "implicit"] = "none"
    verify_tls: bool = True
    ca_cert: Path | None = None
    username: str = ""
    password: SecretStr = SecretStr("")
    sender: str = "tickwatch@localhost"
    recipients: str = "oncall@localhost"
    timeout_s: float = Field(10.0, gt=0)
    retry_initial_s: float = Field(1.0, gt=0)
    retry_max_s: float = Field(60.0, gt=0)

    @property
    def recipient_list(self) -> list[str]:
        return [r.strip() for r in self.recipients.split(",") if r.strip()]


class SourceCredentials(Section):
    """Vendor credentials for live sources; never logged."""

    alpaca_key_id: SecretStr = SecretStr("")
    alpaca_secret_key: SecretStr = SecretStr("")
    alpaca_feed: Literal["iex", "sip", "delayed_sip", "crypto"] = "iex"
    alpaca_url: str = ""
    polygon_api_key: SecretStr = SecretStr("")
    polygon_cluster: Literal["stocks", "crypto"] = "stocks"
    polygon_url: str = ""
    binance_url: str = ""
    coinbase_url: str = ""
    secrets_file: Path | None = None
    stall_timeout_s: float = Field(30.0, gt=0)
    reconnect_initial_s: float = Field(1.0, gt=0)
    reconnect_max_s: float = Field(60.0, gt=0)


class Settings(BaseSettings):
    """All of tickwatch's configuration. Build it with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="_",
        env_nested_max_split=1,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    stack: StackSettings = StackSettings()
    kafka: KafkaSettings = KafkaSettings()
    clickhouse: ClickHouseSettings = ClickHouseSettings()
    ingest: IngestSettings = IngestSettings()
    load: LoadSettings = LoadSettings()
    telemetry: TelemetrySettings = TelemetrySettings()
    monitor: MonitorSettings = MonitorSettings()
    alerts: AlertSettings = AlertSettings()
    smtp: SmtpSettings = SmtpSettings()
    sources: SourceCredentials = SourceCredentials()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = _TOML_FILE.get("path")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, dotenv_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)


# Set only by load_settings for the duration of one construction.
_TOML_FILE: dict[str, Path | None] = {"path": None}


class ConfigError(Exception):
    """A setting has a wrong value; the message names the key, the value and what was expected."""


def load_settings(toml_file: Path | None = None, **overrides: Any) -> Settings:
    """Read and validate all settings once; raise :class:`ConfigError` naming each bad key."""
    if toml_file is not None and not toml_file.is_file():
        raise ConfigError(f"config file {toml_file}: not found")
    _TOML_FILE["path"] = toml_file
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    finally:
        _TOML_FILE["path"] = None


def _describe(exc: ValidationError) -> str:
    lines = ["invalid configuration:"]
    for err in exc.errors():
        loc = [str(part) for part in err["loc"]]
        env_name = ENV_PREFIX + "_".join(loc).upper()
        toml_key = ".".join(loc)
        value = err.get("input")
        shown = "<hidden>" if any(_is_secret(part) for part in loc) else repr(value)
        lines.append(f"  {env_name} ({toml_key}) = {shown}: {err['msg']}")
    return "\n".join(lines)


def _is_secret(key: str) -> bool:
    return any(word in key for word in ("password", "secret", "key_id", "api_key", "token"))
