"""Realistic rows for the tables a short, healthy pipeline run leaves empty.

A few seconds of simulator -> Kafka -> load -> ClickHouse fill ``market.*``, the spans, logs
and heartbeats; they rarely open an alert or send an email. These writers add such rows
(an open CRIT alert, a resolved WARN one, the emails about them, a check history, a few dead
letters), shaped like the detector's and the load worker's own, so every dashboard panel has
something to show. Each returns how many rows it wrote.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from clickhouse_connect.driver.client import Client

from alerts.events import EVENT_COLUMNS
from alerts.journal import NOTIFICATION_COLUMNS
from pipeline.dlq import DEAD_LETTER_COLUMNS
from tickwatch.settings import ClickHouseSettings
from tickwatch.types import HEALTH_COLUMNS

SYMBOLS = ("AAPL", "MSFT", "SPY", "BTC-USD", "ETH-USD")
Seeder = Callable[[Client, ClickHouseSettings, datetime], int]


def _insert(client: Client, table: str, columns: list[str], rows: list[list[Any]]) -> int:
    client.insert(table, rows, column_names=columns)
    return len(rows)


def trades_and_quotes(client: Client, ch: ClickHouseSettings, now: datetime) -> int:
    """Ten minutes of trades and quotes for five symbols, as the load worker stores them."""
    rng = random.Random(7)
    trades: list[list[Any]] = []
    quotes: list[list[Any]] = []
    for index, symbol in enumerate(SYMBOLS):
        price = 100.0 + 50 * index
        for step in range(300):
            event = now - timedelta(seconds=600 - 2 * step)
            price *= 1 + rng.gauss(0, 0.0005)
            received = event + timedelta(milliseconds=rng.randint(1, 30))
            kafka_time = received + timedelta(milliseconds=2)
            inserted = kafka_time + timedelta(milliseconds=rng.randint(50, 600))
            offset = index * 1000 + step
            trades.append(
                [
                    symbol,
                    "equity" if index < 3 else "crypto",
                    event,
                    price,
                    rng.choice((1.0, 10.0, 100.0)),
                    "XNAS",
                    f"t{offset}",
                    [],
                    "simulator",
                    received,
                    kafka_time,
                    inserted,
                    index % 3,
                    offset,
                ]
            )
            half_spread = price * 0.0002
            quotes.append(
                [
                    symbol,
                    "equity" if index < 3 else "crypto",
                    event,
                    price - half_spread,
                    200.0,
                    price + half_spread,
                    300.0,
                    "XNAS",
                    "XNAS",
                    [],
                    "simulator",
                    received,
                    kafka_time,
                    inserted,
                    index % 3,
                    offset,
                ]
            )
    trade_columns = [
        "symbol",
        "asset_class",
        "event_time",
        "price",
        "size",
        "exchange",
        "trade_id",
        "conditions",
        "source",
        "received_at",
        "kafka_time",
        "inserted_at",
        "kafka_partition",
        "kafka_offset",
    ]
    quote_columns = [
        "symbol",
        "asset_class",
        "event_time",
        "bid_price",
        "bid_size",
        "ask_price",
        "ask_size",
        "bid_exchange",
        "ask_exchange",
        "conditions",
        "source",
        "received_at",
        "kafka_time",
        "inserted_at",
        "kafka_partition",
        "kafka_offset",
    ]
    written = _insert(client, f"{ch.market_database}.trades", trade_columns, trades)
    return written + _insert(client, f"{ch.market_database}.quotes", quote_columns, quotes)


def health_checks(client: Client, ch: ClickHouseSettings, now: datetime) -> int:
    """Twenty minutes of detector results: lag goes WARN then CRIT, the rest stays OK."""
    rows: list[list[Any]] = []
    for step in range(40):
        when = now - timedelta(seconds=1200 - 30 * step)
        lag = 5.0 if step < 25 else (45.0 if step < 33 else 150.0)
        status = "OK" if lag < 30 else ("WARN" if lag < 120 else "CRIT")
        rows += [
            [when, "broker", "kafka:9092", "OK", 1.0, 1.0, "broker reachable", 3.2],
            [when, "clickhouse", "clickhouse:8123", "OK", 1.0, 1.0, "SELECT 1 ok", 1.1],
            [when, "consumer_lag", "ticks.trades", status, lag, 120.0, f"lag {lag:.0f} s", 4.0],
            [when, "freshness", "AAPL", "OK", 2.0, 300.0, "last trade 2 s ago", 2.5],
        ]
    return _insert(client, f"{ch.ops_database}.health_checks", list(HEALTH_COLUMNS), rows)


def alert_events(client: Client, ch: ClickHouseSettings, now: datetime) -> int:
    """One alert still open (CRIT lag) and one that opened and resolved (WARN freshness)."""
    lag_since = now - timedelta(minutes=8)
    fresh_since = now - timedelta(minutes=50)
    rows = [
        [
            lag_since,
            "consumer_lag/ticks.trades",
            "consumer_lag",
            "ticks.trades",
            "open",
            "WARN",
            lag_since,
            45.0,
            30.0,
            "consumer lag 45 s on ticks.trades",
        ],
        [
            now - timedelta(minutes=4),
            "consumer_lag/ticks.trades",
            "consumer_lag",
            "ticks.trades",
            "severity_change",
            "CRIT",
            lag_since,
            150.0,
            120.0,
            "consumer lag 150 s on ticks.trades",
        ],
        [
            fresh_since,
            "freshness/MSFT",
            "freshness",
            "MSFT",
            "open",
            "WARN",
            fresh_since,
            75.0,
            60.0,
            "no MSFT trade for 75 s",
        ],
        [
            now - timedelta(minutes=45),
            "freshness/MSFT",
            "freshness",
            "MSFT",
            "resolve",
            "OK",
            fresh_since,
            3.0,
            60.0,
            "MSFT trades again",
        ],
    ]
    return _insert(client, f"{ch.ops_database}.alert_events", list(EVENT_COLUMNS), rows)


def notifications(client: Client, ch: ClickHouseSettings, now: datetime) -> int:
    """The emails about those alerts: sent, one retried, one suppressed by the rate limit."""
    to = ["oncall@tickwatch.local"]
    rows = [
        [
            now - timedelta(minutes=50),
            "email",
            to,
            "[WARN] freshness MSFT",
            ["freshness/MSFT"],
            "sent",
            1,
            "",
        ],
        [
            now - timedelta(minutes=45),
            "email",
            to,
            "[RESOLVED] freshness MSFT",
            ["freshness/MSFT"],
            "sent",
            1,
            "",
        ],
        [
            now - timedelta(minutes=8),
            "email",
            to,
            "[WARN] consumer_lag ticks.trades",
            ["consumer_lag/ticks.trades"],
            "retrying",
            1,
            "421 try again later",
        ],
        [
            now - timedelta(minutes=7),
            "email",
            to,
            "[WARN] consumer_lag ticks.trades",
            ["consumer_lag/ticks.trades"],
            "sent",
            2,
            "",
        ],
        [
            now - timedelta(minutes=4),
            "email",
            to,
            "[CRIT] consumer_lag ticks.trades",
            ["consumer_lag/ticks.trades"],
            "suppressed",
            1,
            "max_emails_per_hour reached",
        ],
    ]
    return _insert(client, f"{ch.ops_database}.notifications", list(NOTIFICATION_COLUMNS), rows)


def dead_letters(client: Client, ch: ClickHouseSettings, now: datetime) -> int:
    """A few rejected messages with the load worker's reasons."""
    reasons = [
        ("invalid_json", "truncated JSON at byte 41", '{"t":"trade","s":"AAPL","p":1'),
        ("negative_price", "price -1.0 < 0", '{"t":"trade","s":"MSFT","p":-1.0}'),
        ("unknown_version", "schema version 9", '{"v":9}'),
    ]
    rows = [
        [
            now - timedelta(minutes=index + 1),
            "ticks.trades",
            index % 3,
            5000 + index,
            now - timedelta(minutes=index + 1),
            "AAPL",
            reason,
            detail,
            payload,
        ]
        for index, (reason, detail, payload) in enumerate(reasons)
    ]
    return _insert(client, f"{ch.ops_database}.dead_letters", list(DEAD_LETTER_COLUMNS), rows)


