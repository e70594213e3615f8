"""Canonical instrument symbols and venues, so one query spans every vendor.

Each vendor spells the same thing its own way: ``BTC/USD`` (Alpaca), ``BTC-USD`` (Coinbase,
Polygon crypto), ``BTCUSDT`` (Binance), ``BINANCE:BTCUSDT`` (Finnhub); venues are Polygon's integer
ids (``'3'``), Alpaca's participant letters (``'C'``) or a name (``COINBASE``). Records keep the
vendor's spelling in ``symbol`` / ``exchange`` and add:

* ``instrument`` — crypto and FX pairs as ``BASE/QUOTE`` upper case (``BTC/USD``, ``BTC/USDT``:
  USDT is not USD, so the two stay apart); equities as the upper-case ticker with a ``.`` class
  separator (``BRK.B``), which Polygon, Alpaca and Finnhub already use.
* ``venue`` — the ISO 10383 MIC where the venue has one (``XNYS``, ``XCIS``, ``IEXG``); crypto
  venues without a MIC by their upper-case name (``COINBASE``, ``BINANCE``); ``""`` when the
  vendor does not say (Alpaca crypto, Finnhub US stocks) or the id is not in the tables below.

The tables are data, with their sources named beside them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import orjson
from loguru import logger

# Polygon (massive.com) GET /v3/reference/exchanges?asset_class=stocks: ``id`` → ``mic``.
# Ids 5 (UTP SIP) and 13 (CTA SIP) have no MIC and are left out.
POLYGON_STOCK_MIC: dict[str, str] = {
    "1": "XASE", "2": "XBOS", "3": "XCIS", "4": "XADF", "6": "XISE", "7": "EDGA", "8": "EDGX",
    "9": "XCHI", "10": "XNYS", "11": "ARCX", "12": "XNAS", "14": "LTSE", "15": "IEXG",
    "16": "CBSX", "17": "XPHL", "18": "BATY", "19": "BATS", "20": "EPRL", "21": "MEMX",
    "22": "24EQ", "23": "TXSE", "62": "OOTC", "201": "FINY", "202": "FINN", "203": "FINC",
}  # fmt: skip

# Polygon (massive.com) crypto exchange ids (``x`` of ``XT``/``XQ``) → venue. The vendor documents
# them only as the live answer of GET /v3/reference/exchanges?asset_class=crypto (massive.com
# docs, "Exchanges"): its OpenAPI description (massive-com/client-python .massive/rest.json, read
# 2026-12-01) gives a stocks example only, and its clients' recorded answers
# (test_rest/mocks/v3/reference/exchanges.json) hold stock ids only. No stored vendor text names a
# crypto id, so none is listed rather than one guessed: load the vendor's answer with
# polygon_exchange_table() and use_polygon_crypto_venues(). Until then, and for any id the table
# lacks, the record keeps the raw id in ``exchange``, ``venue`` is "", and the id is counted in
# UNKNOWN_POLYGON_CRYPTO_IDS and logged once.
POLYGON_CRYPTO_VENUE: dict[str, str] = {}
UNKNOWN_POLYGON_CRYPTO_IDS: Counter[str] = Counter()

# Alpaca's stock exchange codes are the CTA/UTP SIP participant ids; the same Polygon table gives
# each ``participant_id`` its ``mic`` (Nasdaq is ``Q`` on the UTP tape and ``T`` on the CTA tape).
# ``E`` (UTP SIP) and ``S`` (CTA SIP) are not venues and are left out.
ALPACA_STOCK_MIC: dict[str, str] = {
    "A": "XASE", "B": "XBOS", "C": "XCIS", "D": "XADF", "F": "TXSE", "G": "24EQ", "H": "EPRL",
    "I": "XISE", "J": "EDGA", "K": "EDGX", "L": "LTSE", "M": "XCHI", "N": "XNYS", "P": "ARCX",
    "Q": "XNAS", "T": "XNAS", "U": "MEMX", "V": "IEXG", "W": "CBSX", "X": "XPHL", "Y": "BATY",
    "Z": "BATS",
}  # fmt: skip

# Quote assets Binance lists in GET /api/v3/exchangeInfo (``quoteAsset``), longest first so
# ``BTCFDUSD`` splits as BTC/FDUSD, not BTCFD/USD.
_QUOTE_ASSETS = (
    "USDT", "USDC", "FDUSD", "TUSD", "BUSD", "DAI", "USD1", "BTC", "ETH", "BNB", "EUR", "GBP",
    "TRY", "BRL", "JPY", "AUD", "MXN", "PLN", "RON", "ARS", "ZAR", "UAH", "IDR", "COP", "CZK",
    "XRP", "DOGE", "SOL", "TRX",
)  # fmt: skip
BINANCE_QUOTE_ASSETS: tuple[str, ...] = tuple(sorted(_QUOTE_ASSETS, key=len, reverse=True))


def pair(base: str, quote: str) -> str:
    """``BASE/QUOTE`` upper case."""
    return f"{base.upper()}/{quote.upper()}"


def split_pair(symbol: str) -> str:
    """``BTC-USD``, ``BTC/USD``, ``EUR_USD`` → ``BTC/USD``; anything else upper-cased as is."""
    for separator in ("/", "-", "_"):
        base, found, quote = symbol.partition(separator)
        if found and base and quote:
            return pair(base, quote)
    return symbol.upper()


def binance_pair(symbol: str) -> str:
    """``BTCUSDT`` → ``BTC/USDT`` by the longest known quote-asset suffix."""
    upper = symbol.upper()
    for quote in BINANCE_QUOTE_ASSETS:
        if upper.endswith(quote) and len(upper) > len(quote):
            return pair(upper[: -len(quote)], quote)
    return upper


def equity(symbol: str) -> str:
    """An equity ticker, upper case, class separator ``.`` (``BRK/B``, ``BRK-B`` → ``BRK.B``)."""
    return symbol.upper().replace("/", ".").replace("-", ".")


def polygon_venue(exchange_id: str, crypto: bool) -> str:
    """Polygon's exchange id as a MIC (stocks) or a crypto venue from POLYGON_CRYPTO_VENUE;
    ``""`` when unknown (an unknown crypto id is counted and logged once)."""
    if not crypto:
        return POLYGON_STOCK_MIC.get(exchange_id, "")
    venue = POLYGON_CRYPTO_VENUE.get(exchange_id)
    if venue is not None:
        return venue
    if exchange_id and not UNKNOWN_POLYGON_CRYPTO_IDS[exchange_id]:
        logger.warning("Polygon crypto exchange id {!r} has no venue; kept raw", exchange_id)
    UNKNOWN_POLYGON_CRYPTO_IDS[exchange_id] += 1
    return ""


def polygon_exchange_table(body: bytes | Mapping[str, Any], asset_class: str) -> dict[str, str]:
    """``GET /v3/reference/exchanges`` answer (documented shape: ``results[]`` with ``id``,
    ``asset_class``, ``name``, optional ``mic``) → ``{id: MIC, else upper-case name}`` for the
    rows of ``asset_class``. Raises ValueError naming the row that lacks ``id`` or ``name``."""
    data = orjson.loads(body) if isinstance(body, bytes) else body
    table = {}
    for n, row in enumerate(data.get("results") or []):
        if row.get("asset_class") != asset_class:
            continue
        if "id" not in row or not row.get("name"):
            raise ValueError(f"exchanges results[{n}]: needs id and name, got {row!r}")
        table[str(row["id"])] = row.get("mic") or str(row["name"]).upper()
    return table


def use_polygon_crypto_venues(table: Mapping[str, str]) -> None:
    """Replace POLYGON_CRYPTO_VENUE (e.g. with the vendor's answer, read once at start)."""
    POLYGON_CRYPTO_VENUE.clear()
    POLYGON_CRYPTO_VENUE.update(table)


def alpaca_venue(code: str) -> str:
    """Alpaca's one-letter exchange code as a MIC, ``""`` if unknown or empty."""
    return ALPACA_STOCK_MIC.get(code, "")


def finnhub_instrument(symbol: str) -> tuple[str, str]:
    """Finnhub's ``EXCHANGE:SYMBOL`` (crypto, FX) or plain ticker → ``(instrument, venue)``.

    ``BINANCE:BTCUSDT`` → ``("BTC/USDT", "BINANCE")``; ``OANDA:EUR_USD`` → ``("EUR/USD",
    "OANDA")``; ``AAPL`` → ``("AAPL", "")`` (Finnhub's trade stream names no US venue).
    """
    exchange, found, rest = symbol.partition(":")
    if not found:
        return equity(symbol), ""
    venue = exchange.upper()
    if venue == "BINANCE":
        return binance_pair(rest), venue
    return split_pair(rest), venue
