"""The insert step: one sealed batch -> ClickHouse, idempotently; rejected rows isolated.

Every insert carries ``insert_deduplication_token`` = the batch's ``topic:partition:first-last``
(dead letters: the same with a ``dlq:`` prefix), with synchronous inserts and deduplication forced
on, including the dependent materialized views (the candles): replaying a batch whose range was
already inserted is a no-op in the table *and* in the views' state tables, while a replay after a
half-done insert (table written, a view not) completes the missing part. The tables keep the
last ``non_replicated_deduplication_window`` tokens.

Failures are sorted by :func:`tickwatch.clickhouse_errors.classify`:

* transient (down, timeout, overload) -> :class:`~pipeline.errors.ClickHouseUnavailable`; the
  batch is unchanged and retried later with the same tokens;
* fatal (unknown table or column, syntax, privileges) -> :class:`~pipeline.errors.FatalError`:
  no row is to blame, the worker stops with its offsets uncommitted;
* rejected (a value the column cannot hold, a violated constraint) -> **bisection**, below.

Bisection, and why it keeps every good row exactly once across kill -9 and replays:

* The batch's rows ``[0, n)`` become the pieces ``[0, n/2)`` and ``[n/2, n)``, inserted in
  order, each with the *derived* token :meth:`Batch.piece_token` (``<token>/<first>-<last>``, the
  Kafka offsets of its first and last row). A rejected piece is replaced by its two halves; a
  rejected single row becomes a dead letter (reason ``clickhouse_<error name>``, detail = the
  server's message); an accepted piece is done. The pieces left are kept on the batch, so a
  transient failure or the time budget (``until``) resumes the bisection where it stopped.
* A rejected insert writes nothing: the batch is one block on the server (the Arrow stream's
  record batches are squashed up to ``min_insert_block_size_rows``, set to at least the batch
  size, with the byte threshold off), and a block is written atomically, after the constraint
  checks. A value that does not fit its column's type is rejected before sending
  (:func:`pipeline.load.arrow.for_table`), a function of the rows as well.
* A rejection is a function of the rows alone (that is what *rejected* means in the
  classification; transient and fatal errors never split a batch). So the pieces, their order,
  their tokens and the dead letters are a function of the batch's rows, and the batch's rows are
  a function of its offset range, which the intent commit records (:mod:`pipeline.load.worker`).
* After a kill -9 mid-bisection the new owner re-forms the same batch; the whole insert is
  rejected again, the same pieces are formed in the same order, and every piece that was already
  inserted carries a token ClickHouse has seen: it is dropped, in the table and in the candle
  views. Pieces not yet inserted are inserted now. Every accepted row lands once, every rejected
  row is one dead letter, inserted with the batch's ``dlq:`` token.
* The cost: about ``2 * log2(n)`` inserts per bad row, on the failure path only.
"""

from __future__ import annotations

from typing import Any, NoReturn

import numpy as np
import orjson
import pyarrow as pa
from clickhouse_connect.driver.client import Client
from loguru import logger

from pipeline.dlq import DEAD_LETTER_COLUMNS, DeadLetter, dead_letter_columns
from pipeline.errors import ClickHouseUnavailable, FatalError, InsertRejected
from pipeline.load.arrow import for_table, schema, stream
from pipeline.load.batch import Batch
from pipeline.load.tables import TABLES
from tickwatch.clickhouse_errors import DRIVER_ERRORS, Verdict, classify
from tickwatch.clock import Clock
from tickwatch.settings import ClickHouseSettings
from tickwatch.telemetry.catalog import LoadMetrics

# Nothing else here lowers ClickHouse 26.9's cost per INSERT. Measured with bench/insert_cost.py
# (server CPU per trades INSERT of 50 / 500 rows, each setting alone against these, the arms
# taking turns INSERT by INSERT; medians of 3 rounds, two runs, shared 2-core VM at load 3-10,
# 2026-12-02): parallel_view_processing=1 1.02-1.09x / 1.03x, optimize_on_insert=0 1.01x / 0.96x
# (one run), max_threads=1 0.98x / 0.98-1.00x: the machine's noise, not taken. The old analyzer
# cannot be chosen any more (enable_analyzer=0 is refused, code 452). What did lower it was one
# materialized view less per INSERT (migrations 0019/0020: 0.82-0.93x / 0.90x).
INSERT_SETTINGS: dict[str, Any] = {
    "async_insert": 0,  # server-side buffering would acknowledge before the rows are in a part
    "insert_deduplicate": 1,
    "deduplicate_blocks_in_dependent_materialized_views": 1,
    "min_insert_block_size_bytes": 0,  # squash by rows only: one batch = one atomic block
}
SERVER_BLOCK_ROWS = 1_048_576  # ClickHouse's default min_insert_block_size_rows
DETAIL_MAX = 2000


