"""The Grafana / ClickHouse-plugin expander produces what the plugin's macros produce."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from .grafana_macros import (
    QueryContext,
    UnknownMacroError,
    auto_interval_s,
    clickhouse_sql,
    expand_macros,
    interpolate,
    parse_relative,
    promql,
    rename_databases,
)

START = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
END = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
CTX = QueryContext(start=START, end=END, interval_s=5)
FROM_S, TO_S = int(START.timestamp()), int(END.timestamp())


def test_time_filter_is_inclusive_seconds_like_the_plugin() -> None:
    assert expand_macros("WHERE $__timeFilter(event_time)", CTX) == (
        f"WHERE event_time >= toDateTime({FROM_S}) AND event_time <= toDateTime({TO_S})"
    )


def test_millisecond_variants_use_unix_timestamp64_milli() -> None:
    assert expand_macros("$__timeFilter_ms(t)", CTX) == (
        f"t >= fromUnixTimestamp64Milli({FROM_S * 1000}) "
        f"AND t <= fromUnixTimestamp64Milli({TO_S * 1000})"
    )
    assert expand_macros("$__fromTime_ms", CTX) == f"fromUnixTimestamp64Milli({FROM_S * 1000})"
    assert expand_macros("$__fromTime $__toTime", CTX) == (
        f"toDateTime({FROM_S}) toDateTime({TO_S})"
    )


def test_interval_macros() -> None:
    assert expand_macros("$__interval_s", CTX) == "5"
    assert expand_macros("$__timeInterval(ts)", CTX) == (
        "toStartOfInterval(toDateTime(ts), INTERVAL 5 second)"
    )
    assert expand_macros("$__timeInterval_ms(ts)", CTX) == (
        "toStartOfInterval(toDateTime64(ts, 3), INTERVAL 5000 millisecond)"
    )


def test_date_filters() -> None:
    assert expand_macros("$__dateFilter(d)", CTX) == (
        "d >= toDate('2026-11-20') AND d <= toDate('2026-11-20')"
    )
    assert expand_macros("$__dt(d, t)", CTX).startswith("(d >= toDate('2026-11-20')")


def test_macro_arguments_may_contain_calls() -> None:
    assert expand_macros("$__timeFilter(toDateTime(x, 'UTC'))", CTX).startswith(
        "toDateTime(x, 'UTC') >= toDateTime("
    )


def test_unknown_macros_fail_loudly() -> None:
    with pytest.raises(UnknownMacroError):
        expand_macros("$__timeFiltr(t)", CTX)
    with pytest.raises(UnknownMacroError):
        interpolate("$undefined_variable", {}, CTX)


def test_template_variables_and_formats() -> None:
    variables = {"symbol": "AAPL", "level": ["INFO", "ERROR"]}
    assert interpolate("s = '${symbol}' AND s2 = '$symbol'", variables, CTX) == (
        "s = 'AAPL' AND s2 = 'AAPL'"
    )
    assert interpolate("IN (${level:singlequote})", variables, CTX) == "IN ('INFO','ERROR')"
    assert interpolate('level=~"${level:regex}"', variables, CTX) == 'level=~"(INFO|ERROR)"'
    assert interpolate("[[symbol]]", variables, CTX) == "AAPL"


def test_grafana_globals_in_promql() -> None:
    expr = "rate(x[$__rate_interval]) + rate(y[$__interval]) + z[$__range]"
    assert promql(expr, {}, CTX, rate_interval_s=60) == "rate(x[1m]) + rate(y[5s]) + z[1h]"


def test_database_qualifiers_are_renamed_but_strings_are_not() -> None:
    sql = "SELECT 'ops.x' FROM market.trades JOIN ops.alert_events ON 1 WHERE s LIKE 'load.%'"
    assert rename_databases(sql, {"market": "m_1", "ops": "o_1"}) == (
        "SELECT 'ops.x' FROM m_1.trades JOIN o_1.alert_events ON 1 WHERE s LIKE 'load.%'"
    )


def test_clickhouse_sql_runs_variables_then_macros_then_databases() -> None:
    sql = "SELECT * FROM market.trades WHERE symbol = '${symbol}' AND $__timeFilter(event_time)"
    out = clickhouse_sql(sql, {"symbol": "MSFT"}, CTX, {"market": "m_9"})
    assert out == (
        "SELECT * FROM m_9.trades WHERE symbol = 'MSFT' AND "
        f"event_time >= toDateTime({FROM_S}) AND event_time <= toDateTime({TO_S})"
    )


def test_auto_interval_and_relative_times() -> None:
    assert auto_interval_s(timedelta(hours=1)) == 5
    assert auto_interval_s(timedelta(minutes=5)) == 1
    assert auto_interval_s(timedelta(hours=6)) == 30
    assert parse_relative("now-30m", END) == END - timedelta(minutes=30)
    assert parse_relative("now", END) == END
    assert QueryContext.last(timedelta(hours=1), now=END).range_s == 3600
