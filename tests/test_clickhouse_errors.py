"""The ClickHouse error classification: transient vs rejected rows vs a fatal statement."""

from __future__ import annotations

import socket
import struct

import pytest
from clickhouse_connect.driver.exceptions import (
    DatabaseError,
    DataError,
    OperationalError,
    ProgrammingError,
)

from tickwatch.clickhouse_errors import Verdict, classify


def server(code: int, name: str, text: str = "") -> DatabaseError:
    return DatabaseError(f"Code: {code}. DB::Exception: {text} ({name})", code=code, name=name)


@pytest.mark.parametrize(
    ("exc", "verdict", "name"),
    [
        (OperationalError("Error HTTPConnectionPool: connection refused"), Verdict.TRANSIENT, ""),
        (ConnectionResetError("reset by peer"), Verdict.TRANSIENT, "ConnectionResetError"),
        (BrokenPipeError("broken pipe"), Verdict.TRANSIENT, ""),
        (TimeoutError("read timed out"), Verdict.TRANSIENT, "TimeoutError"),
        (server(252, "TOO_MANY_PARTS", "Too many parts (300)"), Verdict.TRANSIENT, ""),
        (server(241, "MEMORY_LIMIT_EXCEEDED"), Verdict.TRANSIENT, "MEMORY_LIMIT_EXCEEDED"),
        (server(202, "TOO_MANY_SIMULTANEOUS_QUERIES"), Verdict.TRANSIENT, ""),
        (server(159, "TIMEOUT_EXCEEDED"), Verdict.TRANSIENT, ""),
        (server(12345, ""), Verdict.TRANSIENT, "CODE_12345"),  # unknown: retry, lose nothing
        (server(469, "VIOLATED_CONSTRAINT"), Verdict.REJECTED, "VIOLATED_CONSTRAINT"),
        (server(321, "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE"), Verdict.REJECTED, ""),
        (server(6, "CANNOT_PARSE_TEXT"), Verdict.REJECTED, ""),
        (server(53, "TYPE_MISMATCH"), Verdict.REJECTED, ""),
        (server(131, "TOO_LARGE_STRING_SIZE"), Verdict.REJECTED, ""),
        (
            server(252, "TOO_MANY_PARTS", "Too many partitions for single INSERT block (100)"),
            Verdict.REJECTED,
            "",
        ),
        (DataError("Unable to create native array for column `interval_s`"), Verdict.REJECTED, ""),
        (struct.error("'I' format requires 0 <= number <= 4294967295"), Verdict.REJECTED, ""),
        (ValueError("could not convert string to float"), Verdict.REJECTED, ""),
        (OverflowError("int too big"), Verdict.REJECTED, "CLIENT_DATA_ERROR"),
        (server(62, "SYNTAX_ERROR"), Verdict.FATAL, "SYNTAX_ERROR"),
        (server(60, "UNKNOWN_TABLE"), Verdict.FATAL, ""),
        (server(16, "NO_SUCH_COLUMN_IN_TABLE"), Verdict.FATAL, ""),
        (server(516, "AUTHENTICATION_FAILED"), Verdict.FATAL, ""),
        (DatabaseError("x", code=497), Verdict.FATAL, "ACCESS_DENIED"),  # name from the table
        (ProgrammingError("wrong number of columns"), Verdict.FATAL, ""),
    ],
)
def test_classify(exc: BaseException, verdict: Verdict, name: str) -> None:
    found = classify(exc)
    assert found.verdict is verdict, found
    assert found.retryable == (verdict is Verdict.TRANSIENT)
    if name:
        assert found.name == name
    assert found.message == str(exc)


def test_the_message_is_bounded() -> None:
    assert len(classify(server(469, "VIOLATED_CONSTRAINT", "x" * 10_000)).message) == 2000


@pytest.mark.clickhouse
def test_real_server_errors_carry_their_codes(clickhouse_url: str) -> None:
    """The codes come back from a real server the way :func:`classify` reads them."""
    from tickwatch.clients import clickhouse_client
    from tickwatch.settings import ClickHouseSettings

    client = clickhouse_client(ClickHouseSettings(), clickhouse_url)
    try:
        for sql, verdict in [
            ("SELEC 1", Verdict.FATAL),
            ("SELECT * FROM system.no_such_table", Verdict.FATAL),
            ("SELECT throwIf(1, 'x', toInt32(241))", Verdict.TRANSIENT),
        ]:
            with pytest.raises(DatabaseError) as caught:
                client.command(sql)
            assert classify(caught.value).verdict is verdict, caught.value
        table = f"default.rejects_{socket.gethostname().replace('-', '_')[:8]}_{id(client)}"
        client.command(
            f"CREATE TABLE {table} (a UInt32, CONSTRAINT small CHECK a < 10) "
            "ENGINE = MergeTree ORDER BY a"
        )
        try:
            with pytest.raises(DatabaseError) as caught:
                client.insert(table, [[1], [99]], column_names=["a"])
            assert classify(caught.value).verdict is Verdict.REJECTED
            assert classify(caught.value).name == "VIOLATED_CONSTRAINT"
            with pytest.raises(DataError) as client_side:
                client.insert(table, [[2**33]], column_names=["a"])
            assert classify(client_side.value).verdict is Verdict.REJECTED
        finally:
            client.command(f"DROP TABLE IF EXISTS {table} SYNC")
    finally:
        client.close()
