"""Drive the real pipeline for the end-to-end tests: live source → ingest → Kafka → load → CH.

The ingest side is :class:`~pipeline.ingest.IngestWorker` with a real
:class:`~pipeline.producer.TickProducer`; the load side is the worker the load CLI builds, run
in a thread until the expected rows are in ClickHouse (or a safety timeout passes).
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.client import Client
from confluent_kafka import Producer
from prometheus_client import CollectorRegistry

from pipeline.codec import Payload
from pipeline.ingest import IngestResult, IngestWorker
from pipeline.load_cli import build_worker
from pipeline.producer import TickProducer, producer_config
from pipeline.sources.base import Source
from pipeline.sources.checkpoint import CheckpointedSource
from pipeline.sources.live import build_live_source
from pipeline.topics import record_topics
from tickwatch.settings import Settings, SourceCredentials
from tickwatch.telemetry.catalog import IngestMetrics, LoadMetrics

LOAD_TIMEOUT_S = 60.0  # safety net only; the loop ends as soon as the rows are there


class FirstRecords:
    """A source that ends after ``count`` records of ``inner`` (the fixture's whole stream)."""

    def __init__(self, inner: Source, count: int) -> None:
        self.name = inner.name
        self._inner = inner
        self._count = count

    async def batches(self) -> AsyncGenerator[Sequence[Payload]]:
        seen = 0
        async with aclosing(self._inner.batches()) as batches:  # type: ignore[type-var]
            async for batch in batches:
                yield batch
                seen += len(batch)
                if seen >= self._count:
                    return

    async def aclose(self) -> None:
        await self._inner.aclose()

    def checkpoint(self) -> None:
        if isinstance(self._inner, CheckpointedSource):
            self._inner.checkpoint()


def live(settings: Settings, source: str, symbols: str, **sources: Any) -> Settings:
    """``settings`` from the harness with the live ``source`` configured."""
    ingest = settings.ingest.model_copy(update={"source": source, "symbol_list": symbols})
    return settings.model_copy(update={"ingest": ingest, "sources": SourceCredentials(**sources)})


async def ingest(
    settings: Settings, count: int, state_dir: Path | None = None, recover_s: float = 0.0
) -> IngestResult:
    """Run the ingest worker over the live source until ``count`` records were produced.

    With ``state_dir`` the source keeps its trade ledger there (a restart sees the last run's);
    ``recover_s`` > 0 reads trade keys back from Kafka first, as the ingest entry point does.
    """
    metrics = IngestMetrics(CollectorRegistry())
    live_source = build_live_source(settings, metrics, state_dir=state_dir)
    if recover_s > 0:
        live_source.recover(settings.kafka, settings.kafka.bootstrap, recover_s)
    source = FirstRecords(live_source, count)
    config = producer_config(settings, settings.kafka.bootstrap)
    producer = TickProducer(Producer, config, record_topics(settings.kafka), metrics, source.name)
    worker = IngestWorker(
        source, producer, metrics, flush_timeout_s=10.0, count_source_messages=False
    )
    return await worker.run()


def load(settings: Settings, client: Client, expected: dict[str, int]) -> None:
    """Run the load worker until every table in ``expected`` holds that many rows."""
    worker = build_worker(
        settings, settings.kafka.bootstrap, client, LoadMetrics(CollectorRegistry())
    )
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop, 10.0), daemon=True)
    thread.start()
    deadline = time.monotonic() + LOAD_TIMEOUT_S
    try:
        while time.monotonic() < deadline and _counts(client, expected) != expected:
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(LOAD_TIMEOUT_S)


def _counts(client: Client, expected: dict[str, int]) -> dict[str, int]:
    return {
        table: int(client.query(f"SELECT count() FROM {table}").result_rows[0][0])
        for table in expected
    }


def rows(client: Client, sql: str) -> list[tuple[Any, ...]]:
    """Query result rows as tuples (arrays as tuples too, for comparisons)."""
    return [
        tuple(tuple(v) if isinstance(v, list) else v for v in row)
        for row in client.query(sql).result_rows
    ]
