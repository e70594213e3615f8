"""The load worker on the real Kafka and ClickHouse: counts, dead letters, rebalance, outage."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import orjson
import pytest
from clickhouse_connect.driver.client import Client
from confluent_kafka import Consumer, ConsumerGroupState, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from prometheus_client import CollectorRegistry

from pipeline.codec import Bar, Quote, Record, Trade, encode, to_wire
from pipeline.load_cli import build_worker
from tickwatch import migrations
from tickwatch.clients import clickhouse_client
from tickwatch.settings import LoadSettings, Settings
from tickwatch.stack.clickhouse_server import ClickHouseServer
from tickwatch.telemetry.catalog import LoadMetrics

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]

NOW_US = int(time.time()) * 10**6
WAIT_S = 90.0
PARTITIONS = 3


def with_load(settings: Settings, **load: float | str) -> Settings:
    base = {"batch_max_rows": 2000, "batch_max_ms": 100, "retry_initial_s": 0.2, "retry_max_s": 1.0}
    return settings.model_copy(update={"load": LoadSettings(**{**base, **load})})


class WorkerThread:
    """A load worker running in a thread of the test process, with its own metrics registry."""

    def __init__(self, settings: Settings, bootstrap: str, client: Client | None = None) -> None:
        self.registry = CollectorRegistry()
        client = client or clickhouse_client(settings.clickhouse, settings.clickhouse.url)
        self.worker = build_worker(settings, bootstrap, client, LoadMetrics(self.registry))
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.worker.run(self._stop, shutdown_timeout_s=20)
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
        assert not self._thread.is_alive(), "worker did not stop"
        assert self.error is None, self.error

    def sample(self, name: str, labels: dict[str, str] | None = None) -> float:
        return self.registry.get_sample_value(name, labels or {}) or 0.0


def produce(bootstrap: str, topic: str, values: list[tuple[int, bytes]]) -> list[tuple[int, int]]:
    """Send ``(partition, value)`` pairs; return each one's (partition, offset)."""
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 20,
            "enable.idempotence": True,
            "queue.buffering.max.messages": 1_000_000,
        }
    )
    offsets: list[tuple[int, int]] = [(-1, -1)] * len(values)

    def delivered(index: int) -> Callable[..., None]:
        def record(err: object, msg: object) -> None:
            assert err is None, err
            offsets[index] = (msg.partition(), msg.offset())  # type: ignore[attr-defined]

        return record

    for i, (partition, value) in enumerate(values):
        producer.produce(topic, value, b"k", partition=partition, on_delivery=delivered(i))
        if i % 50_000 == 0:
            producer.poll(0)
    assert producer.flush(30) == 0
    return offsets


def wire(record: Record) -> bytes:
    return encode(record).value


def trades(n: int, start: int = 0) -> list[tuple[int, bytes]]:
    return [
        (i % PARTITIONS, wire(Trade(f"S{i % 7}", NOW_US + i * 1000, 100 + i % 13, 1.0 + i % 4)))
        for i in range(start, start + n)
    ]


def count(client: Client, sql: str) -> int:
    return int(client.query(sql).result_rows[0][0])


