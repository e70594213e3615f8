"""Frozen settings, read once at the entry point.

Sources, highest priority first: keyword arguments, environment variables (``TICKWATCH_`` prefix,
one ``_`` between section and key, e.g. ``TICKWATCH_KAFKA_BOOTSTRAP``,
``TICKWATCH_LOAD_BATCH_MAX_ROWS``), a ``.env`` file, an optional TOML file (``[kafka]``,
``[load]``... tables), then the defaults below. Every default works on the local stack.

Library code receives these objects; it never reads the environment itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
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
    kafka_brokers: int = Field(1, ge=1, le=5)  # > 1: a KRaft cluster (stack/kafka_cluster.py)
    start_prometheus: bool = True
    start_smtp: bool = True
    start_s3: bool = True
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
    topic_corrections: str = "ticks.corrections"
    topic_dlq: str = "ticks.dlq"
    partitions: int = Field(6, ge=1, le=1024)
    replication_factor: int = Field(1, ge=1, le=7)
    min_insync_replicas: int = Field(0, ge=0, le=7)  # 0 = the broker's default
    consumer_group: str = "tickwatch-load"

    @model_validator(mode="after")
    def _isr_fits(self) -> KafkaSettings:
        if self.min_insync_replicas > self.replication_factor:
            raise ValueError(
                f"kafka.min_insync_replicas={self.min_insync_replicas} is above "
                f"kafka.replication_factor={self.replication_factor}: no write could succeed"
            )
        return self

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


_ROLE_USER = r"^([A-Za-z_][A-Za-z0-9_\-]{0,63})?$"


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
    # One least-privilege user per role (tickwatch/access.py); empty = the shared username above.
    migrate_username: str = Field("", pattern=_ROLE_USER)
    migrate_password: SecretStr = SecretStr("")
    load_username: str = Field("", pattern=_ROLE_USER)
    load_password: SecretStr = SecretStr("")
    telemetry_username: str = Field("", pattern=_ROLE_USER)
    telemetry_password: SecretStr = SecretStr("")
    monitor_username: str = Field("", pattern=_ROLE_USER)
    monitor_password: SecretStr = SecretStr("")
    grafana_username: str = Field("", pattern=_ROLE_USER)
    grafana_password: SecretStr = SecretStr("")
    # A ClickHouse cluster (tickwatch/cluster_ddl.py); empty = one node, plain MergeTree tables.
    cluster: str = Field("", pattern=r"^([A-Za-z_][A-Za-z0-9_\-]{0,63})?$")
    cluster_replicated: bool = True
    shard_urls: str = ""
    dedup_window: int = Field(0, ge=0, le=100_000_000)

    @property
    def shard_url_list(self) -> list[str]:
        """``shard_urls`` as a list: one HTTP endpoint per shard, in the cluster's shard order."""
        return [u.strip() for u in self.shard_urls.split(",") if u.strip()]

    @model_validator(mode="after")
    def _cluster_consistent(self) -> ClickHouseSettings:
        if self.shard_urls and not self.cluster:
            raise ValueError("clickhouse.shard_urls is set but clickhouse.cluster is empty")
        if self.cluster and not self.cluster_replicated and not self.shard_urls:
            raise ValueError(
                "clickhouse.cluster_replicated = false applies the DDL on every node of "
                "clickhouse.shard_urls (one per shard), which is empty"
            )
        return self

    def role_credentials(self, role: str) -> tuple[str, str]:
        """``(username, password)`` of ``role``'s user, or the shared ones when it has none."""
        username = str(getattr(self, f"{role}_username"))
        if not username:
            return self.username, self.password.get_secret_value()
        password: SecretStr = getattr(self, f"{role}_password")
        return username, password.get_secret_value()

    def as_role(self, role: str) -> ClickHouseSettings:
        """These settings with ``username`` / ``password`` replaced by ``role``'s user."""
        username, password = self.role_credentials(role)
        return self.model_copy(update={"username": username, "password": SecretStr(password)})


