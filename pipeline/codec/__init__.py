"""The wire model, in one package: the records, their one statement of fields, encode, decode
and validate.

* :mod:`~pipeline.codec.records` — ``Trade``, ``Quote``, ``Bar`` (the fields, written once),
  ``AssetClass``, ``RecordType``, ``RawMessage``, ``Encoded``, ``SCHEMA_VERSION``;
* :mod:`~pipeline.codec.spec` — :data:`FIELDS`, derived from the dataclasses (wire name, kind,
  default, in table column order);
* :mod:`~pipeline.codec.wire` — record -> JSON v1 bytes (``to_wire``, ``encode_value``,
  ``encode``), used by the ingest worker;
* :mod:`~pipeline.codec.block`, :mod:`~pipeline.codec.block_wire`, :mod:`~pipeline.codec.batch` —
  records held column-wise (``RecordBlock``) and a source's batch of blocks (``PayloadBatch``),
  encoded a block at a time into the same JSON v1 bytes (the simulator's fast path);
* :mod:`~pipeline.codec.decode` — bytes -> JSON object (``decode``) -> row (``checked_row``, the
  field-by-field path); :mod:`~pipeline.codec.fast` — the fast path for well-typed objects;
* :mod:`~pipeline.codec.validate` — ``validate`` (types, column ranges, sanity bounds),
  ``ValidationRules``, ``REASONS``; used by the load worker.

The package imports the standard library, orjson, numpy (blocks), pyarrow (the columnar
decode), :mod:`pipeline.errors` and the settings only.
"""

from pipeline.codec.decode import checked_row, decode
from pipeline.codec.fast import typed_row
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
    TradeCorrection,
)
from pipeline.codec.spec import FIELDS
from pipeline.codec.validate import REASONS, ValidationRules, validate
from pipeline.codec.wire import encode, encode_value, to_wire

__all__ = [
    "FIELDS",
    "REASONS",
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
    "TradeCorrection",
    "ValidationRules",
    "checked_row",
    "decode",
    "encode",
    "encode_value",
    "to_wire",
    "typed_row",
    "validate",
]