def wait_for(check: Callable[[], bool], what: str, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def assert_exactly_once(client: Client, expected: int) -> None:
    assert count(client, "SELECT count() FROM trades") == expected
    assert count(client, "SELECT uniqExact(kafka_partition, kafka_offset) FROM trades") == expected
    assert count(client, "SELECT sum(trade_count) FROM candles_1s") == expected
    assert count(client, "SELECT sum(trade_count) FROM candles_1m") == expected


@pytest.fixture
def load_settings(settings: Settings) -> Settings:
    return with_load(settings)


def test_counts_dead_letters_and_candles_end_to_end(
    load_settings: Settings, kafka_bootstrap: str, ch_client: Client
) -> None:
    kafka, ops = load_settings.kafka, load_settings.clickhouse.ops_database
    produce(kafka_bootstrap, kafka.topic_trades, trades(3000))
    quotes = [
        (i % PARTITIONS, wire(Quote(f"Q{i % 5}", NOW_US + i, 10.0, 5.0, 10.5, 7.0)))
        for i in range(1000)
    ]
    produce(kafka_bootstrap, kafka.topic_quotes, quotes)
    bars = [
        (i % PARTITIONS, wire(Bar(f"B{i % 5}", NOW_US + i, 60, 10, 12, 9, 11, 100)))
        for i in range(200)
    ]
    produce(kafka_bootstrap, kafka.topic_bars, bars)
    crossed = to_wire(Quote("Q1", NOW_US, 11.0, 1.0, 10.0, 1.0))
    bad = {
        kafka.topic_trades: [
            b"{nope",
            wire(Quote("Q1", NOW_US, 1, 1, 2, 1)),
            wire(Trade("S1", NOW_US + 3600 * 10**6, 1, 1)),
            orjson.dumps({**to_wire(Trade("S1", NOW_US, 1, 1)), "symbol": "Ä"}),
        ],
        kafka.topic_quotes: [orjson.dumps(crossed)],
        kafka.topic_bars: [wire(Bar("B1", NOW_US, 60, 10, 9, 12, 11, 100))],
    }
    reasons = [
        "malformed_json",
        "wrong_record_type",
        "in_future",
        "bad_symbol",
        "crossed_quote",
        "bad_ohlc",
    ]
    where = []
    for topic, values in bad.items():
        delivered = produce(kafka_bootstrap, topic, [(1, v) for v in values])
        for (partition, offset), value in zip(delivered, values, strict=True):
            where.append((topic, partition, offset, value))
    worker = WorkerThread(load_settings, kafka_bootstrap)
    dead = f"SELECT count() FROM {ops}.dead_letters"
    wait_for(
        lambda: (
            count(ch_client, "SELECT count() FROM trades") == 3000 and count(ch_client, dead) == 6
        ),
        "all rows",
    )
    worker.stop()
    assert count(ch_client, "SELECT count() FROM quotes") == 1000
    assert count(ch_client, "SELECT count() FROM bars") == 200
    assert_exactly_once(ch_client, 3000)
    stored = ch_client.query(
        f"SELECT topic, kafka_partition, kafka_offset, payload, reason FROM {ops}.dead_letters "
        "ORDER BY topic DESC, kafka_offset"
    ).result_rows
    stored_rows = [tuple(row) for row in stored]
    expected = [(t, p, o, v.decode(), r) for (t, p, o, v), r in zip(where, reasons, strict=True)]
    assert sorted(stored_rows) == sorted(expected)
    assert sorted(read_dlq(kafka_bootstrap, kafka.topic_dlq, 6)) == sorted(expected)
    assert worker.sample("tickwatch_load_dead_letters_total", {"reason": "bad_ohlc"}) == 1
    mismatched = ch_client.query(
        "SELECT count() FROM candles_1m AS c INNER JOIN (SELECT symbol, "
        "toStartOfMinute(event_time) AS bucket, argMin(price, event_time) AS o, "
        "max(price) AS h, min(price) AS l, "
        "argMax(price, event_time) AS cl, sum(size) AS v FROM trades GROUP BY symbol, bucket) AS r "
        "ON c.symbol = r.symbol AND c.bucket = r.bucket "
        "WHERE c.open != r.o OR c.high != r.h OR c.low != r.l OR c.close != r.cl OR c.volume != r.v"
    ).result_rows[0][0]
    assert mismatched == 0


def read_dlq(bootstrap: str, topic: str, n: int) -> list[tuple[str, int, int, str, str]]:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "dlq-reader", "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    found: list[tuple[str, int, int, str, str]] = []
    deadline = time.monotonic() + 30
    while len(found) < n and time.monotonic() < deadline:
        for message in consumer.consume(n, 0.5):
            if message.error() is None:
                headers = dict(_headers(message.headers()))
                found.append(
                    (
                        headers["original_topic"],
                        int(headers["original_partition"]),
                        int(headers["original_offset"]),
                        (message.value() or b"").decode(),
                        headers["reason"],
                    )
                )
    consumer.close()
    return found


def _headers(raw: object) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str | bytes | None]] = list(raw or [])  # type: ignore[call-overload]
    return [(k, v.decode() if isinstance(v, bytes) else v or "") for k, v in pairs]


