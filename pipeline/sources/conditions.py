"""Trade conditions → candle eligibility: may a trade set open/close, high/low, volume?

A trade carries a list of condition codes; it updates a candle field only if every one of its
conditions allows it (the rule both tables below are written for). A code a table does not list
leaves the trade eligible: vendors add codes, and dropping a regular trade from every candle is
the worse mistake. Crypto, FX and the simulator have no such conditions (side letters ``B``/``S``
are not conditions of this kind): their trades always count.

Sources of the tables (data, not code: check them against the source when a vendor changes):

* CTA (tapes A and B) and UTP (tape C) — the SIPs' own "last sale eligibility" matrices for
  consolidated data: the Consolidated Tape System (CTS) Output Specification, trade-condition
  table (the "Update High/Low", "Update Last", "Update Volume" columns, consolidated), and the
  UTP Trade Data Feed (UTDF) Specification, sale-condition table. Alpaca's stock stream passes
  these codes through unchanged in ``c`` with the tape in ``z`` and points at them for bar
  building ("Stock Minute Bars", alpaca.markets/learn: "Alpaca follows the guidance given by the
  Securities Information Providers (SIPs) ... page 64 of the CTS Specification and page 43 of the
  UTP Specification"). "Update Last" decides both open and close (one column covers both).
* Polygon (now massive.com) — its numeric trade condition ids and their
  ``update_rules.consolidated`` (``updates_high_low``, ``updates_open_close``, ``updates_volume``)
  from the Conditions reference endpoint, ``GET /v3/reference/conditions?asset_class=stocks``
  (massive.com docs, "Conditions"). Polygon sends the ids in ``c`` and needs no tape.
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
CTA: Table = {
    " ": ALL,
    **_rows(
        "@:HOV B:V C:V E:HOV F:HOV H:V I:V K:HOV L:HOV M:- N:V O:HOV P:HV Q:- R:V T:V U:V V:V "
        "X:HOV Z:HV 4:HV 5:HOV 6:HOV 7:V 9:HO"
    ),
}
# UTDF sale conditions (tape C), consolidated columns.
UTP: Table = {
    " ": ALL,
    **_rows(
        "@:HOV A:HOV B:HOV C:V D:HOV F:HOV G:HV H:V I:V K:HOV L:HOV M:- N:V O:HOV P:HV Q:- "
        "R:V S:HOV T:V U:V V:HOV W:V X:HOV Y:HOV Z:HV 1:HOV 4:HV 5:HOV 6:HOV 7:V 8:HOV 9:HO"
    ),
}
# Polygon stock trade condition ids, update_rules.consolidated.
POLYGON: Table = _rows(
    "0:HOV 1:HOV 2:V 3:HOV 4:HOV 5:HV 7:V 8:HOV 9:HOV 10:HV 11:HOV 12:V 13:V 14:HOV 15:- 16:- "
    "17:HOV 18:HOV 19:HOV 20:V 21:V 22:HV 23:HOV 24:HOV 25:HOV 27:HOV 28:HOV 29:V 30:HOV "
    "33:HV 34:HOV 35:HOV 36:HOV 37:V 38:HO 41:HOV 52:V 53:V"
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