class IngestSettings(Section):
    """The ingest worker: which source, how fast, how the producer behaves."""

    source: Literal[
        "simulator", "replay", "alpaca", "polygon", "binance", "coinbase", "finnhub",
        "yfinance", "polygon_rest", "alpaca_rest",
    ] = "simulator"  # fmt: skip
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
    # Source checkpoints (replay position, live trade-id ledgers); unset = <stack.state_dir>/ingest
    state_dir: Path | None = None
    checkpoint_interval_s: float = Field(1.0, gt=0, le=3600)
    replay_resume: bool = True  # false: ignore the replay's checkpoint and start from the top
    # The replay's position commits in the same Kafka transaction as its records (exactly once
    # across kill -9: pipeline/sources/replay_transactions.py); false = a checkpoint file
    replay_transactions: bool = True
    replay_checkpoint_topic: str = Field("ticks.replay.positions", min_length=1)
    replay_transaction_timeout_ms: int = Field(300_000, ge=1_000, le=900_000)
    dedup_keys: int = Field(200_000, ge=1_000, le=50_000_000)  # trade keys remembered per source
    # Live sources read trade keys back from Kafka at start (after the last checkpoint, or this
    # many seconds when there is no journal yet); 0 = never read back.
    dedup_recover_s: float = Field(60.0, ge=0, le=86_400)
    # The producer's local queue (librdkafka queue.buffering.max.messages): a full queue makes
    # the worker wait for delivery reports; it bounds the worker's memory (~0.5 KB a record).
    queue_max_messages: int = Field(50_000, ge=1_000, le=10_000_000)
    # Low-rate hold (issue 18; pipeline/ingest_hold.py): while the source delivers fewer than
    # hold_below_rate records a second (over the last second), ingest keeps its reads and hands
    # them to the producer together at most every hold_ms: librdkafka sends one ProduceRequest
    # per partition, so fewer hand-overs mean fewer requests for the broker. At or above the
    # rate every read goes at once (no added latency). Below load.batch_min_rate's default no
    # table is cut early, so the load worker waits for its deadline anyway. Either 0 = off.
    # Off for a replay with Kafka transactions (README "Replay exactly once across kill -9").
    hold_below_rate: float = Field(250.0, ge=0, le=10_000_000)
    hold_ms: int = Field(250, ge=0, le=5_000)

    def resolved_state_dir(self, stack_state_dir: Path) -> Path:
        """Where sources keep their checkpoints."""
        return self.state_dir if self.state_dir is not None else stack_state_dir / "ingest"


