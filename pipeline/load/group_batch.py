"""A group as one insertable batch: its members' rows, in member order, under the group token.

:class:`GroupBatch` is what the insert step receives for a group (:mod:`pipeline.load.group`):
the members' rows concatenated by partition, each member's rows in offset order — the same rows
in the same order whoever forms the group from the same ranges, so the bisection's pieces and
their tokens (:meth:`GroupBatch.piece_token`, by (partition, offset)) are the same on a replay.
The members stay in the :class:`~pipeline.load.batch.Batcher`; the group only references them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from pipeline.load.batch import Batch
from pipeline.load.group import MemberRange, group_token, piece_token
from pipeline.load.memory import index_rows
from pipeline.load.tables import ColumnBuffer


class GroupRows(ColumnBuffer):
    """Concatenated member rows with the Kafka partition of every row."""

    def __init__(self, members: Sequence[Batch]) -> None:
        super().__init__(members[0].kind)
        self.partitions: list[int] = []
        for member in members:
            self.extend(member.rows)
            self.partitions.extend([member.partition] * len(member.rows))

    def columns(
        self, partition: int, inserted_at_us: int, lo: int = 0, hi: int | None = None
    ) -> list[list[Any]]:
        """As :meth:`ColumnBuffer.columns`, with each row's own partition (``partition`` is
        ignored)."""
        data = super().columns(partition, inserted_at_us, lo, hi)
        data[-2] = self.partitions[lo:hi]  # kafka_partition (KAFKA_COLUMNS order)
        return data

    def arrow(
        self, partition: int, inserted_at_us: int, lo: int = 0, hi: int | None = None
    ) -> pa.Table:
        """As :meth:`ColumnBuffer.arrow`, with each row's own partition (``partition`` is
        ignored)."""
        table = super().arrow(partition, inserted_at_us, lo, hi)
        at = table.schema.get_field_index("kafka_partition")
        own = pa.array(self.partitions[lo:hi], pa.int64())
        return table.set_column(at, "kafka_partition", own)


class GroupBatch(Batch):
    """The members of one group (one topic, one shard) as one batch; ``partition`` is the
    first member's (the shard router's key: every member maps to the same shard)."""

    def __init__(self, members: Sequence[Batch], ranges: Sequence[MemberRange]) -> None:
        ordered = sorted(members, key=lambda b: b.partition)
        head = ordered[0]
        super().__init__(head.topic, head.partition, head.kind, head.first_offset, head.opened_at)
        self.last_offset = head.last_offset
        self.members = ordered
        self.ranges = tuple(sorted(ranges))
        self.rows = GroupRows(ordered)
        self.dead_letters = [letter for b in ordered for letter in b.dead_letters]
        self.intent_recorded = False  # every member's intent landed in one commit call
        # The members this worker owns: it commits "done" for these only (a recovered group's
        # other members were read with the side consumer, pipeline.load.ranges).
        self.owned: list[Batch] = list(ordered)

    def token(self) -> str:
        return group_token(self.topic, self.ranges)

    def held_rows(self) -> int:
        """The pending rows this group holds beyond its owned members' (which the batcher
        counts): the side-read members' rows and dead letters, and the group's own index of
        every row (:mod:`pipeline.load.memory`); the Arrow chunks are shared, not counted."""
        side = sum(m.size for m in self.members if not any(m is o for o in self.owned))
        return side + index_rows(len(self.rows), self.kind)

    def row_partition(self, index: int) -> int:
        assert isinstance(self.rows, GroupRows)
        return self.rows.partitions[index]

    def piece_token(self, lo: int, hi: int) -> str:
        offsets = self.rows.offsets
        first = (self.row_partition(lo), offsets[lo])
        return piece_token(self.token(), first, (self.row_partition(hi - 1), offsets[hi - 1]))


def member_ranges(members: Sequence[Batch]) -> list[MemberRange]:
    return sorted(MemberRange(b.partition, b.first_offset, b.last_offset) for b in members)