class ClickHouseWriter:
    """Inserts batches into ``{market}.<type>`` and ``{ops}.dead_letters``."""

    def __init__(
        self,
        client: Client,
        settings: ClickHouseSettings,
        clock: Clock,
        metrics: LoadMetrics,
        max_batch_rows: int = SERVER_BLOCK_ROWS,
        *,
        table_suffix: str = "",  # "_local": one shard's tables (pipeline/load/shards.py)
    ) -> None:
        self._client = client
        self._market = settings.market_database
        self._suffix = table_suffix
        self._dead_letters = f"{settings.ops_database}.dead_letters{table_suffix}"
        self._clock = clock
        self._metrics = metrics
        self._column_types: dict[tuple[str, tuple[str, ...]], list[Any]] = {}
        self._schemas: dict[str, pa.Schema] = {}
        self._settings = {
            **INSERT_SETTINGS,
            "min_insert_block_size_rows": max(SERVER_BLOCK_ROWS, max_batch_rows),
        }

    def table(self, batch: Batch) -> str:
        return f"{self._market}.{TABLES[batch.kind]}{self._suffix}"

    def write(self, batch: Batch, until: float = float("inf")) -> bool:
        """Insert the batch's rows, then its dead letters. Blocks for the HTTP round trips.

        Returns True when all of it is in ClickHouse, False when a bisection was still going on
        at ``until`` (monotonic time): call again, it resumes. Raises
        :class:`ClickHouseUnavailable` on a transient failure (writing it again later is safe:
        same tokens) and :class:`FatalError` when the statement itself is refused.
        """
        now_us = int(self._clock.time() * 1e6)
        n = len(batch.rows)
        if batch.pieces is None and n:
            try:
                self._insert_rows(batch, now_us, 0, n, batch.token())
            except InsertRejected as exc:
                logger.warning("{} rejected: bisecting its {} rows", batch.token(), n)
                self._metrics.insert_rejected(exc.reason)
                batch.pieces = _halves(0, n)
        if not self._bisect(batch, now_us, until):
            return False
        if batch.dead_letters:
            data = dead_letter_columns(batch.dead_letters, now_us)
            self._insert(self._dead_letters, data, DEAD_LETTER_COLUMNS, "dlq:" + batch.token())
        # The insert's transient Arrow buffers (cast, joined chunks, the IPC stream: ~3 copies of
        # a batch) are freed by now, but Arrow's allocator (mimalloc) keeps freed pages for
        # reuse: measured, 46-66 MB of the worker's peak RSS while the pool's live bytes stayed
        # below 20 MB. Handing them back costs ~1 ms a batch.
        pa.default_memory_pool().release_unused()
        return True

    def _bisect(self, batch: Batch, now_us: int, until: float) -> bool:
        """Insert the batch's remaining pieces (see the module docstring); False = out of time."""
        pieces = batch.pieces or []
        while pieces:
            if self._clock.monotonic() >= until:
                return False
            lo, hi = pieces[0]
            try:
                self._insert_rows(batch, now_us, lo, hi, batch.piece_token(lo, hi))
                pieces.pop(0)
            except InsertRejected as exc:
                pieces[0:1] = _halves(lo, hi) if hi - lo > 1 else []
                if hi - lo == 1:
                    batch.dead_letters.append(_rejected_row(batch, lo, exc))
                    self._metrics.dead_letter(exc.reason)
                    logger.warning("row at offset {} rejected: {}", batch.rows.offsets[lo], exc)
        return True

    def _insert_rows(self, batch: Batch, now_us: int, lo: int, hi: int, token: str) -> None:
        table = self.table(batch)
        whole = lo == 0 and hi == len(batch.rows)
        rows = batch.rows.arrow(batch.partition, now_us, lo, hi)
        started = self._clock.monotonic()
        self._insert_arrow(table, rows, token)
        del rows
        n = hi - lo
        self._metrics.batch_inserted(table, n, self._clock.monotonic() - started)
        self._metrics.rows_inserted(table, n)
        done_us = self._clock.time() * 1e6
        kafka_ms = batch.rows.kafka_time_ms if whole else batch.rows.kafka_time_ms[lo:hi]
        event_us = batch.rows.event_times_us(lo, None if whole else hi)
        event_s = (done_us - np.asarray(event_us, dtype=np.float64)) / 1e6
        kafka_s = (done_us / 1e3 - np.asarray(kafka_ms, dtype=np.float64)) / 1e3
        self._metrics.end_to_end(batch.kind.value, event_s, kafka_s)

    def _types(self, table: str, names: tuple[str, ...]) -> list[Any]:
        """The ClickHouse types of ``names`` in ``table``, read once per table and process.

        Without them the client sends ``DESCRIBE TABLE`` before every insert: one query more per
        batch, half of the worker's queries when it is quiet (issue 18). Migrations that change
        a loaded table's columns run with the load workers stopped (README), so the types read
        at the first insert stay right. Raises what the client raises (sorted by the caller)."""
        key = (table, names)
        types = self._column_types.get(key)
        if types is None:
            context = self._client.create_insert_context(
                table, list(names), column_oriented=True, settings=INSERT_SETTINGS
            )
            types = self._column_types[key] = list(context.column_types)
        return types

    def _schema(self, table: str, names: tuple[str, ...]) -> pa.Schema:
        """The Arrow schema of ``table``'s columns ``names`` (:mod:`pipeline.load.arrow`), built
        once per table from :meth:`_types`."""
        found = self._schemas.get(table)
        if found is None or tuple(found.names) != names:
            types = [t.name for t in self._types(table, names)]
            found = self._schemas[table] = schema(table, list(names), types)
        return found

    def _insert_arrow(self, table: str, rows: pa.Table, token: str) -> None:
        """``INSERT INTO table (columns) FORMAT ArrowStream`` of ``rows`` cast to the columns'
        types, with the batch's token and :data:`INSERT_SETTINGS`. Blocks for the round trip;
        raises as :meth:`write` (a value out of its type's range: :class:`InsertRejected`)."""
        settings = {**self._settings, "insert_deduplication_token": token}
        names = tuple(rows.schema.names)
        try:
            block = stream(for_table(rows, self._schema(table, names), table))
            self._client.raw_insert(table, list(names), block, settings=settings, fmt="ArrowStream")
        except DRIVER_ERRORS as exc:
            _raise_classified(exc, table, token)

    def _insert(
        self, table: str, data: list[list[Any]], names: tuple[str, ...], token: str
    ) -> None:
        settings = {**self._settings, "insert_deduplication_token": token}
        try:
            self._client.insert(
                table, data, column_names=list(names), column_types=self._types(table, names),
                column_oriented=True, settings=settings,
            )  # fmt: skip
        except DRIVER_ERRORS as exc:
            _raise_classified(exc, table, token)
        finally:
            # clickhouse-connect's InsertContext is a reference cycle (it keeps a bound method of
            # itself) holding ``data``; with the worker's raised gc thresholds such cycles live
            # until a rare full collection, and every batch's columns with them (1 GB of RSS
            # over a 2M-row load). Emptying our outer list frees the columns now, whenever the
            # cycle itself is collected (the batch budget, :mod:`pipeline.load.memory`).
            data.clear()


