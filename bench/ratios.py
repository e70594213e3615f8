"""Ratios between scenarios of the same run: tickwatch's load worker against the references, and
the bound the floor scenario's per-row costs put on any consumer of the topic.

The ratios to the references divide two measured rates. The bounds are arithmetic on measured
per-row CPU costs (:func:`cpu_bound`), labelled as derived wherever they are shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench import goals
from bench.figures import Figure, ScenarioOutcome, not_measured
from bench.scenarios import floor

NAME = "ratios"
STEADY = "rows/s (steady)"
SERVER_CPU = "CPU per 1M rows (server)"
# What the bound leaves out, in the order the table's note and the results file say it.
ASSUMPTIONS = (
    "perfect overlap of the consumer, the broker and the server on the cores",
    "no coordination between them",
    "no validation, no Kafka coordinates read",
    "no DLQ",
    "no offset commits",
    "the server's cost per row of the ceiling's 100k-row Arrow INSERTs",
)
BOUNDS = (
    (floor.CONSUME, "bound: any one-message-per-tick consumer / ceiling (derived)"),
    (floor.DECODE, "bound: any JSON v1 consumer / ceiling (derived)"),
    (floor.ROWS, "bound: a per-tick binary consumer (candidate) / ceiling (derived)"),
    *(
        (floor.block_label(rate), f"bound: an Arrow block consumer, {rate // 1000}k ticks/s "
         "blocks (candidate) / ceiling (derived)")
        for rate in floor.BLOCK_RATES
    ),
)  # fmt: skip
JSON_V1 = floor.DECODE  # what each candidate's decode cost is set beside


def versus_json_name(label: str) -> str:
    """The figure name of a candidate pass's consumer CPU per row as a share of JSON v1's."""
    return f"{label}: consumer CPU per row / JSON v1 decode's"


@dataclass(frozen=True)
class CpuBound:
    """The rows/s that fit in ``cores`` when each row costs ``parts`` (CPU-s per 1M rows by
    name), and that as a share of the ceiling's measured rows/s (at most 1: the ceiling is
    ClickHouse alone, no consumer can make the server faster)."""

    cores: float
    parts: tuple[tuple[str, float], ...]
    ceiling_rows_per_s: float

    @property
    def cpu_per_million_s(self) -> float:
        return sum(s for _, s in self.parts)

    @property
    def rows_per_s(self) -> float:
        return self.cores * 1e6 / self.cpu_per_million_s

    @property
    def vs_ceiling(self) -> float:
        return min(self.rows_per_s / self.ceiling_rows_per_s, 1.0)


def cpu_bound(
    cores: float, parts: Sequence[tuple[str, float]], ceiling_rows_per_s: float
) -> CpuBound:
    """The bound of ``cores`` over per-row costs ``parts``; raises ValueError naming a
    non-positive input (no bound can be derived from it)."""
    if cores <= 0 or ceiling_rows_per_s <= 0:
        raise ValueError(f"cores {cores} and ceiling {ceiling_rows_per_s} rows/s must be > 0")
    if sum(s for _, s in parts) <= 0 or any(s < 0 for _, s in parts):
        raise ValueError(f"CPU-s per 1M rows must add up to > 0, none negative: {list(parts)}")
    return CpuBound(cores, tuple(parts), ceiling_rows_per_s)


def derive(outcomes: list[ScenarioOutcome]) -> ScenarioOutcome | None:
    """tickwatch / Kafka engine, tickwatch / ceiling and tickwatch / naive consumer, from
    whichever ran with the load scenario; the floor's bounds when the floor scenario ran. None
    when there is nothing to derive."""
    figures = [*_versus_references(outcomes), *_bounds(outcomes), *_versus_json(outcomes)]
    return ScenarioOutcome(NAME, "ok", 0.0, figures) if figures else None


def _versus_references(outcomes: list[ScenarioOutcome]) -> list[Figure]:
    tickwatch = _value(outcomes, "load", STEADY)
    if tickwatch is None:
        return []
    figures: list[Figure] = []
    engine = _value(outcomes, "kafka-engine", STEADY)
    if engine:
        figures.append(
            Figure(NAME, "tickwatch / Kafka engine", tickwatch / engine, "×", goals.VS_KAFKA_ENGINE)
        )
    ceiling = _value(outcomes, "ceiling", STEADY)
    if ceiling:
        figures.append(
            Figure(NAME, "tickwatch / ceiling", tickwatch / ceiling, "×", goals.VS_CEILING)
        )
    naive = _value(outcomes, "naive", "rows/s")
    if naive:
        figures.append(Figure(NAME, "tickwatch / naive consumer", tickwatch / naive, "×"))
    return figures


def _bounds(outcomes: list[ScenarioOutcome]) -> list[Figure]:
    """One figure per floor pass: its bound as a share of the ceiling, or why there is none."""
    cores = _value(outcomes, floor.NAME, floor.CORES)
    if cores is None:
        return []
    ceiling = _value(outcomes, "ceiling", STEADY)
    server = _value(outcomes, "ceiling", SERVER_CPU)
    out: list[Figure] = []
    for label, name in BOUNDS:
        if _value(outcomes, floor.NAME, floor.rate_name(label)) is None:
            continue  # the pass did not run (an older results file, a scenario cut short)
        parts = {
            "consumer": _value(outcomes, floor.NAME, floor.consumer_cpu_name(label)),
            "broker": _value(outcomes, floor.NAME, floor.broker_cpu_name(label)),
            "server": server,
        }
        missing = [what for what, value in parts.items() if value is None]
        if not ceiling:
            out.append(not_measured(NAME, name, "needs the ceiling scenario in the same run"))
            continue
        if missing:
            why = f"no {' and '.join(missing)} CPU per row in this run"
            out.append(not_measured(NAME, name, why))
            continue
        known = [(what, value) for what, value in parts.items() if value is not None]
        bound = cpu_bound(cores, known, ceiling)
        single = _value(outcomes, floor.NAME, floor.rate_name(label))
        out.append(_bound_figure(name, bound, single))
    return out


def _versus_json(outcomes: list[ScenarioOutcome]) -> list[Figure]:
    """Each candidate pass's consumer CPU per row divided by the JSON v1 decode pass's (both
    measured in the same run, over the same trades)."""
    json_v1 = _value(outcomes, floor.NAME, floor.consumer_cpu_name(JSON_V1))
    if not json_v1:
        return []
    out = []
    for label in floor.CANDIDATES:
        mine = _value(outcomes, floor.NAME, floor.consumer_cpu_name(label))
        if mine is not None:
            note = f"{mine:.2f} ÷ {json_v1:.2f} consumer CPU-s per 1M rows (measured ÷ measured)"
            out.append(Figure(NAME, versus_json_name(label), mine / json_v1, "×", note=note))
    return out


def _bound_figure(name: str, bound: CpuBound, single_rows_per_s: float | None) -> Figure:
    costs = " + ".join(f"{s:.2f} {what}" for what, s in bound.parts)
    raw = bound.rows_per_s / bound.ceiling_rows_per_s
    capped = f" (= {raw:.2f}× the ceiling's rows/s, capped at 1×)" if raw > 1 else ""
    note = (
        f"derived from measured per-row costs, not measured: {bound.cores:g} cores ÷ "
        f"({costs} CPU-s per 1M rows) = {bound.rows_per_s:,.0f} rows/s{capped}; assumes "
        "perfect overlap, no coordination, no validation, no DLQ, no commits"
    )
    if single_rows_per_s:
        note += f"; one consumer process alone measured {single_rows_per_s:,.0f} rows/s"
    extra = {
        "derived": True,
        "cores": bound.cores,
        "cpu_per_million_s": dict(bound.parts),
        "bound_rows_per_s": round(bound.rows_per_s),
        "ceiling_rows_per_s": round(bound.ceiling_rows_per_s),
        "one_consumer_measured_rows_per_s": round(single_rows_per_s or 0),
        "assumptions": list(ASSUMPTIONS),
    }
    return Figure(NAME, name, bound.vs_ceiling, "×", goals.CEILING_BOUND, note=note, extra=extra)


def _value(outcomes: list[ScenarioOutcome], scenario: str, name: str) -> float | None:
    for outcome in outcomes:
        for figure in outcome.figures:
            if figure.scenario == scenario and figure.name == name:
                return figure.value
    return None
