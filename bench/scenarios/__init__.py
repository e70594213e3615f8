"""The benchmark scenarios, in the order a full run executes them.

A scenario is a function ``(ctx, deadline) -> list[Figure]``; it stops everything it started
before returning or raising, and drops the databases it created.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bench.context import BenchContext
from bench.deadline import Deadline
from bench.figures import Figure
from bench.scenarios import (
    ceiling,
    detection,
    floor,
    idle,
    ingest,
    kafka_engine,
    latency,
    load,
    naive,
    steps,
    telemetry,
)

ScenarioFn = Callable[[BenchContext, Deadline], list[Figure]]


@dataclass(frozen=True)
class Scenario:
    """A named scenario and what it measures."""

    name: str
    title: str
    run: ScenarioFn


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("load", "load worker throughput (one process)", load.run),
    Scenario("kafka-engine", "ClickHouse Kafka table engine, same topic", kafka_engine.run),
    Scenario("ceiling", "ClickHouse alone: the same rows as pre-built Arrow INSERTs", ceiling.run),
    Scenario(
        "floor",
        "Kafka consume alone, + JSON decode, + candidate binary decodes: the bound on any consumer",
        floor.run,
    ),
    Scenario("naive", "naive consumer, one INSERT per message", naive.run),
    Scenario("steps", "load worker steps per row, and JSONEachRow pass-through", steps.run),
    Scenario("telemetry", "load throughput, telemetry on vs off", telemetry.run),
    Scenario("ingest", "ingest throughput, simulator → Kafka", ingest.run),
    Scenario("latency", "end-to-end latency at fixed rates", latency.run),
    Scenario("idle", "the stack at 200 ticks/s: CPU, INSERTs/s, merges", idle.run),
    Scenario("detection", "downtime detection: load worker stopped → email", detection.run),
)
NAMES = tuple(s.name for s in SCENARIOS)


def selected(only: tuple[str, ...]) -> list[Scenario]:
    """The scenarios named in ``only`` (all when empty), in run order.

    Raises ValueError naming an unknown scenario.
    """
    unknown = sorted(set(only) - set(NAMES))
    if unknown:
        raise ValueError(f"unknown scenario {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    return [s for s in SCENARIOS if not only or s.name in only]