class LoadSettings(Section):
    """The load worker: batching, validation bounds, retries."""

    batch_max_rows: int = Field(50_000, ge=1, le=5_000_000)
    batch_max_ms: int = Field(1_000, ge=1, le=600_000)
    # While the consumer is behind (a poll came back full), batches may grow this old instead:
    # fewer, larger INSERTs when catching up (issue 14). At or below batch_max_ms: no effect.
    batch_backlog_max_ms: int = Field(2_000, ge=1, le=600_000)
    # Early cut (issues 14, 18): while the consumer keeps up, a batch batch_min_ms old holding at
    # least batch_min_rows messages whose table (in table scope; else partition) received at
    # least batch_min_rate messages a second over the last batch_max_ms is sealed as soon as the
    # previous insert has finished, instead of waiting batch_max_ms; in table scope the rows of
    # a topic's open batches count together and the topic must have no group in the insert
    # path. batch_min_ms 0 = off; batch_min_rate 0 = the row floor alone. Defaults (README "When
    # a batch closes"): at 200 simulator ticks/s (~133 trades, ~67 quotes a second) no table
    # reaches 250/s, so the deadline closes it (<= 1 INSERT/s per table); at 1k (~667 and ~333)
    # both are cut by the cadence below, from 2,000 msg/s at 120 ms. 10 rows: at 333/s an 80 ms
    # cadence cut held ~25 rows, ~20 of them polled by then, so 20 missed it a third of the time.
    batch_min_ms: int = Field(120, ge=0, le=600_000)
    batch_min_rows: int = Field(10, ge=1, le=5_000_000)
    batch_min_rate: float = Field(250.0, ge=0, le=10_000_000)
    # Cadence (issue 14; table scope, with the early cut on): a table fed at least batch_min_rate
    # but fewer than batch_cadence_max_rate messages a second is cut batch_cadence_ms after its
    # previous cut instead of batch_min_ms after its batch's first message (same conditions
    # otherwise: rows, no group of the table in the insert path, not behind). At 1k simulator
    # ticks/s (~667 trades, ~333 quotes a second) both tables; at 10k (~6.7k, ~3.3k) neither.
    # 0 = off. Cuts then come every batch_cadence_ms: it enters the dedup window's size.
    batch_cadence_ms: int = Field(60, ge=0, le=600_000)
    batch_cadence_max_rate: float = Field(2_000.0, ge=0, le=10_000_000)
    # "table": one INSERT per topic (table) carrying several partitions' batches, a *group*
    # recorded on every member (pipeline/load/group.py; issue 18). "partition": one INSERT per
    # partition's batch. From "table" back to "partition": stop every load worker gracefully
    # first (a partition-scoped worker reads only its own partitions' records). Cuts INSERTs
    # per table and ClickHouse CPU at 200 ticks/s by about 5x (README Performance).
    batch_scope: Literal["table", "partition"] = "table"
    # The brokers' offset.metadata.max.bytes: a group's intent metadata must stay below it (the
    # broker refuses a string of that length); it caps the partitions of one group.
    offset_metadata_max_bytes: int = Field(4096, ge=32, le=1_048_576)
    # The consumer counts as behind (batch_backlog_max_ms, no early cut) while the messages
    # left to read in Kafka (high watermark - position, summed over the partitions just polled)
    # reach this many; a full poll alone does not make it behind.
    backlog_lag_messages: int = Field(50_000, ge=1)
    max_pending_rows: int = Field(500_000, ge=1)
    # Memory of everything that grows with the data (librdkafka prefetch + pending rows + one
    # insert's copy), split by pipeline/load/memory.py. 0 = 256 MB, or what one batch and one
    # poll need if that is more; an explicit value too small for them is a start-up error.
    buffer_budget_mb: int = Field(0, ge=0, le=65_536)
    poll_batch: int = Field(5_000, ge=1, le=1_000_000)
    # The consumer's fetch.min.bytes / fetch.wait.max.ms (issue 18): the broker answers a fetch
    # once this many bytes wait or after this long. librdkafka's 1 byte made the broker answer
    # (and the consumer re-send) a fetch after nearly every produce request: 85 fetches/s at
    # 200 ticks/s (measured; 10/s with a 100 ms wait). 4 KB / 200 ms (second pass): at 200
    # ticks/s (~35 KB/s on the log, a simulator read ~3.5 KB) a fetch waits for a read or two:
    # 6.9 fetches/s measured, 18.8 with 16 KB / 50 ms; from 1k ticks/s (a read ~9 KB) 4 KB come
    # within a read, so no fetch waits out the 200 ms there (16 KB waited 50 ms at 1k).
    fetch_min_bytes: int = Field(4_096, ge=1, le=1_048_576)
    fetch_wait_max_ms: int = Field(200, ge=1, le=1_000)
    # The worker's allocators, set at process start (pipeline/load/allocator.py; issue 14, peak
    # RSS): glibc's malloc arenas capped with mallopt(M_ARENA_MAX) (0 = glibc's own, 8 a core),
    # and Arrow's memory pool ("jemalloc" with its decay set to 0: freed pages go back at once;
    # "system" = glibc malloc, trimmed after every batch, the same peak but slower in the
    # bench pairs; pyarrow's own default "mimalloc" kept 40-66 MB of freed pages).
    malloc_arena_max: int = Field(2, ge=0, le=1_024)
    arrow_memory_pool: Literal["jemalloc", "system", "mimalloc"] = "jemalloc"
    max_past_s: float = Field(7 * 86400.0, gt=0)
    bar_max_past_s: float = Field(20 * 365 * 86400.0, gt=0)  # backfilled history is old
    max_future_s: float = Field(300.0, gt=0)
    symbol_pattern: str = r"^[A-Z0-9][A-Z0-9.\-/:_=^]{0,31}$"
    retry_initial_s: float = Field(0.5, gt=0)
    retry_max_s: float = Field(15.0, gt=0)
    shutdown_timeout_s: float = Field(30.0, gt=0)
    session_timeout_ms: int = Field(45_000, ge=1_000, le=3_600_000)
    peak_rows_per_s: float = Field(200_000.0, gt=0)
    metrics_port: int = Field(9102, ge=0, le=65535)
    flush_budget_s: float = Field(10.0, gt=0, le=600)
    # Pipelined insert (issue 14, pipeline/load/inflight.py): up to this many intent-committed
    # batches/groups are handed to the insert thread (inserted one after the other) while the
    # poll loop polls and decodes on; a partition with one in flight joins no new intent. 4: one
    # group per record topic may wait its turn (with 1 the tables' groups waited a poll loop for
    # each other). 0 = insert synchronously in the loop.
    inserts_in_flight: int = Field(4, ge=0, le=16)
    # One insert thread per record topic (table) instead of one for all (issue 14): a table's
    # group no longer waits behind another table's INSERT. One topic's inserts, hence every
    # insert of one token, still run on one thread, one after the other. False = one thread.
    insert_thread_per_table: bool = True
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
    clickhouse_traces: bool = True
    clickhouse_logs: bool = True
    # Queued spans, logs, snapshots and heartbeats go to ClickHouse once per flush interval:
    # one INSERT per table per worker (ClickHouse's guidance: about one INSERT/s per table).
    # 10 s: each telemetry INSERT costs the server a few ms of CPU whatever its rows (issue 18),
    # and the detector still sees a heartbeat at most heartbeat + flush interval old (15 s)
    # against its 30 s heartbeat timeout.
    flush_interval_s: float = Field(10.0, gt=0, le=300)


