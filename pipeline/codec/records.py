"""The tick records tickwatch moves: the one statement of the wire model's fields.

Wire format (schema version 1): one JSON object per Kafka message, encoded with orjson, key =
the symbol (UTF-8) so every symbol keeps its order within its partition. Times are integers in
microseconds since the Unix epoch, UTC. Every record carries::

    {"v": 1, "type": "trade" | "quote" | "bar" | "correction", "symbol": "AAPL",
     "asset_class": "equity", "ts": 1763700000123456, "source": "simulator",
     "recv_ts": 1763700000123999, ...}

``ts`` is the exchange event time (bar start for bars); ``recv_ts`` is when tickwatch's ingest
worker received the record. Type-specific fields are the dataclass fields below. ``instrument``
and ``venue`` (``bid_venue``/``ask_venue``) are the canonical spellings beside the vendor's own
``symbol`` and ``exchange``; empty when the source does not know them. Quote sizes are shares
(or coins): ``lot_size`` says what the vendor's size was multiplied by (1 = sent as shares).

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
    CORRECTION = "correction"


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
    instrument: str = ""  # canonical symbol (pipeline.sources.live.instruments)
    venue: str = ""  # canonical venue: MIC where one exists
    tape: str = ""  # US equities: the SIP tape (A, B: CTA; C: UTP) the conditions belong to
    # Eligibility from the conditions (pipeline.sources.conditions), 1 = counts, 0 = does not:
    updates_open_close: int = 1
    updates_high_low: int = 1
    updates_volume: int = 1
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
    instrument: str = ""
    bid_venue: str = ""
    ask_venue: str = ""
    lot_size: int = 1  # bid/ask sizes are shares: the vendor's size times this lot size
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
    instrument: str = ""
    source: str = ""
    recv_ts: int = 0
    kind: ClassVar[RecordType] = RecordType.BAR


@dataclass(frozen=True, slots=True)
class TradeCorrection:
    """A vendor's later word on trade ``trade_id`` of ``source``/``symbol`` (issue 13 §4).

    ``action`` is ``correct`` (the trade was reprinted as ``corrected_*``, with its own id and
    eligibility), ``cancel`` or ``error`` (it never happened). ``ts`` is the event time of the
    trade it names (Alpaca's ``t``), which places it in its candle buckets. ``price``/``size``/
    ``conditions`` are the original trade's as the vendor repeats them.
    """

    symbol: str
    ts: int
    action: str
    trade_id: str
    price: float
    size: float
    asset_class: AssetClass = AssetClass.EQUITY
    exchange: str = ""
    conditions: tuple[str, ...] = ()
    corrected_id: str = ""
    corrected_price: float = 0.0
    corrected_size: float = 0.0
    corrected_conditions: tuple[str, ...] = ()
    corrected_updates_open_close: int = 1
    corrected_updates_high_low: int = 1
    corrected_updates_volume: int = 1
    tape: str = ""
    source: str = ""
    recv_ts: int = 0
    instrument: str = ""
    venue: str = ""
    kind: ClassVar[RecordType] = RecordType.CORRECTION


CORRECTION_ACTIONS = ("correct", "cancel", "error")

Record = Trade | Quote | Bar | TradeCorrection


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