def test_rebalance_when_a_second_worker_joins_and_the_first_leaves(
    settings: Settings, kafka_bootstrap: str, ch_client: Client
) -> None:
    load_settings = with_load(settings, batch_max_rows=500)
    topic = load_settings.kafka.topic_trades
    produce(kafka_bootstrap, topic, trades(30_000))
    first = WorkerThread(load_settings, kafka_bootstrap)
    wait_for(lambda: count(ch_client, "SELECT count() FROM trades") > 2000, "first rows")
    second = WorkerThread(load_settings, kafka_bootstrap)
    # The second wave only once the second worker owns trades partitions: produced earlier, the
    # first worker (hundreds of thousands of rows/s) can load all of it before the rebalance.
    wait_for(
        lambda: owners(kafka_bootstrap, load_settings.kafka.consumer_group, topic) == 2,
        "both workers to own trades partitions",
    )
    produce(kafka_bootstrap, topic, trades(30_000, start=30_000))
    wait_for(
        lambda: (
            second.sample(
                "tickwatch_load_rows_inserted_total",
                {"table": f"{settings.clickhouse.market_database}.trades"},
            )
            > 0
        ),
        "the second worker to load its partitions",
    )
    first.stop()  # a graceful leave: a second rebalance, everything to the second worker
    produce(kafka_bootstrap, topic, trades(10_000, start=60_000))
    wait_for(lambda: count(ch_client, "SELECT count() FROM trades") >= 70_000, "all rows")
    second.stop()
    assert_exactly_once(ch_client, 70_000)


def owners(bootstrap: str, group: str, topic: str) -> int:
    """How many members of the (stable) consumer group own a partition of ``topic``."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    described = admin.describe_consumer_groups([group], request_timeout=10)[group].result()
    if described.state != ConsumerGroupState.STABLE:
        return 0
    return sum(
        any(tp.topic == topic for tp in member.assignment.topic_partitions)
        for member in described.members
    )


def committed(settings: Settings, bootstrap: str, topic: str) -> list[tuple[int, int, int]]:
    """(partition, committed offset, high watermark) of the group on ``topic``."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": settings.kafka.consumer_group})
    try:
        found = consumer.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], 10)
        return [
            (tp.partition, tp.offset, consumer.get_watermark_offsets(tp, 10)[1]) for tp in found
        ]
    finally:
        consumer.close()


def test_graceful_stop_inserts_and_commits_what_is_batched(
    settings: Settings, kafka_bootstrap: str, ch_client: Client
) -> None:
    load_settings = with_load(  # no cut by age or by the early cut: only the stop inserts
        settings, batch_max_rows=100_000, batch_max_ms=600_000, batch_min_ms=0
    )
    topic = load_settings.kafka.topic_trades
    produce(kafka_bootstrap, topic, trades(900))
    worker = WorkerThread(load_settings, kafka_bootstrap)
    wait_for(
        lambda: worker.sample("tickwatch_load_records_consumed_total", {"topic": topic}) == 900,
        "the messages to be batched",
    )
    assert count(ch_client, "SELECT count() FROM trades") == 0  # nothing cut yet
    worker.stop()
    assert_exactly_once(ch_client, 900)
    assert committed(load_settings, kafka_bootstrap, topic) == [(p, 300, 300) for p in range(3)]


@pytest.mark.slow
def test_clickhouse_down_for_15_s_mid_stream_loses_and_doubles_nothing(
    settings: Settings, kafka_bootstrap: str, own_clickhouse: ClickHouseServer
) -> None:
    ch = settings.clickhouse.model_copy(update={"url": own_clickhouse.url})
    load_settings = with_load(
        settings.model_copy(update={"clickhouse": ch}), batch_max_rows=1000, max_pending_rows=20_000
    )
    migrations.apply(clickhouse_client(ch, ch.url), ch)
    client = clickhouse_client(ch, ch.url, database=ch.market_database)
    topic = load_settings.kafka.topic_trades
    produce(kafka_bootstrap, topic, trades(20_000))
    worker = WorkerThread(load_settings, kafka_bootstrap)
    wait_for(lambda: count(client, "SELECT count() FROM trades") >= 3000, "first rows")
    own_clickhouse.stop()
    produce(kafka_bootstrap, topic, trades(40_000, start=20_000))
    wait_for(lambda: worker.sample("tickwatch_load_paused_partitions") > 0, "paused partitions")
    time.sleep(15)  # the outage; the worker keeps polling, paused, within max_pending_rows
    assert worker.worker.batcher.pending() <= 20_000 + load_settings.load.poll_batch
    own_clickhouse.start()
    wait_for(lambda: count(client, "SELECT count() FROM trades") >= 60_000, "all rows")
    worker.stop()
    assert_exactly_once(client, 60_000)
    assert worker.sample("tickwatch_load_clickhouse_retries_total") > 0
    assert worker.sample("tickwatch_load_paused_partitions") == 0
