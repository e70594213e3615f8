"""Which ClickHouse failures retrying can fix: one classification for every writer.

:func:`classify` sorts an exception raised by a clickhouse-connect call into one of three
:class:`Verdict` values:

* ``TRANSIENT`` — the service is down, slow, busy or out of resources (connection refused or
  reset, timeouts, ``TOO_MANY_PARTS`` from merges falling behind, ``MEMORY_LIMIT_EXCEEDED``,
  ``TOO_MANY_SIMULTANEOUS_QUERIES``...). The same request can succeed later: retry it unchanged,
  with backoff.
* ``REJECTED`` — the *rows* are wrong for the table (a value out of a column's range, a parse or
  type error, a violated ``CHECK`` constraint, too many partitions in one insert block), or
  clickhouse-connect could not serialise them (its ``DataError``, or the ``ValueError`` /
  ``OverflowError`` / ``struct.error`` of its column writers). The same rows fail the same way
  every time; fewer rows may succeed, so the caller isolates the offending ones.
* ``FATAL`` — the *statement* is wrong whatever the rows: syntax, an unknown table, column or
  setting, missing privileges, a read-only user. No row is to blame and retrying does not help;
  an operator must act (run the migrations, fix the credentials).

An unknown server error code is ``TRANSIENT``: retrying loses nothing, while wrongly calling rows
bad would send good data to a dead-letter queue. Codes and names are ClickHouse's own
(``src/Common/ErrorCodes.cpp``; ``SELECT errorCodeToName(code)`` on a server prints them).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import StrEnum

from clickhouse_connect.driver import exceptions as ch_exc

__all__ = [
    "DRIVER_ERRORS",
    "FATAL_CODES",
    "REJECTED_CODES",
    "Classified",
    "Verdict",
    "classify",
]


class Verdict(StrEnum):
    TRANSIENT = "transient"
    REJECTED = "rejected"
    FATAL = "fatal"


# The rows are at fault: the same rows always fail, a subset without the bad ones succeeds.
REJECTED_CODES: dict[int, str] = {
    6: "CANNOT_PARSE_TEXT",
    27: "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
    38: "CANNOT_PARSE_DATE",
    41: "CANNOT_PARSE_DATETIME",
    53: "TYPE_MISMATCH",
    69: "ARGUMENT_OUT_OF_BOUND",
    70: "CANNOT_CONVERT_TYPE",
    72: "CANNOT_PARSE_NUMBER",
    117: "INCORRECT_DATA",
    128: "TOO_LARGE_ARRAY_SIZE",
    131: "TOO_LARGE_STRING_SIZE",
    321: "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE",
    349: "CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN",
    407: "DECIMAL_OVERFLOW",
    469: "VIOLATED_CONSTRAINT",
}

# The statement (or who sends it) is at fault: no subset of the rows can succeed.
FATAL_CODES: dict[int, str] = {
    8: "THERE_IS_NO_COLUMN",
    10: "NOT_FOUND_COLUMN_IN_BLOCK",
    16: "NO_SUCH_COLUMN_IN_TABLE",
    20: "NUMBER_OF_COLUMNS_DOESNT_MATCH",
    47: "UNKNOWN_IDENTIFIER",
    60: "UNKNOWN_TABLE",
    62: "SYNTAX_ERROR",
    81: "UNKNOWN_DATABASE",
    115: "UNKNOWN_SETTING",
    164: "READONLY",
    192: "UNKNOWN_USER",
    193: "WRONG_PASSWORD",
    194: "REQUIRED_PASSWORD",
    195: "IP_ADDRESS_NOT_ALLOWED",
    291: "DATABASE_ACCESS_DENIED",
    497: "ACCESS_DENIED",
    516: "AUTHENTICATION_FAILED",
}

# Named for documentation and log labels; any code not listed above is transient too.
TRANSIENT_CODES: dict[int, str] = {
    3: "UNEXPECTED_END_OF_FILE",
    32: "ATTEMPT_TO_READ_AFTER_EOF",
    159: "TIMEOUT_EXCEEDED",
    160: "TOO_SLOW",
    173: "CANNOT_ALLOCATE_MEMORY",
    202: "TOO_MANY_SIMULTANEOUS_QUERIES",
    209: "SOCKET_TIMEOUT",
    210: "NETWORK_ERROR",
    225: "NO_ZOOKEEPER",
    236: "ABORTED",
    241: "MEMORY_LIMIT_EXCEEDED",
    242: "TABLE_IS_READ_ONLY",
    243: "NOT_ENOUGH_SPACE",
    252: "TOO_MANY_PARTS",
    285: "TOO_FEW_LIVE_REPLICAS",
    319: "UNKNOWN_STATUS_OF_INSERT",
    364: "RECEIVED_ERROR_TOO_MANY_REQUESTS",
    394: "QUERY_WAS_CANCELLED",
    425: "SYSTEM_ERROR",
    439: "CANNOT_SCHEDULE_TASK",
    999: "KEEPER_EXCEPTION",
}

# "Slow down": the server is overloaded by inserts or queries; give it at least a merge round.
OVERLOAD_CODES = frozenset({173, 202, 241, 252, 364})
OVERLOAD_RETRY_AFTER_S = 5.0
TOO_MANY_PARTS = 252
# TOO_MANY_PARTS is also what one insert block spanning too many partitions raises
# (max_partitions_per_insert_block): that one is about the rows, and fewer rows succeed.
_PARTITIONS_PER_BLOCK = "partitions for single insert block"
# Client-side serialisation of a value the column type cannot hold (clickhouse-connect 1.12).
_CLIENT_DATA_ERRORS = (ch_exc.DataError, ValueError, TypeError, OverflowError, struct.error)
MESSAGE_MAX = 2000
# What a clickhouse-connect call raises when it fails: catch these (and classify them), let
# anything else through, since it is a bug rather than a verdict on the request.
DRIVER_ERRORS: tuple[type[BaseException], ...] = (
    ch_exc.ClickHouseError,
    OSError,
    *_CLIENT_DATA_ERRORS,
)


@dataclass(frozen=True, slots=True)
class Classified:
    """A verdict, with the server's error code and name when there is one."""

    verdict: Verdict
    code: int | None
    name: str
    message: str

    @property
    def retryable(self) -> bool:
        return self.verdict is Verdict.TRANSIENT

    @property
    def retry_after_s(self) -> float:
        """The least wait before retrying: :data:`OVERLOAD_RETRY_AFTER_S` when the server is
        overloaded (too many parts, queries or requests; out of memory), else 0."""
        overloaded = self.retryable and self.code in OVERLOAD_CODES
        return OVERLOAD_RETRY_AFTER_S if overloaded else 0.0


