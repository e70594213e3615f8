"""The pipeline's Kafka topics and their administration (create, delete, list; bounded waits).

:func:`record_topic_names` is the one place that says which topic carries which record type;
every other view of it (``pipeline.topics.record_topics``, the full list, creating them) is
derived from it. The workers, the detector, the local stack launcher and the benchmarks all
create topics through this module; it imports nothing of ours above the kernel.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Future

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from tickwatch.errors import KernelError
from tickwatch.settings import KafkaSettings


class TopicAdminError(KernelError):
    """Kafka refused a topic request or did not answer in time; the message names the topic."""


def record_topic_names(kafka: KafkaSettings) -> dict[str, str]:
    """The Kafka topic each record type (by its wire name) is written to."""
    return {
        "trade": kafka.topic_trades,
        "quote": kafka.topic_quotes,
        "bar": kafka.topic_bars,
        "correction": kafka.topic_corrections,
    }


def pipeline_topics(kafka: KafkaSettings) -> list[str]:
    """Every topic the pipeline uses: the record topics, then the dead-letter queue."""
    return [*record_topic_names(kafka).values(), kafka.topic_dlq]


def create_pipeline_topics(
    kafka: KafkaSettings,
    bootstrap: str,
    *,
    replication_factor: int | None = None,
    min_insync_replicas: int | None = None,
    timeout_s: float = 30.0,
) -> list[str]:
    """Create the pipeline's topics that do not exist yet; returns the names actually created.

    Partitions come from ``kafka.partitions``, replication from ``replication_factor`` or else
    ``kafka.replication_factor``; ``min.insync.replicas`` from ``min_insync_replicas`` or else
    ``kafka.min_insync_replicas`` (0: the broker's default). Topics that already exist are left
    as they are. Blocks up to ``timeout_s`` per request; raises :class:`TopicAdminError` naming
    the topic when Kafka refuses or does not answer.
    """
    if replication_factor is None:
        replication_factor = kafka.replication_factor
    if min_insync_replicas is None:
        min_insync_replicas = kafka.min_insync_replicas
    topic = {"min.insync.replicas": str(min_insync_replicas)} if min_insync_replicas else {}
    config = kafka.client_config(bootstrap)
    names = pipeline_topics(kafka)
    return create_topics(
        config, names, kafka.partitions, replication_factor, timeout_s, topic_config=topic
    )


def _admin(config: dict[str, str]) -> AdminClient:
    return AdminClient({**config, "log_level": 3})


def create_topics(
    config: dict[str, str],
    names: Iterable[str],
    partitions: int,
    replication_factor: int = 1,
    timeout_s: float = 30.0,
    *,
    topic_config: dict[str, str] | None = None,
) -> list[str]:
    """Create the topics that do not exist yet; returns the names actually created.

    ``config`` is a librdkafka client configuration (``KafkaSettings.client_config``);
    ``topic_config`` the new topics' own settings (``min.insync.replicas``). Blocks up to
    ``timeout_s`` per request. Raises :class:`TopicAdminError` naming the topic that failed.
    """
    admin = _admin(config)
    topic = topic_config or {}
    new = [
        NewTopic(name, partitions, replication_factor, config=topic)
        for name in dict.fromkeys(names)
    ]
    if not new:
        return []
    futures = admin.create_topics(new, operation_timeout=timeout_s, request_timeout=timeout_s)
    return _wait(futures, "creating", KafkaError.TOPIC_ALREADY_EXISTS, timeout_s)


def delete_topics(config: dict[str, str], names: Iterable[str], timeout_s: float = 30.0) -> None:
    """Delete the topics; missing ones are ignored. Blocks up to ``timeout_s`` per request.

    Raises :class:`TopicAdminError` naming the topic that could not be deleted.
    """
    targets = list(dict.fromkeys(names))
    if not targets:
        return
    admin = _admin(config)  # must outlive the futures, or they fail with _DESTROY
    futures = admin.delete_topics(targets, operation_timeout=timeout_s, request_timeout=timeout_s)
    _wait(futures, "deleting", KafkaError.UNKNOWN_TOPIC_OR_PART, timeout_s)


def _wait(futures: dict[str, Future[None]], doing: str, no_op: int, timeout_s: float) -> list[str]:
    """Wait for each topic's admin request; returns the topics it changed.

    An error with code ``no_op`` (already exists, already gone) means there was nothing to do;
    any other error, or no answer within ``timeout_s``, raises :class:`TopicAdminError`.
    """
    changed: list[str] = []
    for name, future in futures.items():
        try:
            future.result(timeout=timeout_s)
        except TimeoutError:
            raise TopicAdminError(
                f"{doing} Kafka topic {name!r}: no answer within {timeout_s:g}s"
            ) from None
        except KafkaException as exc:
            if exc.args[0].code() != no_op:
                raise TopicAdminError(f"{doing} Kafka topic {name!r} failed: {exc}") from exc
        else:
            changed.append(name)
    return changed


def existing_topics(config: dict[str, str], timeout_s: float = 10.0) -> set[str]:
    """Names of the topics the cluster reports (internal ones included). Blocks up to timeout."""
    try:
        admin = _admin(config)
        metadata = admin.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        raise TopicAdminError(f"listing Kafka topics failed: {exc}") from exc
    return set(metadata.topics)
