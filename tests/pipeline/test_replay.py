"""Replay files: every format, original pace times a speed, precise errors for bad rows."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.codec import AssetClass, Bar, Payload, Quote, Record, Trade, to_wire
from pipeline.sources.replay import ReplaySource
from pipeline.sources.replay_checkpoint import ReplayPosition
from pipeline.sources.replay_rows import ReplayError
from tickwatch.clock import ManualClock
from tickwatch.settings import IngestSettings

T0 = 1_763_700_000_000_000
RECORDS: list[Record] = [
    Trade("AAPL", T0, 230.01, 100.0, AssetClass.EQUITY, "XNAS", "1", ("@", "I")),
    Quote("AAPL", T0 + 500_000, 230.0, 300.0, 230.02, 200.0, AssetClass.EQUITY, "XNAS", "ARCX"),
    Trade("BTC/USD", T0 + 1_000_000, 95000.5, 0.25, AssetClass.CRYPTO, "COINBASE", "2"),
    Bar("AAPL", T0 + 2_000_000, 60, 230.0, 230.5, 229.9, 230.2, 1500.0, 230.1, 12),
]


def replay(path: Path, speed: float = 0.0, rebase: bool = False) -> tuple[list[Payload], float]:
    """All batches of a replay of ``path`` and the clock reading when it ended."""
    clock = ManualClock(1_800_000_000.0)
    source = ReplaySource(
        IngestSettings(replay_path=path, replay_speed=speed, replay_rebase=rebase), clock
    )

    async def collect() -> list[Payload]:
        return [item async for batch in source.batches() for item in batch]

    items = asyncio.run(collect())
    return items, clock.time() - 1_800_000_000.0


def write_jsonl(path: Path, records: list[Record]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(to_wire(r)) + b"\n" for r in records))
    return path


def write_csv(path: Path, rows: list[dict[str, object]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_jsonl_of_wire_records_replays_them_exactly(tmp_path: Path) -> None:
    items, _ = replay(write_jsonl(tmp_path / "ticks.jsonl", RECORDS))
    assert items == RECORDS


def test_csv_infers_the_type_and_accepts_iso_times(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "trades.csv",
        [
            {
                "symbol": "MSFT",
                "ts": "2025-11-21T04:40:00.250000+00:00",
                "price": "420.5",
                "size": "10",
                "conditions": "@ I",
                "asset_class": "equity",
            },
            {
                "symbol": "EUR/USD",
                "ts": "2025-11-21T04:40:01",
                "price": "1.05512",
                "size": "1000000",
                "conditions": "",
                "asset_class": "FX",
            },
        ],
    )
    items, _ = replay(path)
    assert items == [
        Trade("MSFT", T0 + 250_000, 420.5, 10.0, conditions=("@", "I")),
        Trade("EUR/USD", T0 + 1_000_000, 1.05512, 1e6, AssetClass.FX),
    ]


def test_parquet_with_a_timestamp_column(tmp_path: Path) -> None:
    table = pa.table(
        {
            "symbol": ["SPY", "SPY"],
            "ts": pa.array([T0, T0 + 3_000_000], pa.timestamp("us", tz="UTC")),
            "bid_price": [590.0, 590.01],
            "bid_size": [100.0, 200.0],
            "ask_price": [590.02, 590.03],
            "ask_size": [300.0, 400.0],
            "asset_class": ["etf"] * 2,
        }
    )
    pq.write_table(table, tmp_path / "quotes.parquet")
    items, _ = replay(tmp_path / "quotes.parquet")
    assert items == [
        Quote("SPY", T0, 590.0, 100.0, 590.02, 300.0, AssetClass.ETF),
        Quote("SPY", T0 + 3_000_000, 590.01, 200.0, 590.03, 400.0, AssetClass.ETF),
    ]


def test_directory_replays_files_in_name_order(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "b.jsonl", RECORDS[2:])
    write_jsonl(tmp_path / "a.jsonl", RECORDS[:2])
    (tmp_path / "notes.txt").write_text("ignored")
    items, _ = replay(tmp_path)
    assert items == RECORDS


def test_speed_scales_the_original_pace(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "ticks.jsonl", RECORDS)  # spans 2 s
    assert replay(path, speed=1.0)[1] == pytest.approx(2.0)
    assert replay(path, speed=4.0)[1] == pytest.approx(0.5)
    assert replay(path, speed=0.0)[1] == pytest.approx(0.0, abs=0.01)


def test_rebase_moves_event_times_to_the_replay_clock(tmp_path: Path) -> None:
    items, _ = replay(write_jsonl(tmp_path / "ticks.jsonl", RECORDS), speed=2.0, rebase=True)
    assert [getattr(i, "ts", 0) for i in items] == [
        1_800_000_000_000_000,
        1_800_000_000_250_000,
        1_800_000_000_500_000,
        1_800_000_001_000_000,
    ]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "t.csv",
            "symbol,ts,price,size\nAAPL,1,230,1\nAAPL,2,abc,1\n",
            "t.csv line 3: column 'price' = 'abc'",
        ),
        ("t.csv", "symbol,ts,price,size\nAAPL,1,,1\n", "t.csv line 2: column 'price' is missing"),
        ("t.csv", "symbol,ts,price,size\nAAPL,1,230,1,9\n", "t.csv line 2: more cells"),
        (
            "t.csv",
            "symbol,ts,price,size\nAAPL,yesterday,230,1\n",
            "t.csv line 2: column 'ts' = 'yesterday'",
        ),
        (
            "t.jsonl",
            '{"type":"trade","symbol":"A","ts":1,"price":1,"size":1}\n{oops\n',
            "t.jsonl line 2: not valid JSON",
        ),
        ("t.jsonl", '{"type":"candle","symbol":"A","ts":1}\n', "t.jsonl line 1: column 'type'"),
        (
            "t.jsonl",
            '{"type":"quote","symbol":"A","ts":1,"bid_price":1}\n',
            "t.jsonl line 1: column 'bid_size' is missing",
        ),
        ("t.csv", "symbol,ts,volume\nA,1,2\n", "t.csv: no 'type' column"),
        ("t.xlsx", "", "unknown format"),
    ],
)
def test_bad_rows_name_file_line_and_column(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    (tmp_path / name).write_text(content)
    with pytest.raises(ReplayError, match=message.replace("(", r"\(")):
        replay(tmp_path / name)


def test_bad_parquet_row_names_the_row(tmp_path: Path) -> None:
    table = pa.table(
        {"symbol": ["A", "B"], "ts": [1, 2], "price": [1.0, float("nan")], "size": [1.0, 1.0]}
    )
    pq.write_table(table, tmp_path / "t.parquet")
    with pytest.raises(ReplayError, match=r"t.parquet row 2: column 'price' = nan"):
        replay(tmp_path / "t.parquet")


def test_rows_before_a_bad_row_are_handed_out(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(orjson.dumps(to_wire(RECORDS[0])) + b"\nnot json\n")
    source = ReplaySource(IngestSettings(replay_path=path), ManualClock())

    async def collect() -> list[Payload]:
        got: list[Payload] = []
        with pytest.raises(ReplayError):
            async for batch in source.batches():
                got += batch
        return got

    assert asyncio.run(collect()) == [RECORDS[0]]


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match="replay_path is not set"):
        ReplaySource(IngestSettings())
    with pytest.raises(ReplayError, match="no such file"):
        ReplaySource(IngestSettings(replay_path=tmp_path / "nope.csv"))


class CommittingStore:
    """A transactional position store stand-in: records each save."""

    commits_records = True
    where = "memory"

    def __init__(self) -> None:
        self.saved: list[ReplayPosition] = []

    def load(self) -> ReplayPosition:
        return ReplayPosition()

    def save(self, position: ReplayPosition) -> None:
        self.saved.append(position)


def test_a_transactional_store_is_saved_before_a_long_pause(tmp_path: Path) -> None:
    """Records 1 s, 61 s and 62 s into the file at speed 1: before the 60 s pause the source
    commits what the worker already sent (the first record), so no transaction stays open for
    the pause; short pauses commit nothing."""
    quiet: list[Record] = [
        Trade("AAPL", T0 + s * 10**6, 1.0, 1.0, trade_id=str(s)) for s in (1, 61, 62)
    ]
    store = CommittingStore()
    source = ReplaySource(
        IngestSettings(replay_path=write_jsonl(tmp_path / "q.jsonl", quiet), replay_speed=1.0),
        ManualClock(1_800_000_000.0),
        checkpoints=store,
    )

    async def collect() -> list[int]:
        return [len(batch) async for batch in source.batches()]

    assert asyncio.run(collect()) == [1, 1, 1]
    assert store.saved == [ReplayPosition(0, 1)]
