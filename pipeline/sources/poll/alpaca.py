"""Alpaca market data v2 REST snapshots, as documented.

Stocks: ``GET /v2/stocks/snapshots?symbols=AAPL,MSFT&feed=iex`` answers an object keyed by
symbol; crypto: ``GET /v1beta3/crypto/us/snapshots?symbols=BTC/USD`` answers the same under
``snapshots``::

    {"AAPL": {"latestTrade": {"t": "2021-05-11T20:00:00.435997104Z", "x": "Q", "p": 125.91,
                              "s": 5589631, "c": ["@", "M"], "i": 179430, "z": "C"},
              "latestQuote": {"t": "2021-05-11T22:05:02.307304704Z", "ax": "P", "ap": 125.68,
                              "as": 12, "bx": "P", "bp": 125.6, "bs": 4, "c": ["R"], "z": "C"},
              "minuteBar": {"t": "2021-05-11T22:02:00Z", "o": 125.66, "h": 125.66,
                            "l": 125.66, "c": 125.66, "v": 396, "n": 3, "vw": 125.66},
              "dailyBar": {...}, "prevDailyBar": {...}}}

The objects carry the stream's field names (minus ``T`` and ``S``), so each is mapped by
:mod:`pipeline.sources.live.alpaca_map` with its symbol added: stock quote sizes are round lots
there too (→ shares, ``lot_size`` 100), crypto sizes coin amounts; venues are MICs, conditions
decide the eligibility flags. ``minuteBar`` is a 1-minute bar starting at ``t``. Keys go in the
``APCA-API-KEY-ID`` / ``APCA-API-SECRET-KEY`` headers. A symbol without data is absent or null.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import SecretStr

from pipeline.codec import AssetClass, Record
from pipeline.sources.live import alpaca_map
from pipeline.sources.poll.errors import PollConfigError
from pipeline.sources.poll.http import Request
from pipeline.sources.poll.vendor import Parsed, mapped, obj

STOCKS_PATH = "/v2/stocks/snapshots"
CRYPTO_PATH = "/v1beta3/crypto/us/snapshots"
Mapper = Callable[[dict[str, object], int, AssetClass], Record]
PARTS: tuple[tuple[str, Mapper], ...] = (
    ("latestTrade", alpaca_map.trade), ("latestQuote", alpaca_map.quote),
    ("minuteBar", alpaca_map.bar),
)  # fmt: skip
CREDENTIAL = (
    "sources.alpaca_key_id / sources.alpaca_secret_key (TICKWATCH_SOURCES_ALPACA_KEY_ID, "
    "TICKWATCH_SOURCES_ALPACA_SECRET_KEY or the secrets file)"
)


class AlpacaSnapshots:
    """Alpaca's stock or crypto snapshots for a symbol list, one request per poll."""

    name = "alpaca_rest"
    record_source = alpaca_map.SOURCE
    credential = CREDENTIAL

    def __init__(
        self, symbols: list[str], *, key_id: SecretStr, secret: SecretStr, base_url: str, feed: str
    ) -> None:
        if not key_id.get_secret_value() or not secret.get_secret_value():
            raise PollConfigError(f"alpaca_rest needs {CREDENTIAL}")
        self._crypto = feed == "crypto"
        self._asset = AssetClass.CRYPTO if self._crypto else AssetClass.EQUITY
        path = CRYPTO_PATH if self._crypto else STOCKS_PATH
        self._url = f"{base_url.rstrip('/')}{path}"
        self._params = {"symbols": ",".join(symbols)} | ({} if self._crypto else {"feed": feed})
        self._headers = {
            "APCA-API-KEY-ID": key_id.get_secret_value(),
            "APCA-API-SECRET-KEY": secret.get_secret_value(),
        }

    def requests(self) -> list[Request]:
        return [Request(self._url, self._params, self._headers)]

    def parse(self, body: dict[str, Any], request: Request, recv_us: int) -> Parsed:
        where = request.name
        snapshots = obj(body.get("snapshots"), where, "snapshots") if self._crypto else body
        records: list[Record] = []
        for symbol, snapshot in snapshots.items():
            if snapshot is None:
                continue
            item = obj(snapshot, where, symbol)
            for part, mapper in PARTS:
                if item.get(part) is not None:
                    msg = obj(item[part], where, f"{symbol}.{part}") | {"S": symbol}
                    records.append(
                        mapped(where, f"{symbol}.{part}", mapper, msg, recv_us, self._asset)
                    )
        return Parsed(records, len(snapshots))
