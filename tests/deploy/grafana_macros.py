"""Expand Grafana template variables and ClickHouse-datasource macros the way Grafana does.

The dashboards' SQL is written for Grafana; to run it against a real ClickHouse in tests it has
to become the SQL the ClickHouse plugin would send. Order, as in Grafana: template variables
first (frontend), then the plugin's macros (backend, ``pkg/macros`` of the plugin), then (tests
only) the ``market.`` / ``ops.`` database names are swapped for the test's own databases.

Supported: ``$var``, ``${var}``, ``${var:singlequote|doublequote|csv|regex|pipe|raw}``,
``[[var]]``; Grafana's global ``$__interval``, ``$__interval_ms``, ``$__rate_interval``,
``$__range``, ``$__range_s``, ``$__auto``; the plugin's ``$__timeFilter(col)``,
``$__timeFilter_ms(col)``, ``$__dateFilter(col)``, ``$__dateTimeFilter(date, time)`` (alias
``$__dt``), ``$__timeInterval(col)``, ``$__timeInterval_ms(col)``, ``$__fromTime``,
``$__toTime``, ``$__fromTime_ms``, ``$__toTime_ms``, ``$__interval_s``. Anything else that
looks like a macro raises :class:`UnknownMacroError`, so a typo fails the test instead of
reaching ClickHouse as text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

VariableValue = str | Sequence[str]


class UnknownMacroError(ValueError):
    """A ``$__name`` or ``$name`` that neither Grafana nor the ClickHouse plugin would expand."""


@dataclass(frozen=True)
class QueryContext:
    """What Grafana knows when it runs a panel query: the time range and the interval."""

    start: datetime
    end: datetime
    interval_s: int

    @classmethod
    def last(
        cls, span: timedelta, *, now: datetime | None = None, points: int = 1000
    ) -> QueryContext:
        """The range ``now - span .. now`` with Grafana's interval for ``points`` data points."""
        end = (now or datetime.now(UTC)).replace(microsecond=0)
        return cls(start=end - span, end=end, interval_s=auto_interval_s(span, points))

    @property
    def range_s(self) -> int:
        return int((self.end - self.start).total_seconds())


_NICE_INTERVALS_S = (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600)


def auto_interval_s(span: timedelta, points: int = 1000) -> int:
    """Grafana's auto interval: range / max data points, rounded up to a "nice" step, >= 1 s."""
    raw = span.total_seconds() / max(points, 1)
    return next((step for step in _NICE_INTERVALS_S if step >= raw), _NICE_INTERVALS_S[-1])


def parse_relative(expr: str, now: datetime) -> datetime:
    """``now``, ``now-15m``, ``now-6h``, ``now-7d`` (the forms the dashboards use)."""
    match = re.fullmatch(r"now(?:-(\d+)([smhdw]))?", expr.strip())
    if match is None:
        raise ValueError(f"unsupported relative time {expr!r}")
    if match.group(1) is None:
        return now
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
    return now - timedelta(**{unit[match.group(2)]: int(match.group(1))})


# ------------------------------------------------------------------ template variables

_VARIABLE = re.compile(
    r"\$\{(?P<braced>\w+)(?::(?P<fmt>\w+))?\}"
    r"|\[\[(?P<bracketed>\w+)(?::(?P<fmt2>\w+))?\]\]"
    r"|\$(?P<plain>\w+)"
)


def _format(values: Sequence[str], fmt: str | None, default: str) -> str:
    style = fmt or default
    if style == "singlequote":
        return ",".join("'" + v.replace("'", "\\'") + "'" for v in values)
    if style == "doublequote":
        return ",".join('"' + v.replace('"', '\\"') + '"' for v in values)
    if style == "regex":
        escaped = [re.escape(v) for v in values]
        return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
    if style == "pipe":
        return "|".join(values)
    if style in {"csv", "raw", "text"}:
        return ",".join(values)
    raise UnknownMacroError(f"unsupported variable format {style!r}")


