"""The machine and software a run measured, so figures can be compared between runs."""

from __future__ import annotations

import contextlib
import os
import platform
import re
from importlib import metadata
from pathlib import Path
from typing import Any

import confluent_kafka
import psutil

from tickwatch.stack.kafka_runtime import DEFAULT_POM


def describe(clickhouse_version: str) -> dict[str, Any]:
    """Cores, memory, CPU model, OS and the versions of everything on the data path."""
    return {
        "cpu_model": cpu_model(),
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "clickhouse": clickhouse_version,
        "chdb_core": _package_version("chdb-core"),
        "kafka": kafka_version(),
        "librdkafka": confluent_kafka.libversion()[0],
        "confluent_kafka": _package_version("confluent-kafka"),
        "clickhouse_connect": _package_version("clickhouse-connect"),
    }


def cpu_model() -> str:
    """``model name`` from /proc/cpuinfo, else what the platform module knows."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def kafka_version(pom: Path = DEFAULT_POM) -> str:
    """The Apache Kafka version the local stack runs (``kafka.version`` in kafka/pom.xml)."""
    with contextlib.suppress(OSError):
        match = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom.read_text("utf-8"))
        if match:
            return match.group(1)
    return "unknown"


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"
