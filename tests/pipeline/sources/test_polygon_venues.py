"""Polygon venue ids → canonical venues: stock ids checked against the vendor's recorded
``/v3/reference/exchanges`` answer; crypto ids are never guessed (issue 13 §3)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from loguru import logger

from pipeline.sources.live import build_vendor, instruments, polygon_map
from pipeline.sources.live.errors import FatalFeedError

from .helpers import live_settings

RECV = 1763700000123456
# Rows of polygon-io/client-python test_rest/mocks/v3/reference/exchanges.json (the vendor's
# recorded answer, 2022-05-04): id → mic.
DOCUMENTED_STOCKS = {
    1: "XASE", 2: "XBOS", 3: "XCIS", 6: "XISE", 7: "EDGA", 8: "EDGX", 9: "XCHI", 10: "XNYS",
    11: "ARCX", 12: "XNAS", 14: "LTSE", 15: "IEXG", 16: "CBSX", 17: "XPHL", 18: "BATY",
    19: "BATS", 20: "EPRL", 21: "MEMX",
}  # fmt: skip
XT = {"ev": "XT", "pair": "BTC-USD", "p": 33021.9, "t": 1610462007425, "s": 0.01616617,
      "c": [2], "i": "14272084", "x": 1, "r": 1610462007576}  # fmt: skip


@pytest.fixture(autouse=True)
def fresh_tables() -> Iterator[None]:
    saved = dict(instruments.POLYGON_CRYPTO_VENUE)
    instruments.UNKNOWN_POLYGON_CRYPTO_IDS.clear()
    yield
    instruments.use_polygon_crypto_venues(saved)
    instruments.UNKNOWN_POLYGON_CRYPTO_IDS.clear()


def test_stock_ids_match_the_vendors_recorded_answer() -> None:
    for polygon_id, mic in DOCUMENTED_STOCKS.items():
        assert instruments.polygon_venue(str(polygon_id), crypto=False) == mic, polygon_id


def test_an_unknown_crypto_id_keeps_its_raw_id_and_is_counted_and_logged_once() -> None:
    lines: list[str] = []
    sink = logger.add(lines.append, level="WARNING", format="{message}")
    try:
        trades = [polygon_map.trade(XT, RECV) for _ in range(3)]
    finally:
        logger.remove(sink)
    assert {(t.exchange, t.venue) for t in trades} == {("1", "")}
    assert instruments.UNKNOWN_POLYGON_CRYPTO_IDS["1"] == 3
    assert len([line for line in lines if "'1'" in line]) == 1


def test_the_table_loads_from_the_documented_answer_shape() -> None:
    answer = {
        "results": [
            {"id": 1, "type": "exchange", "asset_class": "stocks", "locale": "us",
             "name": "NYSE American, LLC", "mic": "XASE"},
            {"id": 901, "type": "exchange", "asset_class": "crypto", "locale": "global",
             "name": "Example Venue"},
            {"id": 902, "type": "exchange", "asset_class": "crypto", "locale": "global",
             "name": "Example With Mic", "mic": "XEXM"},
        ],
        "status": "OK",
    }  # fmt: skip
    table = instruments.polygon_exchange_table(answer, "crypto")
    assert table == {"901": "EXAMPLE VENUE", "902": "XEXM"}
    instruments.use_polygon_crypto_venues(table)
    trade = polygon_map.trade(XT | {"x": 902}, RECV)
    assert (trade.exchange, trade.venue) == ("902", "XEXM")
    assert not instruments.UNKNOWN_POLYGON_CRYPTO_IDS


def test_a_row_without_an_id_is_refused_with_its_index() -> None:
    bad = b'{"results": [{"asset_class": "crypto", "name": "X"}]}'
    with pytest.raises(ValueError, match=r"results\[0\]"):
        instruments.polygon_exchange_table(bad, "crypto")


def test_the_setting_loads_the_vendors_answer_at_start(tmp_path: Path) -> None:
    answer = tmp_path / "exchanges.json"
    answer.write_bytes(
        b'{"results": [{"id": 903, "type": "exchange", "asset_class": "crypto",'
        b' "locale": "global", "name": "Example Venue"}], "status": "OK"}'
    )
    settings = live_settings(
        "polygon", "BTC-USD", "ws://127.0.0.1:9", polygon_api_key="pk",
        polygon_cluster="crypto", polygon_crypto_exchanges_file=str(answer),
    )  # fmt: skip
    build_vendor(settings)
    trade = polygon_map.trade(XT | {"x": 903}, RECV)
    assert (trade.exchange, trade.venue) == ("903", "EXAMPLE VENUE")


def test_a_bad_file_stops_the_start_naming_the_setting(tmp_path: Path) -> None:
    bad = tmp_path / "exchanges.json"
    bad.write_text("not json", encoding="utf-8")
    settings = live_settings(
        "polygon", "BTC-USD", "ws://127.0.0.1:9", polygon_api_key="pk",
        polygon_crypto_exchanges_file=str(bad),
    )  # fmt: skip
    with pytest.raises(FatalFeedError, match=r"sources\.polygon_crypto_exchanges_file"):
        build_vendor(settings)
