"""Replay checkpoints: resume where it stopped, a finished replay hands out nothing again.

The file store (``ingest.replay_transactions=false``), with the ingest worker over an in-memory
producer; the Kafka-transaction store, on the real broker, is in
``tests/pipeline/test_replay_exactly_once.py`` and ``tests/pipeline/sources/test_no_duplicates.py``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry

from pipeline.codec import Payload, Trade, to_wire
from pipeline.ingest import IngestWorker
from pipeline.producer import TickProducer
from pipeline.sources import build_source
from pipeline.sources.checkpoint import CheckpointError
from pipeline.sources.replay import ReplaySource
from pipeline.topics import record_topics
from tickwatch.settings import IngestSettings, KafkaSettings, Settings, StackSettings
from tickwatch.telemetry.catalog import IngestMetrics

from .ingest_helpers import FakeKafka

T0 = 1_763_700_000_000_000
TRADES = [Trade("AAPL", T0 + n, 100.0 + n, 1.0, trade_id=str(n)) for n in range(10)]


def write_file(path: Path) -> Path:
    path.write_bytes(b"".join(orjson.dumps(to_wire(t)) + b"\n" for t in TRADES))
    return path


def settings(tmp_path: Path, replay: Path, **ingest: Any) -> Settings:
    return Settings(
        _env_file=None,
        stack=StackSettings(state_dir=tmp_path / "state"),
        ingest=IngestSettings(
            source="replay", replay_path=replay, replay_transactions=False, **ingest
        ),
    )


class Producing:
    """An ingest worker over an in-memory producer; ``ids`` are the trade ids it produced."""

    def __init__(self, kafka_class: type[FakeKafka] = FakeKafka) -> None:
        self.kafkas: list[FakeKafka] = []
        self._class = kafka_class

    def _factory(self, config: dict[str, Any]) -> FakeKafka:
        kafka = self._class(config)
        self.kafkas.append(kafka)
        return kafka

    def run(self, source: Any) -> None:
        metrics = IngestMetrics(CollectorRegistry())
        topics = record_topics(KafkaSettings())
        producer = TickProducer(self._factory, {}, topics, metrics, source.name)
        worker = IngestWorker(source, producer, metrics, flush_timeout_s=1.0)
        asyncio.run(worker.run())

    @property
    def ids(self) -> list[str]:
        return [orjson.loads(m[1])["trade_id"] for k in self.kafkas for m in k.messages]


class FirstBatches:
    """Stops ``inner`` after ``n`` batches (a SIGTERM half-way), passing checkpoints through."""

    def __init__(self, inner: ReplaySource, n: int) -> None:
        self.name, self._inner, self._n = inner.name, inner, n

    async def batches(self) -> AsyncIterator[Sequence[Payload]]:
        seen = 0
        async for batch in self._inner.batches():
            yield batch
            seen += 1
            if seen >= self._n:
                return

    def checkpoint(self) -> None:
        self._inner.checkpoint()

    async def aclose(self) -> None:
        await self._inner.aclose()


def test_replaying_a_file_twice_produces_each_record_once(tmp_path: Path) -> None:
    config = settings(tmp_path, write_file(tmp_path / "day.jsonl"))
    run = Producing()
    run.run(build_source(config))
    run.run(build_source(config))  # finished: hands out nothing
    assert run.ids == [t.trade_id for t in TRADES]


def test_a_stopped_replay_resumes_after_the_last_acknowledged_record(tmp_path: Path) -> None:
    config = settings(tmp_path, write_file(tmp_path / "day.jsonl"))
    first = build_source(config)
    assert isinstance(first, ReplaySource)
    first._batch_size = 3  # three records per batch; stop after two batches
    run = Producing()
    run.run(FirstBatches(first, 2))
    assert run.ids == [str(n) for n in range(6)]
    resumed = build_source(config)
    assert isinstance(resumed, ReplaySource) and resumed.start.records == 6
    run.run(resumed)
    assert run.ids == [t.trade_id for t in TRADES]


class NeverDelivers(FakeKafka):
    """A broker that never acknowledges: the queue never drains."""

    def poll(self, timeout: float) -> int:
        return 0

    def flush(self, timeout: float) -> int:
        return len(self.pending)


def test_no_checkpoint_without_delivery(tmp_path: Path) -> None:
    config = settings(tmp_path, write_file(tmp_path / "day.jsonl"))
    source = build_source(config)
    assert isinstance(source, ReplaySource) and source._checkpoints is not None
    Producing(NeverDelivers).run(source)
    assert not Path(source._checkpoints.where).exists()
    assert build_source(config).start.records == 0  # type: ignore[attr-defined]


def test_a_changed_file_is_not_resumed(tmp_path: Path) -> None:
    path = write_file(tmp_path / "day.jsonl")
    config = settings(tmp_path, path)
    Producing().run(build_source(config))
    with path.open("ab") as fh:
        fh.write(orjson.dumps(to_wire(TRADES[0])) + b"\n")
    os.utime(path, ns=(1, 1))
    with pytest.raises(CheckpointError, match="replay files changed"):
        build_source(config)


def test_resume_off_replays_from_the_start(tmp_path: Path) -> None:
    path = write_file(tmp_path / "day.jsonl")
    run = Producing()
    run.run(build_source(settings(tmp_path, path)))
    run.run(build_source(settings(tmp_path, path, replay_resume=False)))
    assert len(run.ids) == 2 * len(TRADES)
