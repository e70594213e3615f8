"""Groups: one INSERT per table carrying several partitions' ranges, and its recorded intent.

A *group* of a topic is a set of per-partition ranges ``[first_p, last_p]`` (members, sorted by
partition) inserted as one block with the token :func:`group_token`,
``<topic>:g:<p>:<first>-<last>,<p>:<first>-<last>,...`` — a function of the ranges only. Its
intent is recorded, in ONE commit call, on every member ``p``: offset ``first_p`` with the
metadata :func:`group_metadata`, ``tickwatch:v2:g=<p>:<first>-<last>,...`` naming the whole
group. Kafka refuses metadata of ``offset.metadata.max.bytes`` (default 4096) characters or more
— measured on the harness broker (Kafka 4): 4,095 accepted, 4,096 refused — so
:func:`split_members` caps how many partitions one group may hold.

The states of a member ``m`` of a recorded group ``G``, seen through ``consumer.committed()``
(which answers for partitions the caller does not own), :func:`member_state`:

* ``INTENT`` — committed offset ``first_m`` with ``G``'s metadata;
* ``FRESH`` — committed offset ``first_m`` with no intent at all (a plain "done" commit of the
  batch before), or nothing committed: nothing from ``first_m`` on is recorded, so none of it
  is in ClickHouse;
* ``PAST`` — committed offset ``> last_m``: the member moved past ``G``;
* ``CONFLICT`` — anything else (behind ``first_m``, inside the range, another intent at
  ``first_m``).

The protocol that makes this decidable (:func:`resolve`):

1. A group's intent is committed only when every member is ``FRESH`` at ``first_m`` (its previous
   batch's "done" commit was confirmed), and nothing is inserted unless every member's intent
   succeeded in that same call. A failed commit leaves a member's record unchanged, so after a
   partial intent every member is ``INTENT`` or ``FRESH``. The worker retries *the same* group
   (same ranges, same metadata) while it owns the members.
2. ``G``'s rows leave ``FRESH``/``INTENT`` only through ``G``'s own token: an owner moves member
   ``m`` past ``last_m`` only after ``G`` (re-formed exactly) is inserted. Whoever is assigned a
   partition reads the records of *every* partition of its topics and treats each group that
   names one of its partitions and is not ``PAST`` there as its recovery group, even when the
   record sits on a partition another member owns.
3. Hence every reachable state of ``G``'s members is ``INTENT``, ``FRESH`` or ``PAST``, and in it
   inserting ``G`` (again) is right: if ``G`` was inserted, ClickHouse drops the block (same
   token, in the table and, with ``deduplicate_blocks_in_dependent_materialized_views``, in the
   views); if it was not, no member's rows are in ClickHouse under any other token (``INTENT``
   and ``FRESH`` members never inserted from ``first_m``; a ``PAST`` member got there through
   ``G``). :func:`resolve` answers ``REFORM``. ``CONFLICT`` is reachable only when offsets are
   moved from outside (an operator's reset): :func:`resolve` answers ``VOID`` and the members are
   re-formed freely, the same rule as an offset reset today (:mod:`pipeline.load.gaps`).

Rule 2's "an owner moves member ``m``" assumes the eager rebalance protocol: a revoke takes
every partition of a member at once, so a group in flight with a revoked member is dropped whole
and none of its members stays owned with batches that reference it
(:func:`pipeline.load.worker.check_eager_rebalance` refuses a cooperative assignor or the
incremental group protocol at start-up; a partial revoke is fatal). A member of a recorded group
is positioned at its recorded ``first`` when assigned, whatever ``auto.offset.reset`` says
(``INTENT``/``FRESH`` both mean nothing from ``first_m`` on is done).

This is stronger than "valid iff every member is ``INTENT`` or ``PAST``, else void": that rule
voids a partial intent while the ``INTENT`` member's record stays behind; when the ``FRESH``
member's owner (unaware of ``G``) inserts its rows under another token and moves past
``last_m``, a later resolver of the ``INTENT`` member sees only ``INTENT``/``PAST`` and inserts
``G``: those rows twice. Rolling a partial intent forward (never voiding it) avoids that.

Bisection of a group: a piece's token names the (partition, offset) of its first and last row
(:func:`piece_token`) — offsets alone repeat across partitions (``p0 100..199`` and
``p1 100..199``), and two pieces with one token would make ClickHouse drop the second.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

GROUP_PREFIX = "tickwatch:v2:g="
METADATA_MAX_BYTES = 4096  # Kafka's offset.metadata.max.bytes default


class GroupError(ValueError):
    """A group that cannot be formed or recorded; the message names the member and the limit."""


@dataclass(frozen=True, slots=True, order=True)
class MemberRange:
    """One member of a group: partition ``partition``, offsets ``[first, last]``."""

    partition: int
    first: int
    last: int

    def text(self) -> str:
        return f"{self.partition}:{self.first}-{self.last}"


def _ranges_text(members: Iterable[MemberRange]) -> str:
    return ",".join(m.text() for m in sorted(members))


def group_token(topic: str, members: Iterable[MemberRange]) -> str:
    """``<topic>:g:<p>:<first>-<last>,...``, members by partition: the insert token."""
    return f"{topic}:g:{_ranges_text(members)}"


def group_metadata(members: Iterable[MemberRange]) -> str:
    """``tickwatch:v2:g=<p>:<first>-<last>,...``: the intent committed on every member."""
    return GROUP_PREFIX + _ranges_text(members)


def piece_token(token: str, first: tuple[int, int], last: tuple[int, int]) -> str:
    """``<token>/<p>:<offset>-<p>:<offset>``: a bisected piece's token from the (partition,
    offset) of its first and last row, unique within the group."""
    return f"{token}/{first[0]}:{first[1]}-{last[0]}:{last[1]}"


def parse_group(metadata: str | None) -> tuple[MemberRange, ...] | None:
    """The members recorded in commit ``metadata``, or None if it records no (valid) group."""
    if not metadata or not metadata.startswith(GROUP_PREFIX):
        return None
    members = []
    for part in metadata.removeprefix(GROUP_PREFIX).split(","):
        partition, _, span = part.partition(":")
        first, _, last = span.partition("-")
        if not (partition.isdigit() and first.isdigit() and last.isdigit()):
            return None
        members.append(MemberRange(int(partition), int(first), int(last)))
    if len({m.partition for m in members}) != len(members):
        return None
    if any(m.last < m.first for m in members):
        return None
    return tuple(sorted(members))


def split_members(
    members: Sequence[MemberRange], max_bytes: int = METADATA_MAX_BYTES
) -> list[list[MemberRange]]:
    """Members (by partition) cut into consecutive groups whose metadata stays below
    ``max_bytes`` (the broker refuses a string of that length).

    Raises :class:`GroupError` when a single member's metadata does not fit (a limit that
    small cannot record any batch)."""
    groups: list[list[MemberRange]] = []
    size = 0
    for member in sorted(members):
        alone = len(GROUP_PREFIX) + len(member.text())
        if alone >= max_bytes:
            raise GroupError(
                f"the intent of partition {member.partition} ({alone} bytes) exceeds "
                f"offset.metadata.max.bytes = {max_bytes}"
            )
        if groups and size + 1 + len(member.text()) < max_bytes:
            groups[-1].append(member)
            size += 1 + len(member.text())
        else:
            groups.append([member])
            size = alone
    return groups


class MemberState(enum.Enum):
    INTENT = "intent"
    FRESH = "fresh"
    PAST = "past"
    CONFLICT = "conflict"


class Resolution(enum.Enum):
    REFORM = "reform"  # re-form exactly and insert with the group's token
    VOID = "void"  # never inserted and cannot be: re-form the members freely


def member_state(
    member: MemberRange,
    members: Sequence[MemberRange],
    committed: tuple[int, str | None] | None,
    is_intent: bool,
) -> MemberState:
    """The state of ``member`` of the group ``members`` given its committed (offset, metadata)
    (None: nothing committed); ``is_intent`` tells whether that metadata records any intent
    (a v1 or v2 record)."""
    if committed is None:  # nothing ever committed: nothing of it can be in ClickHouse
        return MemberState.FRESH
    offset, metadata = committed
    if offset > member.last:
        return MemberState.PAST
    if offset != member.first:
        return MemberState.CONFLICT
    recorded = parse_group(metadata)
    if recorded is not None and recorded == tuple(sorted(members)):
        return MemberState.INTENT
    return MemberState.CONFLICT if is_intent else MemberState.FRESH


def resolve(
    members: Sequence[MemberRange],
    committed: Mapping[int, tuple[int, str | None]],
    is_intent: Mapping[int, bool],
) -> Resolution:
    """What to do with the recorded group ``members`` (see the module docstring), from every
    member's committed record (partition -> (offset, metadata)) and whether it is an intent."""
    states = [
        member_state(m, members, committed.get(m.partition), is_intent.get(m.partition, False))
        for m in members
    ]
    return Resolution.VOID if MemberState.CONFLICT in states else Resolution.REFORM


