"""One backfill run: for each symbol, fetch what is not yet covered and produce it exactly once.

The same for bars and trades (trades use interval 0 in every key). Per symbol, in this order
(pipeline/backfill/ledger.py gives the argument):

1. a transactional producer with ``transactional.id`` = ``tickwatch-backfill.<source>.<interval>
   .<symbol>``; ``init_transactions()`` fences an earlier (killed) run of the same key and
   aborts its open transaction;
2. read the committed marks (Kafka ledger plus ClickHouse mirror) and cut the request into the
   spans no mark covers;
3. read the keys of the records still in Kafka, not yet loaded (:mod:`pipeline.backfill
   .inflight`); then for each page of each span: drop records whose natural key is in flight
   or already in ``market.bars`` / ``market.trades`` (:mod:`pipeline.backfill.loaded`);
   ``begin_transaction`` → produce the records to the bars or trades topic (key = symbol, the
   live path's encoding) → produce the span's mark → ``commit_transaction``;
4. only then mirror the mark into ClickHouse and advance the progress bar.

A kill anywhere leaves every page either committed with its mark or aborted without it, so the
re-run starts exactly after the last committed page.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from confluent_kafka import KafkaException
from loguru import logger

from pipeline.backfill.coverage import Mark, uncovered
from pipeline.backfill.errors import LedgerError
from pipeline.backfill.interval import Span
from pipeline.backfill.ledger import Mirror, mark_value, read_marks
from pipeline.backfill.loaded import Loaded
from pipeline.backfill.pages import History, HistorySource
from pipeline.codec import encode_value
from tickwatch.clock import WallClock


class TransactionalProducer(Protocol):
    """The part of ``confluent_kafka.Producer`` a backfill uses."""

    def init_transactions(self, timeout: float) -> None: ...
    def begin_transaction(self) -> None: ...
    def produce(self, topic: str, value: bytes, key: bytes) -> None: ...
    def commit_transaction(self, timeout: float) -> None: ...
    def abort_transaction(self, timeout: float) -> None: ...
    def poll(self, timeout: float) -> int: ...
    def flush(self, timeout: float) -> int: ...


class Progress(Protocol):
    """Where a run reports how far it got (a rich progress bar on a TTY, else log lines)."""

    def start(self, symbol: str, total_us: int) -> None: ...
    def advance(self, symbol: str, done_us: int, records: int) -> None: ...


@dataclass(frozen=True)
class Topics:
    records: str  # the bars or the trades topic, as the live path produces them
    ledger: str


@dataclass
class SymbolReport:
    symbol: str
    produced: int = 0
    skipped_loaded: int = 0  # already in market.bars / market.trades (live stream, earlier load)
    pages: int = 0
    spans: list[Span] = field(default_factory=list)


@dataclass
class Backfill:
    """A run's fixed parts: where records come from, go to, and what is already there."""

    source: HistorySource
    producer_factory: Callable[[dict[str, Any]], TransactionalProducer]
    producer_config: dict[str, Any]
    consumer_config: dict[str, Any]
    topics: Topics
    loaded: Loaded
    mirror: Mirror
    clock: WallClock
    progress: Progress
    timeout_s: float = 60.0
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def run(
        self, symbols: Sequence[str], interval_s: int, spans: Sequence[Span]
    ) -> list[SymbolReport]:
        """Backfill every symbol over ``spans``; raises BackfillError / VendorResponseError."""
        return [self.run_symbol(symbol, interval_s, spans) for symbol in symbols]

    def run_symbol(self, symbol: str, interval_s: int, spans: Sequence[Span]) -> SymbolReport:
        """Steps 1-4 of the module docstring for one symbol."""
        name = self.source.name
        tid = f"tickwatch-backfill.{name}.{interval_s}.{symbol}"
        producer = self.producer_factory(self.producer_config | {"transactional.id": tid})
        report = SymbolReport(symbol)
        try:
            producer.init_transactions(self.timeout_s)
            marks = self._marks(name, symbol, interval_s)
            todo = [s for span in spans for s in uncovered(span, marks)]
            report.spans = todo
            self.loaded.begin(symbol, interval_s, todo)  # before any page's ClickHouse check
            self.progress.start(symbol, sum(s.hi_us - s.lo_us + 1 for s in todo))
            for span in todo:
                self._span(producer, symbol, interval_s, span, report)
        except KafkaException as exc:
            raise LedgerError(f"backfill of {symbol} ({tid}): Kafka: {exc}") from None
        finally:
            producer.flush(self.timeout_s)
        return report

    def _marks(self, source: str, symbol: str, interval_s: int) -> list[Mark]:
        prefix = f"{source}|{symbol}|{interval_s}|"
        from_kafka = read_marks(self.consumer_config, self.topics.ledger, prefix)
        return from_kafka + self.mirror.read(source, symbol, interval_s)

    def _span(
        self, producer: TransactionalProducer, symbol: str, interval_s: int, span: Span,
        report: SymbolReport,
    ) -> None:  # fmt: skip
        mark = Mark(self.source.name, symbol, interval_s, span.lo_us, span.lo_us - 1)
        done_before = 0
        for page in self.source.pages(symbol, interval_s, span):
            records = self.loaded.fresh(page.records)
            report.skipped_loaded += len(page.records) - len(records)
            mark = replace(mark, watermark_us=page.covered_to_us, bars=mark.bars + len(records))
            self._commit(producer, records, mark)
            self.mirror.write([mark], self.run_id)
            report.produced += len(records)
            report.pages += 1
            done = page.covered_to_us - span.lo_us + 1
            self.progress.advance(symbol, done - done_before, len(records))
            done_before = done

    def _commit(self, producer: TransactionalProducer, records: list[History], mark: Mark) -> None:
        """One transaction: the page's records, then its mark; committed together or not at
        all."""
        now_us = int(self.clock.time() * 1e6)
        topic = self.topics.records
        producer.begin_transaction()
        try:
            for record in records:
                producer.produce(topic, encode_value(record, now_us), record.symbol.encode())
            value = mark_value(mark, self.run_id, now_us)
            producer.produce(self.topics.ledger, value, mark.key.encode())
            producer.commit_transaction(self.timeout_s)
        except BaseException:
            logger.warning("aborting the transaction of {} ({} records)", mark.key, len(records))
            try:
                producer.abort_transaction(self.timeout_s)
            except KafkaException as exc:
                logger.error("abort of {} failed: {}", mark.key, exc)
            raise
