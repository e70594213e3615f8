"""The local stack: real Kafka, ClickHouse, Prometheus and SMTP servers on 127.0.0.1.

Each component lives in its own module and runs in its own process; :mod:`.launcher` starts them
together (``tickwatch stack up``) and records where they listen in ``<state_dir>/stack.json``.
"""
