"""Issue 13 §5: a restarted live source, or a replayed file, puts each vendor trade in once.

Each live vendor's fixture server plays the same trades again to the restarted source (the worst
case: a vendor that re-sends what it sent before the restart) plus two new ones. Everything goes
through the real ingest worker and producer into a real Kafka, twice, with the same state dir;
the topic must then hold every trade exactly once. Coinbase and the replay go on through the
load worker into ClickHouse, where plain ``count()`` must equal the distinct trades.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from clickhouse_connect.driver.client import Client
from confluent_kafka import KafkaError, KafkaException
from prometheus_client import CollectorRegistry

from pipeline.codec import Trade, to_wire
from pipeline.ingest import IngestWorker
from pipeline.ingest_cli import build_producer, recover
from pipeline.sources import build_source
from pipeline.sources.live.ledger_recovery import MARGIN_S, recover_since_ms
from pipeline.sources.live.trade_ledger import TradeLedger, trade_key
from tickwatch.settings import IngestSettings, KafkaSettings, Settings
from tickwatch.telemetry.catalog import IngestMetrics

from ..ingest_helpers import read_back
from .fixtures import alpaca, binance, coinbase, finnhub, polygon
from .fixtures.server import FixtureServer, Plan, recent_ms
from .pipeline_run import ingest, live, load, rows

KEY_ID, SECRET = "key-dedup", "secret-dedup"
FAST = {"reconnect_initial_s": 0.01, "reconnect_max_s": 0.05}
FIRST, TOTAL = 6, 8  # trades in the first run; the second run re-sends them and adds two


# ------------------------------------------------------------------ the ledger on its own


def test_ledger_admits_a_key_once_and_remembers_it_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "trades" / "coinbase.keys"
    ledger = TradeLedger(path, capacity=1000)
    trade = Trade("BTC-USD", 1, 1.0, 1.0, trade_id="10", source="coinbase")
    assert ledger.admit(trade) and not ledger.admit(trade)
    assert not path.exists()  # nothing is written before a checkpoint
    ledger.checkpoint()
    restarted = TradeLedger(path, capacity=1000)
    assert not restarted.admit(trade)
    assert restarted.admit(Trade("BTC-USD", 1, 1.0, 1.0, trade_id="11", source="coinbase"))


def test_ledger_keeps_the_last_capacity_keys_and_compacts_its_journal(tmp_path: Path) -> None:
    path = tmp_path / "binance.keys"
    ledger = TradeLedger(path, capacity=1000)
    for n in range(3500):
        ledger.admit(Trade("BTCUSDT", 1, 1.0, 1.0, trade_id=str(n), source="binance"))
        if n % 100 == 99:
            ledger.checkpoint()
    assert len(path.read_text().splitlines()) <= 2000  # compacted to at most twice the capacity
    restarted = TradeLedger(path, capacity=1000)
    assert len(restarted) == 1000
    assert not restarted.admit(Trade("BTCUSDT", 1, 1.0, 1.0, trade_id="3499", source="binance"))


def test_natural_keys() -> None:
    assert trade_key(Trade("AAPL", 1, 1.0, 1.0, source="finnhub")) is None  # no vendor id
    day = 1_763_700_000_000_000
    a = Trade("MSFT", day, 1.0, 1.0, exchange="4", trade_id="7", source="polygon")
    other_exchange = Trade("MSFT", day, 1.0, 1.0, exchange="11", trade_id="7", source="polygon")
    next_day = Trade("MSFT", day + 86_400_000_000, 1.0, 1.0, exchange="4", trade_id="7",
                     source="polygon")  # fmt: skip
    # Polygon and Alpaca ids are unique per exchange and day only.
    assert len({trade_key(a), trade_key(other_exchange), trade_key(next_day)}) == 3


def test_ingest_start_refuses_to_run_when_keys_cannot_be_read_back() -> None:
    class Unreachable:
        name = "coinbase"

        def __init__(self) -> None:
            self.calls: list[float] = []

        def recover(self, kafka: KafkaSettings, bootstrap: str, window_s: float) -> int:
            self.calls.append(window_s)
            raise KafkaException(KafkaError(KafkaError._TRANSPORT))

    settings = Settings(_env_file=None)
    source = Unreachable()
    assert not recover(source, settings, "127.0.0.1:1")  # type: ignore[arg-type]
    assert source.calls == [settings.ingest.dedup_recover_s]
    off = settings.model_copy(update={"ingest": IngestSettings(dedup_recover_s=0)})
    assert recover(source, off, "127.0.0.1:1")  # type: ignore[arg-type]
    assert len(source.calls) == 1


def test_recovery_starts_at_the_last_checkpoint(tmp_path: Path) -> None:
    journal = tmp_path / "polygon.keys"
    assert recover_since_ms(journal, 60, now_s=1000.0) == int((1000 - 60 - MARGIN_S) * 1000)
    journal.write_text("")
    os.utime(journal, (900.0, 900.0))
    assert recover_since_ms(journal, 60, now_s=1000.0) == int((900 - MARGIN_S) * 1000)


# ------------------------------------------------------------------ each vendor, restarted


class Vendor:
    """How to play ``trades`` to one vendor's source: its fixture and its settings."""

    def __init__(
        self,
        source: str,
        symbols: str,
        make: Callable[[int], list[dict[str, Any]]],
        fixture: Callable[[list[dict[str, Any]]], FixtureServer],
        **sources: Any,
    ) -> None:
        self.source, self.symbols, self.sources = source, symbols, sources
        self._make, self._fixture = make, fixture

    def runs(self) -> tuple[FixtureServer, FixtureServer]:
        """The first run's server (``FIRST`` trades) and the restart's (the same ones + 2)."""
        sent = self._make(TOTAL)
        return self._fixture(sent[:FIRST]), self._fixture(
            sent if self.source != "finnhub" else sent[FIRST:]
        )


