"""``tickwatch up``: the whole pipeline on this machine with one command, until Ctrl-C.

One module per part (model: httpx's ``_transports/``): :mod:`~tickwatch.up.stack` the local
stack, :mod:`~tickwatch.up.children` the worker processes, :mod:`~tickwatch.up.probe` reading
them, :mod:`~tickwatch.up.status` turning readings into a status, :mod:`~tickwatch.up.panel`
showing it, and :mod:`~tickwatch.up.run` the order of it all.
"""

from __future__ import annotations

from tickwatch.up.children import Child, child_env, settings_env
from tickwatch.up.panel import panel, plain_line
from tickwatch.up.probe import Probe
from tickwatch.up.run import PipeSafeStream, run_up
from tickwatch.up.stack import StackRun
from tickwatch.up.status import Reading, Status, StatusBoard, parse_metrics

__all__ = [
    "Child",
    "PipeSafeStream",
    "Probe",
    "Reading",
    "StackRun",
    "Status",
    "StatusBoard",
    "child_env",
    "panel",
    "parse_metrics",
    "plain_line",
    "run_up",
    "settings_env",
]
