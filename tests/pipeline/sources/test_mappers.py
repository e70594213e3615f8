"""Each vendor's documented samples map field by field into records (times in µs)."""

from __future__ import annotations

from pipeline.codec import AssetClass, Bar, Quote, Trade
from pipeline.sources.live import alpaca_map, binance_map, coinbase_map, polygon_map

from .fixtures import alpaca, binance, coinbase, polygon

RECV = 1763700000123456


def test_alpaca_stock_trade_quote_bar() -> None:
    eq = AssetClass.EQUITY
    assert alpaca_map.trade(alpaca.TRADE, RECV, eq) == Trade(
        symbol="AAPL",
        ts=1614009104208000,
        price=126.55,
        size=1.0,
        asset_class=eq,
        exchange="D",
        trade_id="96921",
        conditions=("@", "I"),
        source="alpaca",
        recv_ts=RECV,
        instrument="AAPL",
        venue="XADF",
        tape="C",
        updates_open_close=0,
        updates_high_low=0,
    )  # fmt: skip  (UTP "I", odd lot: volume only)
    # Stock quote sizes are round lots: 1 and 4 lots are 100 and 400 shares.
    assert alpaca_map.quote(alpaca.QUOTE, RECV, eq) == Quote(
        symbol="AMD", ts=1614009105335689, bid_price=87.66, bid_size=100.0, ask_price=87.68,
        ask_size=400.0, asset_class=eq, bid_exchange="U", ask_exchange="Q", conditions=("R",),
        source="alpaca", recv_ts=RECV, instrument="AMD", bid_venue="MEMX", ask_venue="XNAS",
        lot_size=100,
    )  # fmt: skip
    assert alpaca_map.bar(alpaca.BAR, RECV, eq) == Bar(
        symbol="SPY", ts=1614021300000000, interval_s=60, open=388.985, high=389.13,
        low=388.975, close=389.12, volume=49378.0, vwap=389.062639, trade_count=461,
        asset_class=eq, source="alpaca", recv_ts=RECV, instrument="SPY",
    )  # fmt: skip


def test_alpaca_crypto_trade_keeps_taker_side() -> None:
    msg = {"T": "t", "S": "BTC/USD", "p": 61000.5, "s": 0.0042, "i": 7, "tks": "S",
           "t": "2024-03-12T10:27:48.858228144Z"}  # fmt: skip
    trade = alpaca_map.trade(msg, RECV, AssetClass.CRYPTO)
    assert (trade.symbol, trade.ts, trade.exchange) == ("BTC/USD", 1710239268858228, "")
    assert trade.conditions == ("S",) and trade.asset_class is AssetClass.CRYPTO
    assert (trade.instrument, trade.venue) == ("BTC/USD", "")


def test_polygon_stocks() -> None:
    assert polygon_map.trade(polygon.TRADE, RECV) == Trade(
        symbol="MSFT",
        ts=1536036818784000,
        price=114.125,
        size=100.0,
        exchange="4",
        trade_id="12345",
        conditions=("0", "12"),
        source="polygon",
        recv_ts=RECV,
        instrument="MSFT",
        venue="XADF",
        tape="C",
        updates_open_close=0,
        updates_high_low=0,
    )  # fmt: skip  (Polygon 12, Form T: volume only)
    # bs/as are round lots of 100 shares (Polygon's quotes reference): stored as shares.
    assert polygon_map.quote(polygon.QUOTE, RECV) == Quote(
        symbol="MSFT", ts=1536036818784000, bid_price=114.125, bid_size=10000.0,
        ask_price=114.128, ask_size=16000.0, bid_exchange="4", ask_exchange="7",
        conditions=("0",), source="polygon", recv_ts=RECV, instrument="MSFT",
        bid_venue="XADF", ask_venue="EDGA", lot_size=100,
    )  # fmt: skip
    assert polygon_map.bar(polygon.MINUTE, RECV) == Bar(
        symbol="GTE", ts=1610144640000000, interval_s=60, open=0.4488, high=0.4489,
        low=0.4486, close=0.4486, volume=4110.0, vwap=0.4488, source="polygon", recv_ts=RECV,
        instrument="GTE",
    )  # fmt: skip
    # The length is e - s; the event type is only the fallback when e is missing.
    second = polygon.MINUTE | {"ev": "A", "e": 1610144641000}
    assert polygon_map.bar(second, RECV).interval_s == 1
    no_end = {k: v for k, v in polygon.MINUTE.items() if k != "e"} | {"ev": "A"}
    assert polygon_map.bar(no_end, RECV).interval_s == 1