class OtelSettings(Section):
    """Standard OpenTelemetry SDK configuration: the ``OTEL_*`` environment variables.

    Read by :func:`load_settings` from the environment (and ``.env``) under their standard
    names, e.g. ``OTEL_EXPORTER_OTLP_ENDPOINT`` for ``exporter_otlp_endpoint``; the meaning of
    each is the OpenTelemetry specification's ("SDK environment variables" and "OTLP exporter
    configuration"), resolved in :mod:`tickwatch.telemetry.otlp`. Per-signal variables
    (``..._TRACES_...`` / ``..._LOGS_...``) win over the general ones. OTLP export is off until
    an endpoint (or ``OTEL_TRACES_EXPORTER`` / ``OTEL_LOGS_EXPORTER=otlp``) asks for it; the
    ClickHouse tables stay the default. Empty values mean "not set". Metrics are not exported
    over OTLP: they are served on ``/metrics`` for Prometheus (or a collector) to scrape.
    """

    env_prefix: ClassVar[str] = "OTEL_"

    sdk_disabled: bool = False
    service_name: str = ""
    resource_attributes: str = ""
    traces_sampler: Literal[
        "",
        "always_on",
        "always_off",
        "traceidratio",
        "parentbased_always_on",
        "parentbased_always_off",
        "parentbased_traceidratio",
    ] = ""
    traces_sampler_arg: float | None = Field(None, ge=0, le=1)
    traces_exporter: Literal["", "otlp", "none"] = ""
    logs_exporter: Literal["", "otlp", "none"] = ""
    exporter_otlp_endpoint: str = ""
    exporter_otlp_traces_endpoint: str = ""
    exporter_otlp_logs_endpoint: str = ""
    exporter_otlp_protocol: Literal["http/protobuf", "grpc"] = "http/protobuf"
    exporter_otlp_traces_protocol: Literal["", "http/protobuf", "grpc"] = ""
    exporter_otlp_logs_protocol: Literal["", "http/protobuf", "grpc"] = ""
    exporter_otlp_headers: SecretStr = SecretStr("")
    exporter_otlp_traces_headers: SecretStr = SecretStr("")
    exporter_otlp_logs_headers: SecretStr = SecretStr("")
    exporter_otlp_timeout: int = Field(10_000, ge=1)
    exporter_otlp_traces_timeout: int | None = Field(None, ge=1)
    exporter_otlp_logs_timeout: int | None = Field(None, ge=1)
    exporter_otlp_compression: Literal["", "gzip", "none"] = ""
    exporter_otlp_traces_compression: Literal["", "gzip", "none"] = ""
    exporter_otlp_logs_compression: Literal["", "gzip", "none"] = ""
    exporter_otlp_insecure: bool | None = None
    exporter_otlp_traces_insecure: bool | None = None
    exporter_otlp_logs_insecure: bool | None = None
    exporter_otlp_certificate: Path | None = None
    exporter_otlp_traces_certificate: Path | None = None
    exporter_otlp_logs_certificate: Path | None = None
    exporter_otlp_client_key: Path | None = None
    exporter_otlp_traces_client_key: Path | None = None
    exporter_otlp_logs_client_key: Path | None = None
    exporter_otlp_client_certificate: Path | None = None
    exporter_otlp_traces_client_certificate: Path | None = None
    exporter_otlp_logs_client_certificate: Path | None = None

    @field_validator(
        "resource_attributes",
        "exporter_otlp_headers",
        "exporter_otlp_traces_headers",
        "exporter_otlp_logs_headers",
    )
    @classmethod
    def _key_value_list(cls, value: Any) -> Any:
        """``k1=v1,k2=v2`` (the specification's format); a pair without ``=`` is refused here,
        at start-up, so the error names the variable."""
        text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        for item in text.split(","):
            key, sep, _ = item.partition("=")
            if item.strip() and (not sep or not key.strip()):
                shown = "<hidden>" if isinstance(value, SecretStr) else repr(item.strip())
                raise ValueError(f"{shown} is not key=value (pairs separated by commas)")
        return value


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
    freshness_warn_gaps: float = Field(10.0, ge=1)
    freshness_crit_gaps: float = Field(30.0, ge=1)
    freshness_baseline_days: int = Field(7, ge=1, le=90)
    freshness_baseline_refresh_s: float = Field(300.0, gt=0)
    freshness_list_max: int = Field(20, ge=1, le=1000)
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


