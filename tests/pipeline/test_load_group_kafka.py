"""Groups (load.batch_scope = "table") on the real Kafka and ClickHouse.

kill -9 of worker processes again and again (the exactly-once test, with groups); a recorded
group split across two members by a rebalance (same rows, same token, exactly once); a
partial intent written into the real group coordinator, rolled forward (also under
auto.offset.reset = latest); and the broker's offset.metadata.max.bytes, which caps a group's
partitions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from clickhouse_connect.driver.client import Client
from confluent_kafka import Consumer, KafkaException, TopicPartition
from prometheus_client import CollectorRegistry

from pipeline.errors import ClickHouseUnavailable
from pipeline.load.group import (
    METADATA_MAX_BYTES,
    MemberRange,
    group_metadata,
    group_token,
    parse_group,
    split_members,
)
from pipeline.load_cli import build_worker
from tests.pipeline import test_load_exactly_once as kill9
from tests.pipeline.test_load_pipeline import (
    PARTITIONS,
    WorkerThread,
    assert_exactly_once,
    count,
    produce,
    trades,
    wait_for,
    with_load,
)
from tickwatch.clients import clickhouse_client
from tickwatch.settings import Settings
from tickwatch.telemetry.catalog import LoadMetrics

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]


def grouped(settings: Settings, **load: Any) -> Settings:
    return with_load(settings, batch_scope="table", **load)


@pytest.mark.slow
def test_kill_9_at_random_moments_with_groups_leaves_every_tick_exactly_once(
    settings: Settings,
    kafka_bootstrap: str,
    ch_client: Client,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plain = kill9.worker_env

    def env(s: Settings) -> dict[str, str]:
        return {**plain(s), "TICKWATCH_LOAD_BATCH_SCOPE": "table"}

    monkeypatch.setattr(kill9, "worker_env", env)
    kill9.test_kill_9_at_random_moments_leaves_every_tick_exactly_once(
        settings, kafka_bootstrap, ch_client, tmp_path
    )


class RecordingWorker(WorkerThread):
    """A load worker in a thread whose ClickHouse client records every insert's token and
    (partition, offset) rows, and can be made to fail transiently (``down``)."""

    def __init__(self, settings: Settings, bootstrap: str, down: bool = False) -> None:
        self.sent: list[tuple[str, list[tuple[int, int]]]] = []
        self.attempts: list[str] = []
        self.down = down
        client = clickhouse_client(settings.clickhouse, settings.clickhouse.url)
        insert, raw_insert = client.insert, client.raw_insert

        def attempt(kwargs: dict[str, Any]) -> str:
            token = str(kwargs["settings"]["insert_deduplication_token"])
            self.attempts.append(token)
            if self.down and not token.startswith("dlq:"):
                raise ClickHouseUnavailable(f"test: ClickHouse down for {token}")
            return token

        def recording(table: str, data: Any, **kwargs: Any) -> Any:
            token = attempt(kwargs)
            names = kwargs["column_names"]
            if "kafka_partition" in names:
                rows = list(
                    zip(
                        data[names.index("kafka_partition")],
                        data[names.index("kafka_offset")],
                        strict=True,
                    )
                )
                self.sent.append((token, rows))
            return insert(table, data, **kwargs)

        def recording_raw(table: str, names: Any, block: Any, **kwargs: Any) -> Any:
            token = attempt(kwargs)  # the rows' Arrow stream (pipeline.load.insert)
            self.sent.append((token, arrow_rows(block)))
            return raw_insert(table, names, block, **kwargs)

        client.insert = recording  # type: ignore[method-assign,assignment]
        client.raw_insert = recording_raw  # type: ignore[method-assign,assignment]
        super().__init__(settings, bootstrap, client)

    def assigned(self) -> set[int]:
        return {key[1] for key in self.worker.batcher.partitions}


def arrow_rows(block: Any) -> list[tuple[int, int]]:
    """The (kafka_partition, kafka_offset) of every row of an ArrowStream insert block."""
    table = pa.ipc.open_stream(block).read_all()
    return list(
        zip(
            table.column("kafka_partition").to_pylist(),
            table.column("kafka_offset").to_pylist(),
            strict=True,
        )
    )


def records(settings: Settings, bootstrap: str) -> dict[int, tuple[int, str | None]]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": settings.kafka.consumer_group})
    try:
        topic = settings.kafka.topic_trades
        found = consumer.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], 10)
        return {tp.partition: (tp.offset, tp.metadata) for tp in found if tp.offset >= 0}
    finally:
        consumer.close()


def commit_as_group(
    settings: Settings, bootstrap: str, offsets: list[tuple[int, int, str | None]]
) -> None:
    """Write committed records for the load group from outside it (the group is empty)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": settings.kafka.consumer_group})
    try:
        topic = settings.kafka.topic_trades
        parts = [
            TopicPartition(topic, p, o, m) if m else TopicPartition(topic, p, o)
            for p, o, m in offsets
        ]
        consumer.commit(offsets=parts, asynchronous=False)
    finally:
        consumer.close()


