"""The README's wire examples are exactly what the mappers emit for the vendors' samples."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pipeline.codec import AssetClass, Record, to_wire
from pipeline.sources.live import alpaca_map, coinbase_map, corrections, polygon_map

from .fixtures import alpaca, coinbase, polygon

# Alpaca's documented trade correction (pipeline/sources/live/corrections.py)
CORRECTION = {"T": "c", "S": "IWM", "x": "D", "oi": 79372207866957, "op": 208.65, "os": 14950,
              "oc": [" ", "7", "V"], "ci": 79372223926359, "cp": 208.65, "cs": 14950,
              "cc": [" ", "7", "Z", "V"], "z": "B",
              "t": "2022-01-20T17:26:08.000760661Z"}  # fmt: skip
README = Path(__file__).resolve().parents[3] / "README.md"


def readme_examples() -> list[dict[str, Any]]:
    """The JSON objects of the code block under "Wire format on Kafka"."""
    section = README.read_text(encoding="utf-8").split("## Wire format on Kafka", 1)[1]
    block = re.search(r"```json\n(.*?)```", section, re.S)
    assert block is not None, "no json block in the wire format section"
    decoder, text, found = json.JSONDecoder(), block.group(1), []
    position = 0
    while position < len(text.rstrip()):
        value, end = decoder.raw_decode(text, position)
        found.append(value)
        position = end
        while position < len(text) and text[position].isspace():
            position += 1
    return found


def test_readme_wire_examples_match_the_mappers() -> None:
    emitted: list[Record] = [
        alpaca_map.trade(alpaca.TRADE, 1614009104209311, AssetClass.EQUITY),
        polygon_map.quote(polygon.QUOTE, 1536036818785102),
        coinbase_map.ticker(coinbase.TICKER, 1666222102062950),
        alpaca_map.bar(alpaca.BAR, 1614021360120000, AssetClass.EQUITY),
        corrections.alpaca_correction(CORRECTION, alpaca_map.SOURCE, 1642699568100000),
    ]
    assert readme_examples() == [to_wire(record) for record in emitted]