class TradingHoursSettings(Section):
    """When each instrument trades (:mod:`tickwatch.market_hours`): one model for the
    simulator, the live sources' stall detection and the detector's freshness check.

    A calendar is an ``exchange_calendars`` name (XNYS, XTKS, XHKG, XLON...), ``FX`` (24/5:
    Sunday 17:00 to Friday 17:00 New York time) or ``24/7``. ``exchanges`` (listing exchange
    MIC → calendar) wins over ``calendars`` (asset class → calendar).
    """

    calendars: str = "equity=XNYS,etf=XNYS,index=XNYS,fx=FX,crypto=24/7"
    exchanges: str = ""


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


class StatusSettings(Section):
    """The detector's status page and JSON API (served by ``tickwatch monitor``).

    ``api_token`` empty = the write endpoints (silences, maintenance) answer 403; reads stay open.
    ``port`` 0 = an ephemeral port (written to ``<state_dir>/status-server.json``).
    """

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(9110, ge=0, le=65535)
    api_token: SecretStr = SecretStr("")
    refresh_s: int = Field(10, ge=1, le=3600)
    uptime_hours: int = Field(24, ge=1, le=168)


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
    # The vendor's answer of GET /v3/reference/exchanges?asset_class=crypto saved as JSON: gives
    # Polygon crypto exchange ids their venue (none is built in: no stored vendor text names one)
    polygon_crypto_exchanges_file: Path | None = None
    binance_url: str = ""
    coinbase_url: str = ""
    finnhub_api_key: SecretStr = SecretStr("")
    finnhub_url: str = ""
    secrets_file: Path | None = None
    stall_timeout_s: float = Field(30.0, gt=0)
    reconnect_initial_s: float = Field(1.0, gt=0)
    reconnect_max_s: float = Field(60.0, gt=0)