def die_after_first_insert(settings: Settings, bootstrap: str) -> str:
    """Run a worker until its first group is inserted, then stop it dead (no done commit,
    no drain): the recorded group stays behind. Returns its token."""
    client = clickhouse_client(settings.clickhouse, settings.clickhouse.url)
    worker = build_worker(settings, bootstrap, client, LoadMetrics(CollectorRegistry()))
    tokens: list[str] = []
    raw_insert = client.raw_insert  # the rows go as an Arrow stream (pipeline.load.insert)

    class Killed(Exception):
        pass

    def insert_then_die(table: str, names: Any, block: Any, **kwargs: Any) -> Any:
        raw_insert(table, names, block, **kwargs)
        tokens.append(kwargs["settings"]["insert_deduplication_token"])
        raise Killed

    client.raw_insert = insert_then_die  # type: ignore[method-assign,assignment]
    worker.subscribe()
    consumer = worker._consumer
    try:
        with pytest.raises(Killed):
            for _ in range(600):
                worker.step()
    finally:
        consumer.close()  # leaves the group; the revoke drops the batches, commits nothing
    return tokens[0]


def test_a_rebalance_splitting_a_recorded_group_keeps_its_rows_and_token(
    settings: Settings, kafka_bootstrap: str, ch_client: Client
) -> None:
    # one group of all: no early cut (a partition fetched 120 ms after the first would miss it)
    load = grouped(settings, batch_max_ms=2000, batch_max_rows=100_000, batch_min_ms=0)
    topic = load.kafka.topic_trades
    produce(kafka_bootstrap, topic, trades(3_000))
    token = die_after_first_insert(load, kafka_bootstrap)
    recorded = {p: parse_group(m) for p, (_o, m) in records(load, kafka_bootstrap).items()}
    assert len(set(recorded.values())) == 1 and None not in recorded.values()
    assert len(recorded) == PARTITIONS  # the intent is on every member
    first_rows = count(ch_client, "SELECT count() FROM trades")
    assert first_rows > 0
    produce(kafka_bootstrap, topic, trades(3_000, start=3_000))
    one = RecordingWorker(load, kafka_bootstrap, down=True)  # re-forms the group, cannot insert
    wait_for(lambda: token in one.attempts or one.error is not None, "a retry")
    two = RecordingWorker(load, kafka_bootstrap)  # joins: the group's members are split
    wait_for(lambda: bool(one.assigned()) and bool(two.assigned()), "the split")
    one.down = False

    def loaded() -> bool:
        assert one.error is None and two.error is None, (one.error, two.error)
        return count(ch_client, "SELECT count() FROM trades") >= 6_000

    wait_for(loaded, "all rows")
    split = (one.assigned(), two.assigned())
    one.stop()
    two.stop()
    assert_exactly_once(ch_client, 6_000)
    assert split[0] and split[1] and not split[0] & split[1]
    sent = [rows for w in (one, two) for t, rows in w.sent if t == token]
    assert len(sent) >= 2 and all(rows == sent[0] for rows in sent)  # one token, the same rows
    assert any(t == token for t, _ in two.sent)  # both members re-formed it
    final = records(load, kafka_bootstrap)
    assert sum(o for o, _m in final.values()) == 6_000  # every partition committed to its end