def spans(client: Client, ch: ClickHouseSettings, now: datetime) -> int:
    """Load batches as OpenTelemetry spans (poll, decode, insert, commit) with their trace."""
    rng = random.Random(11)
    rows: list[list[Any]] = []
    for batch in range(30):
        trace_id = uuid.uuid4().hex
        start = (now - timedelta(seconds=600 - 20 * batch)).replace(tzinfo=None)
        for name, micros in (
            ("load.decode", 900),
            ("load.insert", rng.randint(4000, 90000)),
            ("load.commit", 1500),
        ):
            rows.append(
                [
                    start,
                    trace_id,
                    uuid.uuid4().hex[:16],
                    "",
                    name,
                    "Internal",
                    "load",
                    {"service.name": "load"},
                    "tickwatch.load",
                    {"rows": str(rng.randint(100, 5000)), "topic": "ticks.trades"},
                    micros * 1000,
                    "Ok",
                ]
            )
    columns = [
        "Timestamp",
        "TraceId",
        "SpanId",
        "ParentSpanId",
        "SpanName",
        "SpanKind",
        "ServiceName",
        "ResourceAttributes",
        "ScopeName",
        "SpanAttributes",
        "Duration",
        "StatusCode",
    ]
    return _insert(client, f"{ch.ops_database}.otel_traces", columns, rows)


