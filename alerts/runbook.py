"""The first thing to look at, per check: one line each, quoted in every alert email."""

from __future__ import annotations

RUNBOOK = {
    "kafka_reachable": "Is the broker process up? `tickwatch stack status`, then the broker log "
    "under the state dir; in compose: `docker compose logs kafka`.",
    "clickhouse_reachable": "Is ClickHouse up and accepting HTTP? `curl <url>/ping`; check disk "
    "space and the server log. Checks reading ClickHouse show UNKNOWN.",
    "consumer_lag": "Look at the load worker: is it running (heartbeat), is it logging insert "
    "errors or paused partitions? Stalled = alive but not committing; stopped = no "
    "live member owns the partition; rewound = offsets went backwards.",
    "freshness": "Is the ingest worker running and its source connected "
    "(tickwatch_source_seconds_since_last_record)? Then consumer lag.",
    "heartbeat": "The worker process is gone or hung: check its logs and restart it; then "
    "check lag and freshness for the data it missed.",
    "latency_p99": "Compare Kafka-to-insert with event-to-insert latency: a slow ClickHouse "
    "insert, a lagging consumer, or a source delivering late.",
    "dlq_rate": "Read ops.dead_letters (reason, detail) for the newest rows: bad input from the "
    "source or a validation rule that is too strict.",
    "offset_resets": "Read ops.pipeline_events (kind, detail) for the partition: a committed "
    "offset outside the log (retention, a recreated topic, a broker that lost its tail) was "
    "re-read or skipped from auto.offset.reset; compare the partition's rows with the source.",
    "probe": "The probed endpoint does not answer: check the service behind the URL.",
    "archive": "Did `tickwatch archive run` run today? Its output names each failed day; "
    "ops.archive_events and ops.archive_manifest (FINAL) show what was exported and verified.",
}

DEFAULT = "Open the Grafana dashboard and the detector's log for this check."


def first_step(check: str) -> str:
    """The runbook line for ``check``."""
    return RUNBOOK.get(check, DEFAULT)


DASHBOARDS = {
    "freshness": "tickwatch-market",
    "latency_p99": "tickwatch-pipeline",
    "consumer_lag": "tickwatch-pipeline",
    "heartbeat": "tickwatch-pipeline",
    "dlq_rate": "tickwatch-pipeline",
    "offset_resets": "tickwatch-pipeline",
    "kafka_reachable": "tickwatch-pipeline",
    "clickhouse_reachable": "tickwatch-pipeline",
}


def dashboard(check: str) -> str:
    """The uid of the Grafana dashboard (grafana/dashboards/*.json) to open for ``check``."""
    return DASHBOARDS.get(check, "tickwatch-alerts")
