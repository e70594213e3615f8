"""Create and delete Kafka topics with the admin client, waiting (bounded) for the outcome."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Future

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from tickwatch.stack.errors import StackError


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
    ``timeout_s`` per request. Raises :class:`StackError` naming the topic that failed.
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

    Raises :class:`StackError` naming the topic that could not be deleted.
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
    any other error, or no answer within ``timeout_s``, raises :class:`StackError`.
    """
    changed: list[str] = []
    for name, future in futures.items():
        try:
            future.result(timeout=timeout_s)
        except TimeoutError:
            raise StackError(
                f"{doing} Kafka topic {name!r}: no answer within {timeout_s:g}s"
            ) from None
        except KafkaException as exc:
            if exc.args[0].code() != no_op:
                raise StackError(f"{doing} Kafka topic {name!r} failed: {exc}") from exc
        else:
            changed.append(name)
    return changed


def existing_topics(config: dict[str, str], timeout_s: float = 10.0) -> set[str]:
    """Names of the topics the cluster reports (internal ones included). Blocks up to timeout."""
    try:
        admin = _admin(config)
        metadata = admin.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        raise StackError(f"listing Kafka topics failed: {exc}") from exc
    return set(metadata.topics)