def logs(client: Client, ch: ClickHouseSettings, now: datetime) -> int:
    """Worker log records with their trace ids, as the ClickHouse log sink writes them."""
    rows: list[list[Any]] = []
    for step in range(20):
        when = (now - timedelta(seconds=300 - 15 * step)).replace(tzinfo=None)
        level, number = ("WARN", 13) if step % 5 == 0 else ("INFO", 9)
        rows.append(
            [
                when,
                uuid.uuid4().hex,
                uuid.uuid4().hex[:16],
                1,
                level,
                number,
                "load",
                f"inserted batch {step}",
                {"service.name": "load"},
                "pipeline.load",
            ]
        )
    columns = [
        "Timestamp",
        "TraceId",
        "SpanId",
        "TraceFlags",
        "SeverityText",
        "SeverityNumber",
        "ServiceName",
        "Body",
        "ResourceAttributes",
        "ScopeName",
    ]
    return _insert(client, f"{ch.ops_database}.otel_logs", columns, rows)


def heartbeats(client: Client, ch: ClickHouseSettings, now: datetime) -> int:
    """One heartbeat every 5 s for five minutes from each worker."""
    started = now - timedelta(minutes=30)
    rows = [
        [
            now - timedelta(seconds=5 * step),
            service,
            f"{service}-1",
            "host-a",
            100 + index,
            started,
            "running",
            {},
        ]
        for index, service in enumerate(("ingest", "load", "monitor"))
        for step in range(60)
    ]
    columns = ["time", "service", "instance", "host", "pid", "started", "status", "details"]
    return _insert(client, f"{ch.ops_database}.heartbeats", columns, rows)


def archive_manifest(client: Client, ch: ClickHouseSettings, now: datetime) -> int:
    """A week of archived days per table, as ``tickwatch archive run`` records them (the last
    day of quotes read back different)."""
    rows: list[list[Any]] = []
    for back in range(1, 8):
        day = (now - timedelta(days=back)).date()
        for table in ("trades", "quotes", "bars", "candles_1s", "candles_1m"):
            status = "mismatch" if (table, back) == ("quotes", 1) else "verified"
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            key = f"{table}/date={day.isoformat()}/part-0.parquet"
            rows.append([table, day, 0, key, 50_000 * back, 2_000_000 * back, start,
                         start + timedelta(hours=23, minutes=59), 1234567 + back, status, "",
                         now - timedelta(days=back - 1, hours=18)])  # fmt: skip
    columns = ["table", "day", "part", "object_key", "rows", "bytes", "min_time", "max_time",
               "checksum", "status", "detail", "updated_at"]  # fmt: skip
    return _insert(client, f"{ch.ops_database}.archive_manifest", columns, rows)


def backfill_watermarks(client: Client, ch: ClickHouseSettings, now: datetime) -> int:
    """Marks as ``tickwatch backfill`` leaves them: two symbols, one run resumed after a kill
    (two spans), one finished; and a day of AAPL trades (interval 0)."""
    start = datetime(now.year, now.month, now.day, tzinfo=UTC) - timedelta(days=30)
    rows: list[list[Any]] = []
    for n, (symbol, spans) in enumerate((("AAPL", 2), ("MSFT", 1))):
        for span in range(spans):
            lo = start + timedelta(days=10 * span)
            rows.append(["polygon", symbol, 60, lo, lo + timedelta(days=9, hours=20), 3900 + n,
                         f"run{span}", now - timedelta(hours=span)])  # fmt: skip
    day = start + timedelta(days=28)
    rows.append(["alpaca", "AAPL", 0, day, day + timedelta(hours=20), 250_000, "run2", now])
    columns = ["source", "symbol", "interval_s", "range_start", "watermark", "bars", "run_id",
               "updated_at"]  # fmt: skip
    return _insert(client, f"{ch.ops_database}.backfill_watermarks", columns, rows)


SEEDERS: dict[str, Seeder] = {
    "market.trades": trades_and_quotes,
    "market.quotes": trades_and_quotes,
    "market.candles_1s_state": trades_and_quotes,  # filled by the materialized view
    "market.candles_1s": trades_and_quotes,  # the view over it (and trade_corrections)
    "ops.health_checks": health_checks,
    "ops.alert_events": alert_events,
    "ops.notifications": notifications,
    "ops.dead_letters": dead_letters,
    "ops.otel_traces": spans,
    "ops.otel_logs": logs,
    "ops.heartbeats": heartbeats,
    "ops.archive_manifest": archive_manifest,
    "ops.backfill_watermarks": backfill_watermarks,
}
"""Table a dashboard query reads -> the writer that adds realistic rows to it."""


def utc_now() -> datetime:
    return datetime.now(UTC)