def _alpaca(sent: list[dict[str, Any]]) -> FixtureServer:
    return alpaca.AlpacaFixture(KEY_ID, SECRET, [Plan([alpaca.frame(*sent)])]).server


def _polygon(sent: list[dict[str, Any]]) -> FixtureServer:
    return polygon.PolygonFixture(SECRET, [Plan([polygon.frame(*sent)])]).server


def _binance(sent: list[dict[str, Any]]) -> FixtureServer:
    frames = [binance.frame("btcusdt@trade", m) for m in sent]
    return binance.BinanceFixture([Plan(frames)]).server


def _coinbase(sent: list[dict[str, Any]]) -> FixtureServer:
    return coinbase.CoinbaseFixture([Plan([coinbase.frame(m) for m in sent])]).server


def _finnhub(sent: list[dict[str, Any]]) -> FixtureServer:
    return finnhub.FinnhubFixture(SECRET, 1, [Plan([finnhub.batch(*sent)])]).server


VENDORS = {
    "alpaca": Vendor("alpaca", "AAPL", lambda n: alpaca.trades("AAPL", n), _alpaca,
                     alpaca_key_id=KEY_ID, alpaca_secret_key=SECRET),
    "polygon": Vendor("polygon", "MSFT", lambda n: polygon.trades("MSFT", n), _polygon,
                      polygon_api_key=SECRET),
    "binance": Vendor("binance", "BTCUSDT", lambda n: binance.trades("BTCUSDT", n), _binance),
    "coinbase": Vendor("coinbase", "BTC-USD", lambda n: coinbase.match_messages("BTC-USD", n),
                       _coinbase),
    # Finnhub sends no trade ids and does not replay: the restart gets only new trades.
    "finnhub": Vendor("finnhub", "AAPL", lambda n: finnhub.trades("AAPL", n), _finnhub,
                      finnhub_api_key=SECRET),
}  # fmt: skip