def test_polygon_crypto() -> None:
    crypto = AssetClass.CRYPTO
    assert polygon_map.trade(polygon.CRYPTO_TRADE, RECV) == Trade(
        symbol="BTC-USD", ts=1610462007425000, price=33021.9, size=0.01616617,
        asset_class=crypto, exchange="1", trade_id="14272084", conditions=("B",),
        source="polygon", recv_ts=RECV, instrument="BTC/USD",
    )  # fmt: skip
    assert polygon_map.quote(polygon.CRYPTO_QUOTE, RECV) == Quote(
        symbol="BTC-USD", ts=1610462411115000, bid_price=33052.79, bid_size=0.48,
        ask_price=33073.19, ask_size=0.05, asset_class=crypto, bid_exchange="1",
        ask_exchange="1", source="polygon", recv_ts=RECV, instrument="BTC/USD",
    )  # fmt: skip
    bar = polygon_map.bar(polygon.CRYPTO_MINUTE, RECV)
    assert (bar.symbol, bar.interval_s, bar.ts, bar.asset_class) == (
        "BCD-BTC", 60, 1610463240000000, crypto,
    )  # fmt: skip
    assert bar.instrument == "BCD/BTC"
    crypto_second = polygon.CRYPTO_MINUTE | {"ev": "XAS", "e": 1610463241000}
    assert polygon_map.bar(crypto_second, RECV).interval_s == 1


def test_binance() -> None:
    crypto = AssetClass.CRYPTO
    assert binance_map.trade(binance.TRADE, RECV) == Trade(
        symbol="BNBBTC", ts=1672515782136000, price=0.001, size=100.0, asset_class=crypto,
        exchange="BINANCE", trade_id="12345", conditions=("S",), source="binance",
        recv_ts=RECV, instrument="BNB/BTC", venue="BINANCE",
    )  # fmt: skip
    assert binance_map.trade(binance.TRADE | {"m": False}, RECV).conditions == ("B",)
    assert binance_map.book_ticker(binance.BOOK_TICKER, RECV) == Quote(
        symbol="BNBUSDT", ts=RECV, bid_price=25.3519, bid_size=31.21, ask_price=25.3652,
        ask_size=40.66, asset_class=crypto, bid_exchange="BINANCE", ask_exchange="BINANCE",
        source="binance", recv_ts=RECV, instrument="BNB/USDT", bid_venue="BINANCE",
        ask_venue="BINANCE",
    )  # fmt: skip
    assert binance_map.kline(binance.KLINE["k"], RECV) == Bar(  # type: ignore[arg-type]
        symbol="BNBBTC", ts=1672515780000000, interval_s=60, open=0.001, high=0.0025,
        low=0.0015, close=0.002, volume=1000.0, vwap=0.001, trade_count=100,
        asset_class=crypto, source="binance", recv_ts=RECV, instrument="BNB/BTC",
    )  # fmt: skip


def test_binance_kline_intervals() -> None:
    assert [binance_map.interval_seconds(i) for i in ("1s", "1m", "4h", "1d", "1w")] == [
        1, 60, 14400, 86400, 604800,
    ]  # fmt: skip


def test_coinbase() -> None:
    crypto = AssetClass.CRYPTO
    assert coinbase_map.match(coinbase.MATCH, RECV) == Trade(
        symbol="BTC-USD", ts=1415348367028459, price=400.23, size=5.23512, asset_class=crypto,
        exchange="COINBASE", trade_id="10", conditions=("B",), source="coinbase",
        recv_ts=RECV, instrument="BTC/USD", venue="COINBASE",
    )  # fmt: skip
    assert coinbase_map.match(coinbase.MATCH | {"side": "buy"}, RECV).conditions == ("S",)
    assert coinbase_map.ticker(coinbase.TICKER, RECV) == Quote(
        symbol="ETH-USD", ts=1666222102061769, bid_price=1285.04, bid_size=0.46688654,
        ask_price=1285.27, ask_size=1.5663704, asset_class=crypto, bid_exchange="COINBASE",
        ask_exchange="COINBASE", source="coinbase", recv_ts=RECV, instrument="ETH/USD",
        bid_venue="COINBASE", ask_venue="COINBASE",
    )  # fmt: skip