def interpolate(
    text: str,
    variables: Mapping[str, VariableValue],
    ctx: QueryContext,
    *,
    multi_format: str = "csv",
    rate_interval_s: int | None = None,
) -> str:
    """Replace template variables (dashboard and global) in ``text``.

    ``multi_format`` is how a multi-value variable renders without an explicit format:
    Grafana uses ``regex`` for Prometheus/Loki and quoted lists for SQL datasources.
    ``$__`` names the ClickHouse plugin expands later (macros) are left alone.
    """
    interval = _duration(ctx.interval_s)
    rate = _duration(rate_interval_s or max(4 * ctx.interval_s, 15))
    globals_: dict[str, str] = {
        "__interval": interval,
        "__interval_ms": str(ctx.interval_s * 1000),
        "__rate_interval": rate,
        "__range": _duration(ctx.range_s),
        "__range_s": str(ctx.range_s),
        "__range_ms": str(ctx.range_s * 1000),
        "__auto": interval,
    }

    def replace(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("bracketed") or match.group("plain")
        fmt = match.group("fmt") or match.group("fmt2")
        if name in globals_:
            return globals_[name]
        if name.startswith("__"):
            if name in MACROS or name in _PLAIN_MACROS:
                return match.group(0)
            raise UnknownMacroError(f"unknown global variable ${name}")
        if name not in variables:
            raise UnknownMacroError(f"undefined dashboard variable ${name}")
        value = variables[name]
        values = [value] if isinstance(value, str) else list(value)
        if len(values) == 1 and fmt is None:
            return values[0]
        return _format(values, fmt, multi_format)

    return _VARIABLE.sub(replace, text)


def _duration(seconds: int) -> str:
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


# ------------------------------------------------------------------ ClickHouse plugin macros


def _seconds(when: datetime) -> int:
    return int(when.timestamp())


def _millis(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def _date_time(when: datetime) -> str:
    return f"toDateTime({_seconds(when)})"


def _date_time64(when: datetime) -> str:
    return f"fromUnixTimestamp64Milli({_millis(when)})"


def _date(when: datetime) -> str:
    return f"toDate('{when.astimezone(UTC):%Y-%m-%d}')"


def _one(args: list[str], name: str) -> str:
    if len(args) != 1:
        raise UnknownMacroError(f"$__{name} takes 1 argument, got {len(args)}")
    return args[0]


def _between(column: str, low: str, high: str) -> str:
    return f"{column} >= {low} AND {column} <= {high}"


def _date_time_filter(args: list[str], ctx: QueryContext) -> str:
    if len(args) != 2:
        raise UnknownMacroError(f"$__dateTimeFilter takes 2 arguments, got {len(args)}")
    date_part = _between(args[0], _date(ctx.start), _date(ctx.end))
    time_part = _between(args[1], _date_time(ctx.start), _date_time(ctx.end))
    return f"({date_part}) AND ({time_part})"


Macro = Callable[[list[str], QueryContext], str]

MACROS: dict[str, Macro] = {
    "__timeFilter": lambda a, c: _between(
        _one(a, "timeFilter"), _date_time(c.start), _date_time(c.end)
    ),
    "__timeFilter_ms": lambda a, c: _between(
        _one(a, "timeFilter_ms"), _date_time64(c.start), _date_time64(c.end)
    ),
    "__dateFilter": lambda a, c: _between(_one(a, "dateFilter"), _date(c.start), _date(c.end)),
    "__dateTimeFilter": _date_time_filter,
    "__dt": _date_time_filter,
    "__timeInterval": lambda a, c: (
        f"toStartOfInterval(toDateTime({_one(a, 'timeInterval')}), "
        f"INTERVAL {max(c.interval_s, 1)} second)"
    ),
    "__timeInterval_ms": lambda a, c: (
        f"toStartOfInterval(toDateTime64({_one(a, 'timeInterval_ms')}, 3), "
        f"INTERVAL {max(c.interval_s * 1000, 1)} millisecond)"
    ),
}
"""Macros with arguments: ``$__name(args)``."""

_PLAIN_MACROS: dict[str, Callable[[QueryContext], str]] = {
    "__fromTime_ms": lambda c: _date_time64(c.start),
    "__toTime_ms": lambda c: _date_time64(c.end),
    "__fromTime": lambda c: _date_time(c.start),
    "__toTime": lambda c: _date_time(c.end),
    "__interval_s": lambda c: str(max(c.interval_s, 1)),
}
"""Macros without arguments: ``$__name``."""

_MACRO_NAME = re.compile(r"\$(__\w+)")


def _split_args(text: str) -> list[str]:
    """Split macro arguments on top-level commas (nested calls keep theirs)."""
    args: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "," and depth == 0:
            args.append("".join(current).strip())
            current = []
            continue
        depth += (char == "(") - (char == ")")
        current.append(char)
    args.append("".join(current).strip())
    return [a for a in args if a]


def expand_macros(sql: str, ctx: QueryContext) -> str:
    """Expand the ClickHouse plugin's macros in ``sql`` (after template variables)."""
    out: list[str] = []
    pos = 0
    for match in _MACRO_NAME.finditer(sql):
        if match.start() < pos:
            continue
        name = match.group(1)
        out.append(sql[pos : match.start()])
        if name in MACROS and sql[match.end() : match.end() + 1] == "(":
            close = _closing_paren(sql, match.end())
            args = _split_args(sql[match.end() + 1 : close])
            out.append(MACROS[name](args, ctx))
            pos = close + 1
        elif name in _PLAIN_MACROS:
            out.append(_PLAIN_MACROS[name](ctx))
            pos = match.end()
        else:
            raise UnknownMacroError(f"unknown ClickHouse macro ${name} in: {sql[:80]!r}")
    out.append(sql[pos:])
    return "".join(out)


def _closing_paren(text: str, open_at: int) -> int:
    depth = 0
    for index in range(open_at, len(text)):
        depth += (text[index] == "(") - (text[index] == ")")
        if depth == 0:
            return index
    raise UnknownMacroError(f"unbalanced parentheses in macro call: {text[open_at:][:60]!r}")


# ------------------------------------------------------------------ databases

_QUALIFIED = re.compile(r"(?<![\w.`'\"])(market|ops)\.(?=[A-Za-z_`])")


def rename_databases(sql: str, databases: Mapping[str, str]) -> str:
    """Swap the ``market.`` / ``ops.`` qualifiers for the test's own database names."""
    return _QUALIFIED.sub(lambda m: f"{databases.get(m.group(1), m.group(1))}.", sql)


def clickhouse_sql(
    sql: str,
    variables: Mapping[str, VariableValue],
    ctx: QueryContext,
    databases: Mapping[str, str] | None = None,
) -> str:
    """The SQL the ClickHouse datasource would run for ``sql`` (plus the test databases)."""
    expanded = expand_macros(interpolate(sql, variables, ctx, multi_format="singlequote"), ctx)
    return rename_databases(expanded, databases or {})


def promql(
    expr: str,
    variables: Mapping[str, VariableValue],
    ctx: QueryContext,
    *,
    rate_interval_s: int | None = None,
) -> str:
    """The PromQL the Prometheus datasource would send for ``expr``."""
    return interpolate(expr, variables, ctx, multi_format="regex", rate_interval_s=rate_interval_s)
