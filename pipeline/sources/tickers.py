"""The simulator's reference data: curated tickers and per-asset-class parameters.

Prices are rough late-2025 levels; volatility and spread ranges are typical annualised
volatilities and quoted spreads in basis points; ``NOTIONAL`` is the median trade value.
"""

from __future__ import annotations

from pipeline.codec import AssetClass

E, F, IX, C, X = (AssetClass.EQUITY, AssetClass.ETF, AssetClass.INDEX,
                 AssetClass.CRYPTO, AssetClass.FX)  # fmt: skip

CURATED: dict[AssetClass, tuple[tuple[str, str, float], ...]] = {
    E: (("AAPL", "XNAS", 230), ("MSFT", "XNAS", 420), ("NVDA", "XNAS", 140), ("JPM", "XNYS", 220),
        ("AMZN", "XNAS", 200), ("XOM", "XNYS", 118), ("GOOGL", "XNAS", 170), ("V", "XNYS", 290),
        ("META", "XNAS", 560), ("TSLA", "XNAS", 250), ("JNJ", "XNYS", 155), ("WMT", "XNYS", 85),
        ("BRK.B", "XNYS", 470), ("PG", "XNYS", 170), ("BAC", "XNYS", 44), ("COST", "XNAS", 900),
        ("KO", "XNYS", 63), ("NFLX", "XNAS", 750), ("AMD", "XNAS", 140), ("GS", "XNYS", 580),
        ("INTC", "XNAS", 23), ("BA", "XNYS", 155), ("DIS", "XNYS", 110), ("CSCO", "XNAS", 58),
        ("UNH", "XNYS", 590), ("LLY", "XNYS", 800), ("PFE", "XNYS", 26), ("CAT", "XNYS", 390),
        ("ORCL", "XNYS", 170), ("ADBE", "XNAS", 500), ("T", "XNYS", 22), ("CVX", "XNYS", 160)),
    F: (("SPY", "ARCX", 590), ("QQQ", "XNAS", 510), ("IWM", "ARCX", 230), ("GLD", "ARCX", 245),
        ("TLT", "XNAS", 92), ("DIA", "ARCX", 440), ("EEM", "ARCX", 44), ("XLF", "ARCX", 48),
        ("HYG", "ARCX", 80), ("ARKK", "ARCX", 55)),
    IX: (("SPX", "XCBO", 5900), ("NDX", "XNAS", 20800), ("DJI", "XNYS", 43000),
        ("VIX", "XCBO", 16), ("RUT", "XNAS", 2300)),
    C: (("BTC/USD", "COINBASE", 95000), ("ETH/USD", "COINBASE", 3300),
        ("SOL/USD", "COINBASE", 240), ("XRP/USD", "KRAKEN", 1.1), ("DOGE/USD", "KRAKEN", 0.38),
        ("ADA/USD", "KRAKEN", 0.75), ("LTC/USD", "COINBASE", 95), ("LINK/USD", "COINBASE", 17)),
    X: (("EUR/USD", "EBS", 1.055), ("USD/JPY", "EBS", 154.5), ("GBP/USD", "LSEG", 1.265),
        ("AUD/USD", "LSEG", 0.65), ("USD/CHF", "EBS", 0.885), ("USD/CAD", "LSEG", 1.395),
        ("EUR/GBP", "EBS", 0.834), ("EUR/JPY", "EBS", 163.0)),
}  # fmt: skip
ORDER = (E, F, C, X, E, IX, E, C, E, F, E, X, E, E)
"""Interleaving of classes through the curated list, roughly a broad feed's mix."""
VENUES: dict[AssetClass, tuple[str, ...]] = {
    E: ("XNAS", "XNYS", "ARCX", "BATS", "EDGX", "IEXG"), F: ("ARCX", "XNAS", "BATS", "EDGX"),
    IX: ("XCBO",), C: ("COINBASE", "KRAKEN", "BITSTAMP"), X: ("EBS", "LSEG", "HOTSPOT"),
}  # fmt: skip
VOL = {E: (0.2, 0.6), F: (0.1, 0.25), IX: (0.12, 0.2), C: (0.5, 1.0), X: (0.05, 0.12)}
SPREAD_BPS = {E: (0.5, 5.0), F: (0.2, 2.0), IX: (0.5, 2.0), C: (1.0, 8.0), X: (0.3, 2.0)}
NOTIONAL = {E: 10_000.0, F: 20_000.0, IX: 0.0, C: 2_000.0, X: 1_000_000.0}
LOT = {E: 1.0, F: 1.0, IX: 1.0, C: 1e-6, X: 1_000.0}
CLASSES = (E, F, IX, C, X)
"""Position of each class in the class-indexed arrays (``Universe.cls`` holds these indices)."""
CURRENCIES = frozenset({"USD", "EUR", "JPY", "GBP", "CHF", "CAD", "AUD", "NZD", "SEK", "NOK",
                        "HKD", "SGD", "CNH", "MXN"})  # fmt: skip
"""ISO codes that make ``AAA/BBB`` an FX pair rather than a crypto pair."""
