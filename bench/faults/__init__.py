"""The fault matrix (issue 12, "the proof"): ``make faults`` / ``python -m bench.faults``.

It lives under ``bench/`` because it is a run that prints figures about the real workers on a
private stack, exactly like the benchmarks: it reuses their services launcher
(:mod:`bench.services`), worker subprocesses (:mod:`bench.worker`), machine description
(:mod:`bench.machine`) and results folder (``bench/results/faults/``). Tests never assert on its
timings; ``tests/faults/`` runs the quick, non-destructive faults against the test harness.

Each fault gets its own *lane* (topics, consumer group, databases, detector state, mail folder)
on the shared stack, runs for a bounded time from a seeded schedule, and is judged against the
ground truth in Kafka: every message in the topics must be a row or a dead letter, once.
"""
