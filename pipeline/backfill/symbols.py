"""What a vendor's REST ticker is: asset class and canonical instrument, as the live mappers say.

* Polygon (massive.com) names crypto pairs ``X:BTCUSD`` and currency pairs ``C:EURUSD`` (its
  aggregates docs: "The ticker symbol of the currency pair", examples ``X:BTCUSD``,
  ``C:EURUSD``); anything else is a stock ticker. FX codes are ISO 4217, three letters each.
  A crypto pair has no separator, so its quote is the longest of :data:`CRYPTO_QUOTES` it ends
  with (``X:ETHBTC`` -> ``ETH/BTC``); a pair ending in none keeps its letters (``X:FOOBAR`` ->
  ``FOOBAR``), never a guessed split.
* Alpaca names crypto pairs ``BTC/USD`` (``/v1beta3/crypto/us/...``); anything without a ``/``
  is a stock ticker.

The canonical spellings are :mod:`pipeline.sources.live.instruments`' (``BASE/QUOTE``, equities
upper case with ``.``), so one query over ``instrument`` spans the live and the backfilled rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.codec import AssetClass
from pipeline.sources.live.instruments import equity, pair, split_pair

# Quote currencies of Polygon's crypto pairs: fiat, the USD stablecoins and the crypto quotes
# (BTC, ETH) its crypto tickers list; longest first, so a longer quote wins.
_QUOTES = ("USD", "EUR", "GBP", "JPY", "CAD", "AUD", "USDT", "USDC", "BTC", "ETH")
CRYPTO_QUOTES: tuple[str, ...] = tuple(sorted(_QUOTES, key=len, reverse=True))


@dataclass(frozen=True, slots=True)
class Instrument:
    """A symbol as the vendor spells it, its asset class and canonical instrument."""

    symbol: str
    asset_class: AssetClass
    instrument: str


def polygon(ticker: str) -> Instrument:
    """``X:BTCUSD`` -> crypto ``BTC/USD``; ``C:EURUSD`` -> fx ``EUR/USD``; ``AAPL`` -> equity."""
    prefix, found, rest = ticker.partition(":")
    if found and prefix == "X":
        return Instrument(ticker, AssetClass.CRYPTO, _crypto_pair(rest.upper()))
    if found and prefix == "C" and len(rest) == 6:
        return Instrument(ticker, AssetClass.FX, pair(rest[:3], rest[3:]))
    return Instrument(ticker, AssetClass.EQUITY, equity(ticker))


def alpaca(symbol: str) -> Instrument:
    """``BTC/USD`` -> crypto ``BTC/USD``; ``AAPL`` -> equity."""
    if "/" in symbol:
        return Instrument(symbol, AssetClass.CRYPTO, split_pair(symbol))
    return Instrument(symbol, AssetClass.EQUITY, equity(symbol))


def of(symbol: str) -> Instrument:
    """The instrument of ``symbol`` in either vendor's spelling: a Polygon ``X:`` / ``C:``
    ticker, an Alpaca (or replay) ``BASE/QUOTE`` pair, else a stock ticker. The spellings do not
    overlap, so ``tickwatch gaps`` can take any of them."""
    if symbol.startswith(("X:", "C:")):
        return polygon(symbol)
    return alpaca(symbol)


def _crypto_pair(letters: str) -> str:
    for quote in CRYPTO_QUOTES:
        if letters.endswith(quote) and len(letters) > len(quote):
            return pair(letters[: -len(quote)], quote)
    return letters