class ArchiveSettings(Section):
    """The Parquet archive on S3-compatible storage (``tickwatch archive``).

    ``endpoint`` empty = the local stack's S3 server (``tickwatch stack up``); otherwise e.g.
    ``https://s3.eu-west-1.amazonaws.com`` or ``https://storage.googleapis.com`` (GCS's S3
    interoperability). ``addressing_style`` ``path`` puts the bucket in the path
    (``<endpoint>/<bucket>/<key>``), ``virtual`` in the host name (``<bucket>.<endpoint host>``).
    Credentials: these settings (environment), else ``secrets_file`` (TOML with
    ``access_key_id`` / ``secret_access_key``); both empty = unsigned requests. Hot-table
    retention keeps ``clickhouse.ticks_ttl_days`` days and drops only verified days.
    """

    endpoint: str = Field("", pattern=r"^(https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?)?$")
    bucket: str = Field("tickwatch-archive", pattern=r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
    prefix: str = Field("", pattern=r"^([A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)*)?$")
    addressing_style: Literal["path", "virtual"] = "path"
    access_key_id: SecretStr = SecretStr("")
    secret_access_key: SecretStr = SecretStr("")
    secrets_file: Path | None = None
    restore_hold_days: int = Field(7, ge=0, le=3650)
    check_enabled: bool = False
    check_hour_utc: int = Field(6, ge=0, le=23)
    check_interval_s: float = Field(300.0, gt=0)


class BackfillSettings(Section):
    """Historical bars from vendor REST APIs (``tickwatch backfill``, ``tickwatch gaps``).

    Credentials are the live sources' (``sources.polygon_api_key``, ``sources.alpaca_key_id`` /
    ``alpaca_secret_key`` or ``sources.secrets_file``); the URLs here are the REST hosts.
    ``topic_ledger`` is the compacted topic whose watermark records commit in the same Kafka
    transaction as the bars they cover (pipeline/backfill/ledger.py says why).
    """

    polygon_url: str = Field("https://api.polygon.io", pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    alpaca_url: str = Field("https://data.alpaca.markets", pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    alpaca_feed: Literal["iex", "sip", "delayed_sip"] = "iex"
    replay_path: Path | None = None
    topic_ledger: str = "backfill.watermarks"
    page_limit: int = Field(10_000, ge=1, le=50_000)
    request_timeout_s: float = Field(30.0, gt=0, le=600)
    max_retries: int = Field(8, ge=0, le=100)
    retry_initial_s: float = Field(1.0, gt=0)
    retry_max_s: float = Field(60.0, gt=0)
    transaction_timeout_ms: int = Field(60_000, ge=1_000, le=900_000)
    gaps_source: Literal["polygon", "alpaca", "replay"] = "polygon"


class PollSettings(Section):
    """Polling sources for vendors without a stream (``ingest.source`` ``yfinance``,
    ``polygon_rest``, ``alpaca_rest``; pipeline/sources/poll/).

    Symbols are ``ingest.symbol_list`` / ``ingest.symbols_file``; credentials the live sources'
    (``sources.polygon_api_key``, ``sources.alpaca_key_id`` / ``alpaca_secret_key`` or
    ``sources.secrets_file``). The URLs are the REST hosts (tests point them at fixture servers).
    A failed poll (429, 5xx, timeout) waits the ``retry_*`` backoff, or ``Retry-After`` when longer,
    instead of ``interval_s``.
    """

    interval_s: float = Field(15.0, ge=0.05, le=3600)
    timeout_s: float = Field(10.0, gt=0, le=300)
    retry_initial_s: float = Field(1.0, gt=0, le=3600)
    retry_max_s: float = Field(120.0, gt=0, le=86_400)
    yfinance_url: str = Field(
        "https://query2.finance.yahoo.com", pattern=r"^https?://[^\s/]+(/[^\s]*)?$"
    )
    polygon_url: str = Field("https://api.polygon.io", pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    polygon_endpoint: Literal["snapshot", "last"] = "snapshot"
    alpaca_url: str = Field("https://data.alpaca.markets", pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    alpaca_feed: Literal["iex", "sip", "delayed_sip", "crypto"] = "iex"
    ca_cert: Path | None = None  # a CA bundle for the vendors' TLS (default: the system's)

    @model_validator(mode="after")
    def _retry_bounds(self) -> PollSettings:
        if self.retry_max_s < self.retry_initial_s:
            raise ValueError("poll.retry_max_s must be >= poll.retry_initial_s")
        return self


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
    hours: TradingHoursSettings = TradingHoursSettings()
    alerts: AlertSettings = AlertSettings()
    smtp: SmtpSettings = SmtpSettings()
    status: StatusSettings = StatusSettings()
    sources: SourceCredentials = SourceCredentials()
    backfill: BackfillSettings = BackfillSettings()
    otel: OtelSettings = OtelSettings()
    archive: ArchiveSettings = ArchiveSettings()
    poll: PollSettings = PollSettings()

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
        if "otel" not in overrides:
            overrides["otel"] = _otel_environment(overrides.get("_env_file", ".env"))
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    finally:
        _TOML_FILE["path"] = None


class _OtelEnvironment(OtelSettings, BaseSettings):
    """Reads :class:`OtelSettings` from ``OTEL_*`` variables (environment, then ``.env``)."""

    model_config = SettingsConfigDict(
        env_prefix="OTEL_", env_ignore_empty=True, extra="ignore", frozen=True
    )


def _otel_environment(env_file: Any) -> OtelSettings:
    """The standard OpenTelemetry variables as frozen settings; bad values name the variable."""
    try:
        found = _OtelEnvironment(_env_file=env_file)
    except ValidationError as exc:
        lines = ["invalid OpenTelemetry configuration:"]
        for err in exc.errors():
            name = "OTEL_" + "_".join(str(part) for part in err["loc"]).upper()
            shown = "<hidden>" if "headers" in name.lower() else repr(err.get("input"))
            lines.append(f"  {name} = {shown}: {err['msg']}")
        raise ConfigError("\n".join(lines)) from None
    return OtelSettings.model_validate(found.model_dump())


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
