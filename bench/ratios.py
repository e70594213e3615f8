"""Ratios between scenarios of the same run: tickwatch's load worker against the references."""

from __future__ import annotations

from bench import goals
from bench.figures import Figure, ScenarioOutcome

NAME = "ratios"
STEADY = "rows/s (steady)"


def derive(outcomes: list[ScenarioOutcome]) -> ScenarioOutcome | None:
    """tickwatch / Kafka engine, tickwatch / ceiling (ClickHouse alone) and tickwatch / naive
    consumer, from whichever ran; None if the load scenario did not produce a rate or no
    reference ran."""
    tickwatch = _value(outcomes, "load", STEADY)
    if tickwatch is None:
        return None
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
    return ScenarioOutcome(NAME, "ok", 0.0, figures) if figures else None


def _value(outcomes: list[ScenarioOutcome], scenario: str, name: str) -> float | None:
    for outcome in outcomes:
        for figure in outcome.figures:
            if figure.scenario == scenario and figure.name == name:
                return figure.value
    return None