V1_PREFIX = "tickwatch:v1:end="  # pipeline.load.commit's per-partition intent


def is_intent(metadata: str | None) -> bool:
    """Whether commit ``metadata`` records an intent (a per-partition v1 one or a group's)."""
    return bool(metadata) and (
        str(metadata).startswith(V1_PREFIX) or str(metadata).startswith(GROUP_PREFIX)
    )


Record = tuple[int, str | None]  # a committed (offset, metadata)


@dataclass(frozen=True, slots=True)
class Recovery:
    """An assigned partition's part in a recorded group to re-form: its member and the group."""

    member: MemberRange
    group: tuple[MemberRange, ...]


def recorded_groups(records: Mapping[int, Record]) -> set[tuple[MemberRange, ...]]:
    """The groups recorded on a topic's partitions (partition -> committed record)."""
    found = set()
    for partition, (offset, metadata) in records.items():
        members = parse_group(metadata)
        if members and any(m.partition == partition and m.first == offset for m in members):
            found.add(members)
    return found


def recoveries(records: Mapping[int, Record], assigned: Iterable[int]) -> dict[int, Recovery]:
    """For each assigned partition of a topic, the recorded group it must re-form (rule 2 of
    the module docstring): a group that names it, resolves to ``REFORM`` and in which it is
    ``INTENT`` or ``FRESH`` (not ``PAST``). ``records`` must hold every partition the groups
    name that has a committed offset (a missing one counts as nothing committed)."""
    committed = dict(records)
    intents = {p: is_intent(meta) for p, (_, meta) in committed.items()}
    plans: dict[int, Recovery] = {}
    wanted = set(assigned)
    for group in sorted(recorded_groups(committed)):
        if resolve(group, committed, intents) is not Resolution.REFORM:
            continue
        for member in group:
            if member.partition not in wanted or member.partition in plans:
                continue
            state = member_state(member, group, committed.get(member.partition),
                                 intents.get(member.partition, False))  # fmt: skip
            if state in (MemberState.INTENT, MemberState.FRESH):
                plans[member.partition] = Recovery(member, group)
    return plans