def classify(exc: BaseException) -> Classified:
    """The verdict on ``exc``, raised by a clickhouse-connect call (insert, query, command)."""
    message = str(exc)[:MESSAGE_MAX]
    code = getattr(exc, "code", None) if isinstance(exc, ch_exc.Error) else None
    if isinstance(code, int):
        return Classified(_by_code(code, message), code, _name(exc, code), message)
    if isinstance(exc, _CLIENT_DATA_ERRORS):
        return Classified(Verdict.REJECTED, None, "CLIENT_DATA_ERROR", message)
    if isinstance(exc, ch_exc.ProgrammingError | ch_exc.InterfaceError):
        return Classified(Verdict.FATAL, None, "CLIENT_PROGRAMMING_ERROR", message)
    return Classified(Verdict.TRANSIENT, None, type(exc).__name__, message)


def _by_code(code: int, message: str) -> Verdict:
    if code in REJECTED_CODES:
        return Verdict.REJECTED
    if code in FATAL_CODES:
        return Verdict.FATAL
    if code == TOO_MANY_PARTS and _PARTITIONS_PER_BLOCK in message.lower():
        return Verdict.REJECTED
    return Verdict.TRANSIENT


def _name(exc: BaseException, code: int) -> str:
    named = getattr(exc, "name", None)
    if isinstance(named, str) and named:
        return named
    for table in (REJECTED_CODES, FATAL_CODES, TRANSIENT_CODES):
        if code in table:
            return table[code]
    return f"CODE_{code}"
