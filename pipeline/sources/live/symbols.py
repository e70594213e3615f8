"""Which symbols a live source subscribes to.

``settings.ingest.symbol_list`` (comma separated) wins; otherwise ``settings.ingest.symbols_file``
is read as CSV: the first column of each row is a symbol, a first row whose first cell is
``symbol`` is a header, blank rows and rows starting with ``#`` are skipped. Symbols are
upper-cased and de-duplicated in order; vendors that want another spelling (Binance stream names
are lower case) convert them themselves.
"""

from __future__ import annotations

import csv
from pathlib import Path

from pipeline.sources.live.errors import FatalFeedError
from tickwatch.settings import IngestSettings


def load_symbols(ingest: IngestSettings) -> list[str]:
    """The symbols to subscribe to; raises :class:`FatalFeedError` if there are none."""
    if ingest.symbol_list.strip():
        raw = ingest.symbol_list.split(",")
    elif ingest.symbols_file is not None:
        raw = _read_csv(ingest.symbols_file)
    else:
        raise FatalFeedError(
            "live source needs symbols: set TICKWATCH_INGEST_SYMBOL_LIST (comma separated) "
            "or TICKWATCH_INGEST_SYMBOLS_FILE (CSV, first column)"
        )
    symbols = list(dict.fromkeys(s.strip().upper() for s in raw if s.strip()))
    if not symbols:
        raise FatalFeedError("live source needs symbols: the symbol list is empty")
    return symbols


def _read_csv(path: Path) -> list[str]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = [row for row in csv.reader(fh) if row and row[0].strip()]
    except OSError as exc:
        raise FatalFeedError(f"symbols file {path}: {exc.strerror or exc}") from None
    rows = [row for row in rows if not row[0].lstrip().startswith("#")]
    if rows and rows[0][0].strip().lower() == "symbol":
        rows = rows[1:]
    return [row[0] for row in rows]
