"""Trade conditions → candle eligibility: may a trade set open/close, high/low, volume?

A trade carries a list of condition codes; it updates a candle field only if every one of its
conditions allows it (the rule both tables below are written for). A code a table does not list
leaves the trade eligible: vendors add codes, and dropping a regular trade from every candle is
the worse mistake. Crypto, FX and the simulator have no such conditions (side letters ``B``/``S``
are not conditions of this kind): their trades always count.

Sources of the tables (data, not code: check them against the source when a vendor changes).
Each table below names, beside it, what every entry was checked against and which entries could
not be checked against a stored copy of the vendor's own text.

* CTA (tapes A and B) and UTP (tape C) — the SIPs' own "last sale eligibility" matrices for
  consolidated data: the Consolidated Tape System (CTS) Output Specification, trade-condition
  table (the "Update High/Low", "Update Last", "Update Volume" columns, consolidated), and the
  UTP Trade Data Feed (UTDF) Specification, sale-condition table. Alpaca's stock stream passes
  these codes through unchanged in ``c`` with the tape in ``z`` (docs.alpaca.markets, "Real-time
  Stock Data", trade schema and example ``"c": ["@", "I"], "z": "C"``) and points at them for bar
  building ("Stock Minute Bars", alpaca.markets/learn: "Alpaca follows the guidance given by the
  Securities Information Providers (SIPs) ... page 64 of the CTS Specification and page 43 of the
  UTP Specification"). "Update Last" decides both open and close (one column covers both).
* Polygon (now massive.com) — its numeric trade condition ids and their
  ``update_rules.consolidated`` (``updates_high_low``, ``updates_open_close``, ``updates_volume``)
  from the Conditions reference endpoint, ``GET /v3/reference/conditions?asset_class=stocks``
  (massive.com docs, "Conditions"; knowledge-base article "How does Polygon create the OHLCV
  aggregate bars?", 2022-10-14, updated 2023-07-12). Polygon sends the ids in ``c`` and needs no
  tape. Each id's ``sip_mapping`` names the CTA/UTP letter it stands for, which is how the two
  letter tables above were cross-checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Eligibility:
    """Which candle fields a trade may update (1 = yes, 0 = no), as stored with the trade."""

    open_close: int = 1
    high_low: int = 1
    volume: int = 1

    def __and__(self, other: Eligibility) -> Eligibility:
        return Eligibility(
            self.open_close & other.open_close,
            self.high_low & other.high_low,
            self.volume & other.volume,
        )


ALL = Eligibility()
Table = Mapping[str, Eligibility]


def _rows(spec: str) -> dict[str, Eligibility]:
    """``"code:HOV ..."`` rows: ``H`` high/low, ``O`` open/close, ``V`` volume, ``-`` none."""
    table = {}
    for item in spec.split():
        code, flags = item.rsplit(":", 1)
        table[code] = Eligibility(int("O" in flags), int("H" in flags), int("V" in flags))
    return table


# CTS trade conditions (tapes A, B), consolidated columns. "@" regular sale; " " is how Alpaca
# sends an empty condition slot (see its correction example), also regular.
# Codes and names: Alpaca's CTA trade-condition list (docs.alpaca.markets, market-data
# "Conditions"). Rules checked against Polygon's published update_rules through each id's
# sip_mapping (polygon-io/client-python test_rest/test_conditions.py, ids 1-10, a recorded
# /v3/reference/conditions answer; the knowledge-base article for id 2): B, C, E, X, 4 — and I
# (odd lot, id 37). Not checked against a stored vendor text (the CTS specification is not stored
# where this was checked; the values are the specification's matrix as first transcribed): F H K
# L M N O P Q R T U V Z 5 6 7 9.
CTA: Table = {
    " ": ALL,
    **_rows(
        "@:HOV B:V C:V E:HOV F:HOV H:V I:V K:HOV L:HOV M:- N:V O:HOV P:HV Q:- R:V T:V U:V V:V "
        "X:HOV Z:HV 4:HV 5:HOV 6:HOV 7:V 9:HO"
    ),
}
# UTDF sale conditions (tape C), consolidated columns. Codes and names: Alpaca's UTP list.
# Rules checked through Polygon's sip_mapping as for CTA: A (id 1), W (2), B (4), G (5), C (7),
# 6 (8), X (9), 4 (10), I (37). Not checked against a stored vendor text (UTDF specification not
# stored): D F H K L M N O P Q R S T U V Y Z 1 5 7 8 9.
UTP: Table = {
    " ": ALL,
    **_rows(
        "@:HOV A:HOV B:HOV C:V D:HOV F:HOV G:HV H:V I:V K:HOV L:HOV M:- N:V O:HOV P:HV Q:- "
        "R:V S:HOV T:V U:V V:HOV W:V X:HOV Y:HOV Z:HV 1:HOV 4:HV 5:HOV 6:HOV 7:V 8:HOV 9:HO"
    ),
}
# Polygon stock trade condition ids, update_rules.consolidated.
# Checked against the vendor's own recorded answer of /v3/reference/conditions in its client's
# tests (polygon-io/client-python test_rest/test_conditions.py): 1-10. Id 2 also in the vendor's
# knowledge-base article. Corroborated only by third-party captures of the endpoint (2026-10-05
# and 2026-10-09, quoted verbatim in other projects), not by vendor text: 12, 14, 16, 32, 37, 38,
# 41. Not checked against any stored copy: 0, 11, 13, 15, 17-25, 27-31, 33-36, 52, 53 (17, Market
# Center Opening Trade, is the one whose open/close flag two third-party transcriptions disagree
# on; kept as the CTS matrix has it). 31 (Sold Last and Stopped Stock) and 32 (Sold Out Of
# Sequence) were missing: 32 left out-of-sequence prints setting open/close.
POLYGON: Table = _rows(
    "0:HOV 1:HOV 2:V 3:HOV 4:HOV 5:HV 6:HOV 7:V 8:HOV 9:HOV 10:HV 11:HOV 12:V 13:V 14:HOV 15:- "
    "16:- 17:HOV 18:HOV 19:HOV 20:V 21:V 22:HV 23:HOV 24:HOV 25:HOV 27:HOV 28:HOV 29:V 30:HOV "
    "31:HOV 32:HV 33:HV 34:HOV 35:HOV 36:HOV 37:V 38:HO 41:HOV 52:V 53:V"
)
TAPES: Mapping[str, Table] = {"A": CTA, "B": CTA, "C": UTP}


def eligibility(conditions: Iterable[str], table: Table) -> Eligibility:
    """The fields a trade with ``conditions`` may update under ``table`` (all, if none)."""
    out = ALL
    for code in conditions:
        out &= table.get(code, ALL)
    return out


def alpaca_eligibility(conditions: Iterable[str], tape: str) -> Eligibility:
    """Alpaca stock trade: the CTA table for tapes A/B, UTP for C; an unknown tape counts all
    (Alpaca's IEX-only feed and crypto send no SIP tape)."""
    table = TAPES.get(tape)
    return ALL if table is None else eligibility(conditions, table)


def polygon_eligibility(conditions: Iterable[str]) -> Eligibility:
    """Polygon stock trade (condition ids as strings)."""
    return eligibility(conditions, POLYGON)