def restart_twice(
    settings: Settings,
    vendor: Vendor,
    state_dir: Path,
    between: Callable[[], None] = lambda: None,
    recover_s: float = 0.0,
) -> None:
    """Ingest the first run (``FIRST`` trades), ``between()``, then restart: only new ones."""
    first, second = vendor.runs()

    async def run(server: FixtureServer, expect: int) -> None:
        async with server:
            configured = live(
                settings, vendor.source, vendor.symbols,
                **({f"{vendor.source}_url": server.url} | FAST | vendor.sources),
            )  # fmt: skip
            result = await asyncio.wait_for(ingest(configured, expect, state_dir, recover_s), 60)
            assert result.clean and result.delivered == expect

    asyncio.run(run(first, FIRST))
    between()
    asyncio.run(run(second, TOTAL - FIRST))


@pytest.mark.kafka
@pytest.mark.parametrize("name", list(VENDORS))
def test_a_restarted_live_source_produces_each_trade_once(
    name: str, kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    settings = Settings(_env_file=None, kafka=kafka_settings)
    restart_twice(settings, VENDORS[name], tmp_path / "ingest-state")
    assert_each_trade_once(settings)


def assert_each_trade_once(settings: Settings) -> None:
    """The trades topic holds ``TOTAL`` messages, all different trades."""
    bodies = [orjson.loads(m.value()) for m in read_back(settings.kafka, TOTAL)]
    keys = [(b["symbol"], b["trade_id"], b["ts"]) for b in bodies]
    assert len(keys) == TOTAL and len(set(keys)) == TOTAL


@pytest.mark.kafka
@pytest.mark.parametrize("name", ["polygon", "binance"])
def test_trades_acknowledged_after_the_last_checkpoint_are_read_back_from_kafka(
    name: str, kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    """A crash between Kafka's acknowledgement and the journal write (simulated: the journal is
    put back to an empty checkpoint from before the first run) loses no key: the restarted
    source reads the keys back from Kafka and still produces each trade once."""
    settings = Settings(_env_file=None, kafka=kafka_settings)
    state_dir = tmp_path / "ingest-state"
    journal = state_dir / "trades" / f"{name}.keys"
    before = time.time() - 30

    def crash_before_checkpoint() -> None:
        journal.write_text("")
        os.utime(journal, (before, before))

    restart_twice(settings, VENDORS[name], state_dir, crash_before_checkpoint, recover_s=60)
    assert_each_trade_once(settings)


@pytest.mark.kafka
@pytest.mark.clickhouse
def test_coinbase_restart_end_to_end_counts_each_trade_once(
    settings: Settings, ch_client: Client, tmp_path: Path
) -> None:
    restart_twice(settings, VENDORS["coinbase"], tmp_path / "ingest-state")
    load(settings, ch_client, {"trades": TOTAL})
    assert rows(ch_client, "SELECT count(), uniqExact(trade_id) FROM trades") == [(TOTAL, TOTAL)]


# ------------------------------------------------------------------ replay, end to end


@pytest.mark.kafka
@pytest.mark.clickhouse
def test_replaying_a_file_twice_counts_each_trade_once(
    settings: Settings, ch_client: Client, tmp_path: Path
) -> None:
    base = recent_ms() * 1000
    trades = [
        Trade("AAPL", base + n, 100.0 + n / 100, 10.0, trade_id=str(n), source="replay")
        for n in range(50)
    ]
    path = tmp_path / "day.jsonl"
    path.write_bytes(b"".join(orjson.dumps(to_wire(t)) + b"\n" for t in trades))
    ingest_settings = IngestSettings(source="replay", replay_path=path)
    configured = settings.model_copy(update={"ingest": ingest_settings})

    for _ in range(2):  # the second run finds the replay finished and hands out nothing
        metrics = IngestMetrics(CollectorRegistry())
        source = build_source(configured, metrics)
        # as the entry point builds it: transactional, the position read back from Kafka
        producer = build_producer(configured, configured.kafka.bootstrap, source, metrics)
        worker = IngestWorker(source, producer, metrics, flush_timeout_s=10.0)
        assert asyncio.run(worker.run()).clean
    load(settings, ch_client, {"trades": len(trades)})
    assert rows(ch_client, "SELECT count(), uniqExact(trade_id) FROM trades") == [(50, 50)]