def test_a_partial_intent_in_the_real_coordinator_is_rolled_forward(
    settings: Settings, kafka_bootstrap: str, ch_client: Client
) -> None:
    load = grouped(settings)
    produce(kafka_bootstrap, load.kafka.topic_trades, trades(300))
    members = [MemberRange(p, 0, 49) for p in range(PARTITIONS)]
    meta = group_metadata(members)
    # partitions 0 and 1 recorded the intent, partition 2's commit failed: nothing committed
    commit_as_group(load, kafka_bootstrap, [(0, 0, meta), (1, 0, meta)])
    worker = RecordingWorker(load, kafka_bootstrap)
    wait_for(lambda: count(ch_client, "SELECT count() FROM trades") >= 300, "all rows")
    worker.stop()
    assert_exactly_once(ch_client, 300)
    token = group_token(load.kafka.topic_trades, members)
    [(first_token, rows)] = worker.sent[:1]
    assert first_token == token
    assert rows == [(p, o) for p in range(PARTITIONS) for o in range(50)]


def test_under_latest_a_member_with_nothing_committed_starts_at_the_recorded_first(
    settings: Settings, kafka_bootstrap: str, ch_client: Client
) -> None:
    """auto.offset.reset = latest and a partial intent in the real coordinator: the members
    with nothing committed are positioned at the group's recorded first by the assignment
    (not at the log's end, where the group could never be re-formed and nothing more comes)."""
    load = grouped(settings, auto_offset_reset="latest")
    produce(kafka_bootstrap, load.kafka.topic_trades, trades(300))
    members = [MemberRange(p, 0, 49) for p in range(PARTITIONS)]
    meta = group_metadata(members)
    commit_as_group(load, kafka_bootstrap, [(0, 0, meta)])  # the others: nothing committed
    worker = RecordingWorker(load, kafka_bootstrap)
    wait_for(lambda: count(ch_client, "SELECT count() FROM trades") >= 300, "all rows")
    worker.stop()
    assert_exactly_once(ch_client, 300)
    [(first_token, rows)] = worker.sent[:1]
    assert first_token == group_token(load.kafka.topic_trades, members)
    assert rows == [(p, o) for p in range(PARTITIONS) for o in range(50)]
    assert sum(o for o, _m in records(load, kafka_bootstrap).values()) == 300


def test_the_broker_refuses_metadata_over_its_limit_and_the_group_cap_fits_it(
    settings: Settings, kafka_bootstrap: str
) -> None:
    big = 10**15  # 300 partitions with 16-digit offsets: several groups, each kept whole
    for group in split_members([MemberRange(p, big, big + 999) for p in range(300)]):
        assert len(group_metadata(group)) < METADATA_MAX_BYTES
    topic = settings.kafka.topic_trades
    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": "cap-" + topic})
    try:
        fits = "x" * (METADATA_MAX_BYTES - 1)  # the longest string the broker keeps
        result = consumer.commit(offsets=[TopicPartition(topic, 0, 1, fits)], asynchronous=False)
        assert all(tp.error is None for tp in result or [])
        errors: list[str] = []
        try:
            over = TopicPartition(topic, 0, 2, fits + "x")  # offset.metadata.max.bytes itself
            result = consumer.commit(offsets=[over], asynchronous=False)
            errors += [str(tp.error) for tp in result or [] if tp.error is not None]
        except KafkaException as exc:
            errors.append(str(exc))
        assert errors and "METADATA_TOO_LARGE" in errors[0].upper(), errors
        [back] = consumer.committed([TopicPartition(topic, 0)], 10)
        assert (back.offset, back.metadata) == (1, fits)  # the refused commit changed nothing
    finally:
        consumer.close()
