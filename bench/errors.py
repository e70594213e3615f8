"""The benchmark harness's exceptions."""

from __future__ import annotations


class BenchError(Exception):
    """A scenario could not produce its figures; the message says what failed and where."""


class ScenarioTimeout(BenchError):
    """A scenario used up its time budget; whatever it started is stopped on the way out."""
