"""Compatibility: the wire model lives in :mod:`pipeline.codec` (records, encode, decode,
validate). This module re-exports the names other packages have imported from here."""

from pipeline.codec.records import (
    SCHEMA_VERSION,
    AssetClass,
    Bar,
    Encoded,
    Payload,
    Quote,
    RawMessage,
    Record,
    RecordType,
    Trade,
)
from pipeline.codec.wire import encode, encode_value, to_wire

__all__ = [
    "SCHEMA_VERSION",
    "AssetClass",
    "Bar",
    "Encoded",
    "Payload",
    "Quote",
    "RawMessage",
    "Record",
    "RecordType",
    "Trade",
    "encode",
    "encode_value",
    "to_wire",
]
