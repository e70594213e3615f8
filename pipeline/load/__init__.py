"""The load worker: Kafka -> ClickHouse, exactly once. Start with :mod:`pipeline.load.worker`."""