def _raise_classified(exc: BaseException, table: str, token: str) -> NoReturn:
    """Raise the pipeline's error for a failed insert (see the module docstring)."""
    found = classify(exc)
    where = f"insert into {table} ({token})"
    if found.verdict is Verdict.REJECTED:
        reason = f"clickhouse_{found.name.lower()}"
        raise InsertRejected(reason, found.message[:DETAIL_MAX]) from exc
    if found.verdict is Verdict.FATAL:
        raise FatalError(f"{where} refused ({found.name}): {found.message}") from exc
    raise ClickHouseUnavailable(f"{where} failed: {exc}", retry_after=found.retry_after_s) from exc


def _halves(lo: int, hi: int) -> list[tuple[int, int]]:
    mid = (lo + hi) // 2
    return [(lo, mid), (mid, hi)]


def _rejected_row(batch: Batch, index: int, exc: InsertRejected) -> DeadLetter:
    """The dead letter of row ``index``: its wire object re-encoded (the original bytes are not
    kept once a message is validated), the coordinates, and the server's message."""
    body = batch.rows.wire(index)
    return DeadLetter(
        topic=batch.topic,
        partition=batch.row_partition(index),
        offset=batch.rows.offsets[index],
        timestamp_ms=batch.rows.kafka_time_ms[index],
        key=str(body["symbol"]).encode(),
        value=orjson.dumps(body),
        reason=exc.reason,
        detail=exc.detail,
    )
