"""The tick records tickwatch moves: the one statement of the wire model's fields.

Wire format (schema version 1): one JSON object per Kafka message, encoded with orjson, key =
the symbol (UTF-8) so every symbol keeps its order within its partition. Times are integers in
microseconds since the Unix epoch, UTC. Every record carries::

    {"v": 1, "type": "trade" | "quote" | "bar", "symbol": "AAPL", "asset_class": "equity",
     "ts": 1763700000123456, "source": "simulator", "recv_ts": 1763700000123999, ...}

``ts`` is the exchange event time (bar start for bars); ``recv_ts`` is when tickwatch's ingest
worker received the record. Type-specific fields are the dataclass fields below.

These dataclasses are the only place the fields are written down: the wire encoding
(:mod:`pipeline.codec.wire`), the decoders (:mod:`pipeline.codec.decode`,
:mod:`pipeline.codec.fast`) and the table columns (:mod:`pipeline.load.tables`) all follow
:data:`pipeline.codec.spec.FIELDS`, which is derived from them. Adding a field = adding it here
(with a default, so older messages stay valid) and its column in a new migration.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

SCHEMA_VERSION = 1


class AssetClass(StrEnum):
    EQUITY = "equity"
    ETF = "etf"
    INDEX = "index"
    CRYPTO = "crypto"
    FX = "fx"


class RecordType(StrEnum):
    TRADE = "trade"
    QUOTE = "quote"
    BAR = "bar"


@dataclass(frozen=True, slots=True)
class Trade:
    """One execution: ``size`` units changed hands at ``price``."""

    symbol: str
    ts: int
    price: float
    size: float
    asset_class: AssetClass = AssetClass.EQUITY
    exchange: str = ""
    trade_id: str = ""
    conditions: tuple[str, ...] = ()
    source: str = ""
    recv_ts: int = 0
    kind: ClassVar[RecordType] = RecordType.TRADE


@dataclass(frozen=True, slots=True)
class Quote:
    """Top of book: best bid and ask with their sizes."""

    symbol: str
    ts: int
    bid_price: float
    bid_size: float
    ask_price: float
    ask_size: float
    asset_class: AssetClass = AssetClass.EQUITY
    bid_exchange: str = ""
    ask_exchange: str = ""
    conditions: tuple[str, ...] = ()
    source: str = ""
    recv_ts: int = 0
    kind: ClassVar[RecordType] = RecordType.QUOTE


@dataclass(frozen=True, slots=True)
class Bar:
    """OHLCV over ``interval_s`` seconds starting at ``ts``."""

    symbol: str
    ts: int
    interval_s: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    vwap: float = 0.0
    trade_count: int = 0
    asset_class: AssetClass = AssetClass.EQUITY
    source: str = ""
    recv_ts: int = 0
    kind: ClassVar[RecordType] = RecordType.BAR


Record = Trade | Quote | Bar


@dataclass(frozen=True, slots=True)
class RawMessage:
    """Bytes produced to the topic of ``kind`` as they are, keyed by ``key``.

    The simulator's ``malformed`` anomaly must reach Kafka as bad bytes so the load worker
    dead-letters them; a live feed may forward a payload it could not parse for the same reason.
    """

    kind: RecordType
    key: bytes
    value: bytes


Payload = Record | RawMessage


@dataclass(frozen=True, slots=True)
class Encoded:
    """A record ready for Kafka: its topic type, key and JSON value."""

    kind: RecordType
    key: bytes
    value: bytes
